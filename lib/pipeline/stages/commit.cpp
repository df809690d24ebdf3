// SPDX-License-Identifier: Apache-2.0
// Stage commit: put the key file, the image and the report at their final
// paths -- all or none. Everything before this stage worked on temporaries.
#include "lib/manifest/values.hpp"
#include "lib/pipeline/agent_install.hpp"
#include "lib/pipeline/progress.hpp"
#include "lib/pipeline/report.hpp"
#include "lib/pipeline/stages.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/log.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <set>
#include <vector>

namespace cvm::pipeline::stages {

namespace {

// Renames `from` to `to`; without overwrite, an existing `to` is an error
// (link + unlink never replaces, unlike rename).
void
place(const std::filesystem::path &from, const std::filesystem::path &to, Overwrite overwrite) {
  if (overwrite == Overwrite::yes) {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      throw Error(ErrorKind::io, "rename {} -> {}: {}", from.string(), to.string(), fs::errno_text(errno));
    }
    return;
  }
  if (::link(from.c_str(), to.c_str()) != 0) {
    const int err = errno;
    throw Error(err == EEXIST ? ErrorKind::exists : ErrorKind::io,
                "cannot create {}: {}",
                to.string(),
                err == EEXIST ? "it appeared during the build" : fs::errno_text(err));
  }
  ::unlink(from.c_str());
}

// Removes what this stage created if a later step fails.
class Rollback {
public:
  void
  add(std::filesystem::path p) {
    m_paths.push_back(std::move(p));
  }
  void
  release() noexcept {
    m_paths.clear();
  }
  Rollback() = default;
  Rollback(const Rollback &) = delete;
  Rollback &operator=(const Rollback &) = delete;
  Rollback(Rollback &&) = delete;
  Rollback &operator=(Rollback &&) = delete;
  ~Rollback() {
    for (const auto &p : m_paths) {
      ::unlink(p.c_str());
    }
  }

private:
  std::vector<std::filesystem::path> m_paths;
};

void
commit(BuildContext &ctx) {
  const auto &m = ctx.manifest;
  CommitFacts facts;
  const auto no_replace = ctx.options.overwrite == Overwrite::yes ? fs::AtomicFile::NoReplace::no
                                                                  : fs::AtomicFile::NoReplace::yes;
  const std::uint64_t allocated = allocated_bytes(ctx.output_tmp);
  const std::uint64_t base_used =
      ctx.facts.root_used_bytes + (ctx.facts.boot_device ? ctx.content.boot_used : 0);
  // Content the build adds by design counts as content: the UKI is a second
  // copy of kernel and initramfs (tens of MiB) that no layout can avoid.
  const std::uint64_t added = ctx.uki ? ctx.uki->size : 0;
  const std::uint64_t content = base_used + added;
  const double ratio = content == 0 ? 0.0 : static_cast<double>(allocated) / static_cast<double>(content);
  facts.allocated_bytes = allocated;
  facts.base_used_bytes = base_used;
  facts.added_content_bytes = added;
  log::info("  {} allocated for {} of base content{} (x{:.3f})",
            manifest::values::format_size(allocated),
            manifest::values::format_size(base_used),
            added == 0 ? std::string() : fmt::format(" + {} UKI", manifest::values::format_size(added)),
            ratio);

  // The resource policy first: if it cannot pin the image (no reference
  // values, no predicted RTMR) the build fails here, with nothing written.
  const bool kbs_files = ctx.agent.has_value();
  std::string resource_policy;
  if (kbs_files) {
    // RTMR0-2 by default, and whatever else the binding verdict relies on.
    std::set<int> rtmrs(agent::k_default_pinned_rtmrs.begin(), agent::k_default_pinned_rtmrs.end());
    if (ctx.binding) {
      for (const auto r : ctx.binding->rtmrs) {
        rtmrs.insert(static_cast<int>(r));
      }
    }
    const std::vector<int> rtmr_list(rtmrs.begin(), rtmrs.end());
    std::optional<agent::PolicyPins> pins;
    if (!ctx.reference_values.empty()) {
      pins = agent::policy_pins(nlohmann::json::parse(ctx.reference_values, nullptr, false), rtmr_list);
    }
    resource_policy = agent::resource_policy(m, pins);
    if (m.attestation.tee == manifest::Tee::tdx && ctx.binding && !ctx.binding->bound()) {
      // attestation.insecure_allow_unbound: say so where the KBS operator looks.
      std::string summary = measure::unbound_summary(*ctx.binding);
      std::replace(summary.begin(), summary.end(), '\n', ' ');
      resource_policy =
          fmt::format("# NOT BOUND (attestation.insecure_allow_unbound): {}\n{}", summary, resource_policy);
    }
    if (m.attestation.tee == manifest::Tee::tdx && pins) {
      for (const auto &[i, why] : pins->not_pinned) {
        log::warning("the resource policy does not pin RTMR{}: {}", i, why);
      }
      facts.policy_pins = std::move(pins);
    }
  }

  Rollback rollback;
  {
    fs::AtomicFile key(m.output.key_file, 0600, no_replace);
    key.write(ctx.unlock_key.span());
    key.commit();
    rollback.add(m.output.key_file);
  }
  if (m.luks.recovery.enabled && !m.luks.recovery.passphrase_file) {
    facts.recovery_file = m.output.path.string() + ".recovery";
    fs::AtomicFile rec(*facts.recovery_file, 0600, no_replace);
    rec.write(ctx.recovery_passphrase.span());
    rec.write(std::string_view("\n"));
    rec.commit();
    rollback.add(*facts.recovery_file);
  }
  if (m.boot.mode == manifest::BootMode::direct) {
    for (const char *name : {"vmlinuz", "initrd.img", "cmdline"}) {
      const std::filesystem::path to = m.output.path.string() + "." + name;
      fs::write_file_atomic(to, fs::read_file(ctx.artifacts_dir / name), 0644, no_replace);
      rollback.add(to);
      facts.direct_boot.emplace_back(name, to);
    }
  }

  // Data volumes: each key file, then each disk. Their keys are KBS
  // resources like the image's, uploaded from these files.
  for (VolumeBuild &vb : ctx.volumes) {
    const manifest::Volume &v = *vb.spec;
    fs::AtomicFile key(v.key_file, 0600, no_replace);
    key.write(vb.unlock_key.span());
    key.commit();
    rollback.add(v.key_file);
  }
  for (VolumeBuild &vb : ctx.volumes) {
    vb.allocated_bytes = allocated_bytes(vb.output_tmp);
    place(vb.output_tmp, vb.spec->output, ctx.options.overwrite);
    rollback.add(vb.spec->output);
  }

  if (kbs_files) {
    // What the key broker needs: the resource path and the key file to upload.
    const std::filesystem::path kbs = m.output.path.string() + ".kbs.json";
    fs::write_file_atomic(kbs, ctx.agent->kbs.dump(2) + "\n", 0644, no_replace);
    rollback.add(kbs);
    const auto policy = agent::resource_policy_path(m);
    fs::write_file_atomic(policy, resource_policy, 0644, no_replace);
    rollback.add(policy);
  }
  if (!ctx.reference_values.empty()) {
    fs::write_file_atomic(m.output.reference_values, ctx.reference_values, 0644, no_replace);
    rollback.add(m.output.reference_values);
  }
  place(ctx.output_tmp, m.output.path, ctx.options.overwrite);
  rollback.add(m.output.path);
  // The report last, from everything the stages (this one included) recorded.
  ctx.commit_facts = std::move(facts);
  ctx.report = build_report(ctx);
  fs::write_file_atomic(m.output.report, ctx.report.dump(2) + "\n", 0644, no_replace);
  rollback.release();
  ctx.committed = true;
}

} // namespace

} // namespace cvm::pipeline::stages

namespace cvm::plan {

// This stage's entry in lib/plan/stages.hpp.
void
Commit::run(pipeline::BuildContext &ctx) {
  pipeline::stages::commit(ctx);
}

} // namespace cvm::plan
