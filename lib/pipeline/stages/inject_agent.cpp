// SPDX-License-Identifier: Apache-2.0
// Stage inject-agent: the attestation agent and its initramfs integration,
// written into the new root (mounted at k_dst since copy-root). The header
// policy pins the FINAL LUKS2 header (format-luks made it; close-image writes
// it to the disk), so the agent refuses any other header at boot.
#include "lib/luks/header.hpp"
#include "lib/luks/policy.hpp"
#include "lib/pipeline/agent_install.hpp"
#include "lib/pipeline/stages.hpp"
#include "lib/util/error.hpp"
#include "lib/util/hex.hpp"
#include "lib/util/log.hpp"

namespace cvm::pipeline::stages {

namespace {

void
inject_agent(BuildContext &ctx) {
  const auto &m = ctx.manifest;
  require_mounts(ctx, OutputMounts::copy, "inject-agent");
  const auto flavour = agent::flavour_for(m.attestation);
  const auto bundle = agent::find_bundle(ctx.options.agent_dir, flavour);
  if (flavour.insecure_test) {
    log::warning(
        "INSECURE-TEST image: the {} agent (sample evidence) unlocks it without hardware attestation",
        flavour.name);
  }
  if (ctx.final_header.empty()) {
    throw Error(ErrorKind::internal, "inject-agent runs before format-luks made the final header");
  }
  const auto policy = luks::derive_policy(luks::read_header(ctx.final_header));
  if (policy.uuid != ctx.luks_uuid) {
    throw Error(ErrorKind::internal,
                "final header UUID {} is not the build's LUKS UUID {}",
                policy.uuid,
                ctx.luks_uuid);
  }
  const auto templates = agent::templates_for(ctx.initramfs_backend, m, flavour, ctx.luks_uuid);
  std::vector<agent::VolumeAgent> volumes;
  for (const VolumeBuild &vb : ctx.volumes) {
    if (vb.header_policy_json.empty()) {
      throw Error(
          ErrorKind::internal, "inject-agent runs before make-volumes pinned volume {}", vb.spec->name);
    }
    volumes.push_back({vb.spec, vb.luks_uuid, vb.header_policy_json});
  }
  agent::install(*ctx.guest,
                 k_dst,
                 bundle,
                 flavour,
                 templates,
                 agent::agent_config_json(m, ctx.luks_uuid, ctx.unlock_key.size(), volumes),
                 luks::policy_to_json(policy),
                 m.attestation.ca_cert,
                 volumes);
  log::info("  {} from {}, header policy pins LUKS {}", flavour.name, bundle.string(), ctx.luks_uuid);
  for (const auto &va : volumes) {
    log::info(
        "  data volume {}: LUKS {}, resource {}", va.volume->name, va.luks_uuid, va.volume->resource_path);
  }

  InstalledAgent installed{
      flavour.name, bundle, flavour.insecure_test, agent::kbs_info(m, flavour), {}, false};
  for (const auto &t : templates) {
    installed.initramfs_files.push_back(t.destination);
  }
  if (ctx.binding && !ctx.binding->bound()) {
    // Marked in the image too, as INSECURE-TEST is: whoever finds the image
    // later learns that its key was not bound to its boot chain.
    ctx.guest->write(
        std::string(k_dst) + "/etc/cvmforge/NOT-BOUND",
        as_bytes(std::string_view("NOT BOUND: the build's binding verdict left inputs the host controls "
                                  "unmeasured or unpinned (report: binding). A host could run code of "
                                  "its choosing that attests like this image and obtain its key.\n")));
    installed.not_bound_marker = true;
  }
  ctx.agent = std::move(installed);
}

} // namespace

} // namespace cvm::pipeline::stages

namespace cvm::plan {

// This stage's entry in lib/plan/stages.hpp.
void
InjectAgent::run(pipeline::BuildContext &ctx) {
  pipeline::stages::inject_agent(ctx);
}

} // namespace cvm::plan
