// SPDX-License-Identifier: Apache-2.0
// Stage measure: TDX reference values for the manifest's platform profile,
// from the boot artifacts extracted from the image (kernel, initrd, command
// line, boot loaders, GPT) and the firmware. Pure computation (measurement/);
// the result is written next to the image by the commit stage.
#include "lib/pipeline/stages.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/hex.hpp"
#include "lib/util/log.hpp"
#include "measurement/boot_inputs.hpp"
#include "measurement/predict.hpp"
#include "measurement/reference.hpp"

#include <fmt/format.h>

namespace cvm::pipeline::stages {

namespace {

std::optional<std::vector<std::byte>>
read_if_exists(const std::filesystem::path &p) {
  return fs::read_file_if_exists(p);
}

measure::PlatformProfile
platform_profile(const manifest::PlatformProfile &mp) {
  measure::PlatformProfile p;
  if (mp.platform) {
    p = measure::load_platform_profile(*mp.platform, read_if_exists);
  }
  p.name = mp.name;
  p.vcpus = mp.vcpus;
  p.memory_bytes = mp.memory_bytes;
  p.qemu_version = measure::parse_qemu_version(mp.qemu_version);
  p.ovmf_version = measure::parse_ovmf_version(mp.ovmf_version);
  if (mp.reference_ccel) {
    measure::adopt_reference_log_file(p, *mp.reference_ccel, read_if_exists);
  }
  return p;
}

} // namespace

measure::BootArtifacts
boot_artifacts(const std::filesystem::path &dir, manifest::BootMode mode) {
  measure::BootFiles files;
  files.mode = mode == manifest::BootMode::grub  ? measure::BootMode::grub
               : mode == manifest::BootMode::uki ? measure::BootMode::uki
                                                 : measure::BootMode::direct;
  files.artifacts_dir = dir;
  return measure::load_boot_artifacts(files, read_if_exists);
}

namespace {

void
measure(BuildContext &ctx) {
  const auto &m = ctx.manifest;
  const auto &mp = m.measurement.profiles.at(m.measurement.profile);
  const auto artifacts = boot_artifacts(ctx.artifacts_dir, m.boot.mode);
  const auto firmware = fs::read_file(*mp.firmware);
  const auto prediction = measure::predict(artifacts, firmware, platform_profile(mp));

  ctx.reference_values = measure::prediction_to_json(prediction).dump(2) + "\n";
  const std::size_t not_predicted = measure::events_not_predicted(prediction);
  log::info("  MRTD {} (per page) / {} (per section); {} events, {} not predicted (see the reference file)",
            to_hex(prediction.mrtd.single_pass).substr(0, 16) + "…",
            to_hex(prediction.mrtd.two_pass).substr(0, 16) + "…",
            prediction.events.size(),
            not_predicted);
  ctx.prediction = prediction;

  if (m.attestation.enabled) {
    // The verdict's last word: a register the policy must pin but the model
    // could not predict leaves what it measures unbound.
    for (std::size_t i = 0; i < 4; ++i) {
      if (!prediction.rtmr[i]) {
        ctx.boot_facts.rtmr_not_predicted.insert(i);
      }
    }
    record_binding(ctx, plan::binding_verdict(m, &ctx.boot_facts));
  }
}

} // namespace

} // namespace cvm::pipeline::stages

namespace cvm::plan {

// This stage's entry in lib/plan/stages.hpp.
void
Measure::run(pipeline::BuildContext &ctx) {
  pipeline::stages::measure(ctx);
}

} // namespace cvm::plan
