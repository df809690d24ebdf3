// SPDX-License-Identifier: Apache-2.0
// The build report, section by section, each from what one stage recorded
// in the build context.
#include "lib/pipeline/report.hpp"

#include "lib/luks/luks_volume.hpp"
#include "lib/pipeline/agent_install.hpp"
#include "lib/pipeline/reproducibility.hpp"
#include "lib/util/hex.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <string>

namespace cvm::pipeline {

namespace {

using Json = nlohmann::ordered_json;

double
tenths(double v) {
  return std::round(v * 10.0) / 10.0;
}

Json
digests_json(const FileDigests &d) {
  return {{"size", d.size}, {"sha256", d.sha256}, {"sha384", d.sha384}};
}

// check-inputs and inspect-base.
Json
base_json(const BuildContext &ctx) {
  const auto &m = ctx.manifest;
  Json base = Json::object();
  if (ctx.base_file) {
    base["path"] = m.base.path.string();
    base["format"] = ctx.base_file->format;
    base["sha256"] = ctx.base_file->sha256;
  }
  const auto &f = ctx.facts;
  if (f.root_device.empty()) { // not inspected yet
    return base;
  }
  std::vector<std::string> kernels;
  for (const auto &k : f.kernels) {
    kernels.push_back(k.version);
  }
  base["os"] = {{"distro", f.distro},
                {"version", fmt::format("{}.{}", f.major_version, f.minor_version)},
                {"product_name", f.product_name}};
  base["root"] = {{"device", f.root_device},
                  {"fs_type", f.root_fs_type},
                  {"uuid", f.root_uuid},
                  {"used_bytes", f.root_used_bytes}};
  base["separate_boot"] = f.boot_device.has_value();
  base["content_bytes"] = {
      {"root", ctx.content.root_used}, {"boot", ctx.content.boot_used}, {"esp", ctx.content.esp_used}};
  base["kernels"] = kernels;
  base["initramfs"] = {{"generator", manifest::to_string(f.initramfs_generator)},
                       {"reason", f.initramfs_reason}};
  base["bootloader"] = baseimage::to_string(f.bootloader);
  base["efi_binaries"] = f.efi_binaries;
  return base;
}

Json
binding_json(const BuildContext &ctx) {
  auto j = measure::to_json(*ctx.binding);
  j["insecure_allow_unbound"] = ctx.manifest.attestation.insecure_allow_unbound;
  if (!ctx.binding->bound()) {
    j["marker"] = "NOT BOUND";
  }
  return j;
}

// create-output, and what commit measured and published.
Json
output_json(const BuildContext &ctx) {
  const auto &m = ctx.manifest;
  Json out = {{"path", m.output.path.string()},
              {"format", manifest::to_string(m.output.format)},
              {"virtual_size", ctx.layout.disk_size}};
  if (!ctx.commit_facts) {
    return out;
  }
  const auto &c = *ctx.commit_facts;
  const std::uint64_t content = c.base_used_bytes + c.added_content_bytes;
  const double ratio =
      content == 0 ? 0.0 : static_cast<double>(c.allocated_bytes) / static_cast<double>(content);
  out["allocated_bytes"] = c.allocated_bytes;
  out["base_used_bytes"] = c.base_used_bytes;
  out["added_content_bytes"] = c.added_content_bytes;
  out["allocated_to_base_used"] = std::round(ratio * 1000.0) / 1000.0;
  out["key_file"] = m.output.key_file.string();
  out["recovery_file"] = c.recovery_file                   ? Json(c.recovery_file->string())
                         : m.luks.recovery.passphrase_file ? Json(m.luks.recovery.passphrase_file->string())
                                                           : Json(nullptr);
  for (const auto &[name, path] : c.direct_boot) {
    out["direct_boot"][name] = path.string();
  }
  if (!ctx.reference_values.empty()) {
    out["reference_values"] = m.output.reference_values.string();
  }
  return out;
}

Json
partitions_json(const DiskLayout &l) {
  Json parts = Json::array();
  for (const PartitionPlan *p : {&l.esp, &l.boot, &l.root}) {
    parts.push_back({{"number", p->number},
                     {"name", p->name},
                     {"type_guid", p->type_guid},
                     {"start", p->start},
                     {"size", p->size}});
  }
  return parts;
}

// inject-agent, extract-boot-artifacts (the release barrier) and commit
// (the resource policy's pins).
Json
attestation_json(const BuildContext &ctx) {
  const auto &m = ctx.manifest;
  const auto &a = *ctx.agent;
  Json j = {{"agent", a.flavour},
            {"agent_bundle", a.bundle.string()},
            {"insecure_test", a.insecure_test},
            {"tee", manifest::to_string(m.attestation.tee)},
            {"luks_device", agent::luks_device(ctx.luks_uuid)},
            {"header_policy", agent::k_header_policy},
            {"initramfs_files", a.initramfs_files},
            {"kbs", a.kbs}};
  if (ctx.boot_artifacts) {
    // Whether the agent can close the release window (extend RTMR3) depends
    // on the image's kernel, so the build can tell.
    const auto can_extend = agent::kernel_can_extend_rtmr(ctx.boot_artifacts->kernel_version);
    j["rtmr3_release_barrier"] = !can_extend   ? "unknown (kernel version not MAJOR.MINOR)"
                                 : *can_extend ? "available (Linux >= 6.16)"
                                               : "unavailable (Linux < 6.16)";
  }
  if (ctx.commit_facts && ctx.commit_facts->policy_pins) {
    const auto &pins = *ctx.commit_facts->policy_pins;
    auto &r = j["resource_policy"];
    r["mrtd"] = pins.mrtd;
    r["rtmr"] = Json::object();
    for (const auto &[i, value] : pins.rtmr) {
      r["rtmr"][std::to_string(i)] = value;
    }
    r["not_pinned"] = Json::object();
    for (const auto &[i, why] : pins.not_pinned) {
      r["not_pinned"][std::to_string(i)] = why;
    }
  }
  return j;
}

// configure-boot and make-uki.
Json
boot_json(const BuildContext &ctx) {
  Json j = {{"mode", manifest::to_string(ctx.manifest.boot.mode)}};
  if (ctx.crypttab_options) {
    j["kernel_parameters"] = ctx.kernel_parameters;
    j["crypttab_options"] = *ctx.crypttab_options;
  }
  if (ctx.uki) {
    const auto &u = *ctx.uki;
    j["uki"] = {{"path", u.path},
                {"size", u.size},
                {"sha256", u.sha256},
                {"authenticode_sha384", u.authenticode_sha384},
                {"stub", u.stub_version},
                {"kernel_version", u.kernel_version},
                {"cmdline", u.cmdline}};
  }
  return j;
}

Json
measurement_json(const BuildContext &ctx) {
  const auto &p = *ctx.prediction;
  Json j;
  for (std::size_t i = 0; i < p.rtmr.size(); ++i) {
    j["rtmr"][i] = p.rtmr[i] ? Json(to_hex(*p.rtmr[i])) : Json(nullptr);
  }
  j["profile"] = ctx.manifest.measurement.profile;
  j["mrtd"] = {{"single_pass", to_hex(p.mrtd.single_pass)}, {"two_pass", to_hex(p.mrtd.two_pass)}};
  j["events_not_predicted"] = measure::events_not_predicted(p);
  return j;
}

// make-volumes and commit: each data volume, as far as the build got.
Json
volumes_json(const BuildContext &ctx) {
  Json out = Json::array();
  for (const VolumeBuild &vb : ctx.volumes) {
    const manifest::Volume &v = *vb.spec;
    Json j = {{"name", v.name},
              {"kind", manifest::to_string(v.kind)},
              {"path", v.output.string()},
              {"virtual_size", v.size_bytes},
              {"key_file", v.key_file.string()},
              {"resource_path", v.resource_path},
              {"required", v.required},
              {"mount", v.mount},
              {"filesystem", {{"type", manifest::to_string(v.filesystem)}, {"uuid", vb.fs_uuid}}},
              {"mapper_name", v.mapper_name},
              {"luks_device", agent::luks_device(vb.luks_uuid)},
              {"header_policy", agent::volume_header_policy(v.name)},
              {"source", v.source ? Json(v.source->string()) : Json(nullptr)}};
    if (vb.header_info) {
      j["luks"] = luks::header_info_to_json(*vb.header_info);
    }
    if (vb.usage) {
      j["filesystem"]["used_bytes"] = vb.usage->used_bytes;
      j["filesystem"]["size_bytes"] = vb.usage->total_bytes;
      j["seconds"] = tenths(vb.seconds);
    }
    if (ctx.commit_facts) {
      j["allocated_bytes"] = vb.allocated_bytes;
    }
    out.push_back(std::move(j));
  }
  return out;
}

// The stages as the executor ran them, commit included (the report is
// written at its end, so if it exists at all, commit succeeded).
Json
stages_json(const std::vector<StageRecord> &log) {
  Json out = Json::array();
  for (const auto &r : log) {
    if (r.status == StageStatus::skipped) {
      out.push_back({{"name", r.name}, {"status", "skipped"}, {"reason", r.skip_reason}});
    } else if (r.seconds) {
      out.push_back({{"name", r.name}, {"status", "ok"}, {"seconds", *r.seconds}});
    } else {
      out.push_back({{"name", r.name}, {"status", "ok"}});
    }
  }
  return out;
}

} // namespace

nlohmann::ordered_json
build_report(const BuildContext &ctx) {
  const auto &m = ctx.manifest;
  Json r;
  r["cvmforge_version"] = CVM_VERSION;
  r["manifest"] = m.manifest_path.string();
  r["name"] = m.name;
  r["accel"] = ctx.launcher ? ctx.launcher->accelerator() : std::string();
  if (auto base = base_json(ctx); !base.empty()) {
    r["base"] = std::move(base);
  }
  if (ctx.base_file) {
    r["reproducibility"] = reproducibility_report(m, ctx.source_date_epoch);
  }
  if (ctx.binding) {
    r["binding"] = binding_json(ctx);
  }
  if (!ctx.unlock_key.empty()) {
    r["key"] = {{"source", manifest::to_string(m.key.source)}, {"bytes", ctx.unlock_key.size()}};
  }
  if (ctx.layout.disk_size != 0 || ctx.commit_facts) {
    r["output"] = output_json(ctx);
  }
  if (ctx.layout.disk_size != 0) {
    r["partitions"] = partitions_json(ctx.layout);
  }
  if (ctx.final_header_info) {
    r["luks"] = luks::header_info_to_json(*ctx.final_header_info);
  }
  if (ctx.root_usage) {
    r["root_filesystem"] = {{"uuid", ctx.root_fs_uuid},
                            {"used_bytes", ctx.root_usage->used_bytes},
                            {"size_bytes", ctx.root_usage->total_bytes}};
    r["boot_filesystem"] = {{"uuid", ctx.boot_fs_uuid}};
  }
  if (ctx.files_injected) {
    r["files"] = *ctx.files_injected;
  }
  if (!ctx.volumes.empty()) {
    r["volumes"] = volumes_json(ctx);
  }
  if (ctx.agent) {
    r["attestation"] = attestation_json(ctx);
    if (ctx.agent->insecure_test) {
      r["insecure_test_marker"] = "INSECURE-TEST";
    }
    if (ctx.agent->not_bound_marker) {
      r["not_bound_marker"] = "NOT BOUND";
    }
  }
  if (ctx.crypttab_options || ctx.uki) {
    r["boot"] = boot_json(ctx);
  }
  if (ctx.boot_artifacts) {
    Json kernels = Json::array();
    for (const auto &k : ctx.kernels_after) {
      kernels.push_back({{"version", k.version},
                         {"kernel", k.kernel_path},
                         {"initrd", k.initrd_path ? Json(*k.initrd_path) : Json(nullptr)}});
    }
    r["kernels"] = kernels;
    const auto &b = *ctx.boot_artifacts;
    r["boot_artifacts"] = {{"kernel_version", b.kernel_version},
                           {"kernel", digests_json(b.kernel)},
                           {"initrd", digests_json(b.initrd)},
                           {"cmdline", b.cmdline}};
  }
  if (ctx.prediction) {
    r["measurement"] = measurement_json(ctx);
  }
  if (!ctx.stage_log.empty()) {
    r["stages"] = stages_json(ctx.stage_log);
  }
  r["seconds"] =
      tenths(std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx.started).count());
  r["insecure_test"] = m.attestation.enabled && m.attestation.tee == manifest::Tee::sample;
  return r;
}

} // namespace cvm::pipeline
