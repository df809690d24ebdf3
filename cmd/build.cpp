// SPDX-License-Identifier: Apache-2.0
// cvmforge build MANIFEST: convert the base image into a LUKS2-encrypted
// confidential-VM image.
#include "cmd/app.hpp"
#include "cmd/manifest_args.hpp"
#include "lib/util/error.hpp"

#ifdef CVM_WITH_IMAGE
#include "lib/pipeline/build.hpp"
#endif

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <cstdio>

namespace cvm::cli {

namespace {

struct BuildArgs {
  std::string manifest;
  bool force = false;
  bool keep_failed = false;
};

int
run_build(const BuildArgs &a, const GlobalOptions &g) {
#ifdef CVM_WITH_IMAGE
  const auto plan = plan::make_plan(load_manifest_or_throw(a.manifest));
  pipeline::BuildOptions o;
  o.overwrite = a.force ? pipeline::Overwrite::yes : pipeline::Overwrite::no;
  o.keep_failed = a.keep_failed ? pipeline::KeepFailed::yes : pipeline::KeepFailed::no;
  if (g.json) {
    // One JSON object per line on stdout as the build progresses.
    o.on_event = [](const nlohmann::ordered_json &event) {
      fmt::print("{}\n", event.dump());
      (void)std::fflush(stdout); // a failing stdout shows at the next print
    };
  }
  const auto result = pipeline::run_build(plan, o);
  if (g.json) {
    fmt::print("{}\n", nlohmann::ordered_json{{"event", "result"}, {"report", result.report_json}}.dump());
  } else if (!g.quiet) {
    fmt::print("image:   {}\nkey:     {} (upload it to your key broker; keep it secret)\nreport:  {}\n",
               result.output.string(),
               result.key_file.string(),
               result.report.string());
    const auto &out = result.report_json["output"];
    if (out.contains("recovery_file") && !out["recovery_file"].is_null()) {
      fmt::print("recovery passphrase: {} (keep it offline)\n", out["recovery_file"].get<std::string>());
    }
  }
  return 0;
#else
  (void)a;
  (void)g;
  throw Error(ErrorKind::usage, "this cvmforge was built without the image pipeline (CVM_WITH_IMAGE=OFF)");
#endif
}

} // namespace

void
register_build(CLI::App &app, const GlobalOptions &global, const std::shared_ptr<Action> &action) {
  auto args = std::make_shared<BuildArgs>();
  CLI::App *sub = app.add_subcommand(
      "build", "Make the LUKS2-encrypted confidential-VM image, its key file and report (no root)");
  sub->add_option("manifest", args->manifest, "Manifest file")->required()->type_name("MANIFEST");
  sub->add_flag("--force", args->force, "Replace an existing output image, key file and report");
  sub->add_flag(
      "--keep-failed", args->keep_failed, "Keep the partial image and scratch files when the build fails");
  sub->footer(
      "Environment: LIBGUESTFS_* as documented by libguestfs; CVM_ACCEL=kvm|tcg overrides the KVM probe;\n"
      "CVM_LAUNCH_TIMEOUT bounds an appliance launch (seconds, default 300); TMPDIR for scratch files.\n"
      "Secrets (disk key, recovery passphrase) go only to their 0600 files.");
  sub->callback(
      [args, &global, action]() { *action = [args, &global]() { return run_build(*args, global); }; });
}

} // namespace cvm::cli
