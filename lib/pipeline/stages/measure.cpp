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
#include "measurement/eventlog.hpp"
#include "measurement/predict.hpp"
#include "measurement/reference.hpp"
#include "measurement/uki.hpp"

#include <fmt/format.h>

namespace cvm::pipeline::stages {

namespace {

std::optional<std::vector<std::byte>>
read_if_exists(const std::filesystem::path &p) {
  if (!std::filesystem::exists(p)) {
    return std::nullopt;
  }
  return fs::read_file(p);
}

measure::PlatformProfile
platform_profile(const manifest::PlatformProfile &mp) {
  measure::PlatformProfile p;
  if (mp.platform) {
    const auto base = mp.platform->parent_path();
    nlohmann::json json;
    try {
      json = nlohmann::json::parse(fs::read_text(*mp.platform));
    } catch (const nlohmann::json::exception &e) {
      throw Error(ErrorKind::input, "{}: not JSON: {}", mp.platform->string(), e.what());
    }
    p = measure::parse_platform_profile(json, [&](const std::string &path) {
      const std::filesystem::path full =
          std::filesystem::path(path).is_absolute() ? std::filesystem::path(path) : base / path;
      return fs::read_file(full);
    });
  }
  p.name = mp.name;
  p.vcpus = mp.vcpus;
  p.memory_bytes = mp.memory_bytes;
  p.qemu_version = measure::parse_qemu_version(mp.qemu_version);
  p.ovmf_version = measure::parse_ovmf_version(mp.ovmf_version);
  if (mp.reference_ccel) {
    try {
      measure::adopt_reference_log(p, measure::parse_event_log(fs::read_file(*mp.reference_ccel)));
    } catch (const Error &e) {
      throw e.with_context(mp.reference_ccel->string());
    }
  }
  return p;
}

} // namespace

measure::BootArtifacts
boot_artifacts(const std::filesystem::path &dir, manifest::BootMode mode) {
  measure::BootArtifacts a;
  a.mode = mode == manifest::BootMode::grub  ? measure::BootMode::grub
           : mode == manifest::BootMode::uki ? measure::BootMode::uki
                                             : measure::BootMode::direct;
  a.kernel = fs::read_file(dir / "vmlinuz");
  a.kernel_name = "vmlinuz";
  a.initrd = fs::read_file(dir / "initrd.img");
  a.initrd_name = "initrd.img";
  std::string cmdline = fs::read_text(dir / "cmdline");
  while (!cmdline.empty() && (cmdline.back() == '\n' || cmdline.back() == '\r')) {
    cmdline.pop_back();
  }
  a.cmdline = cmdline;
  if (a.mode == measure::BootMode::grub) {
    // Removable-path layout: with shim, BOOTX64.EFI is shim and grubx64.efi
    // sits next to it; without shim, BOOTX64.EFI is grub itself.
    auto bootx64 = read_if_exists(dir / "BOOTX64.EFI");
    auto grub = read_if_exists(dir / "grubx64.efi");
    if (grub) {
      a.shim = std::move(bootx64);
      a.grub = std::move(grub);
    } else {
      a.grub = std::move(bootx64);
    }
    a.fallback = read_if_exists(dir / "fbx64.efi");
    a.disk_head = read_if_exists(dir / "disk-head.bin");
  } else if (a.mode == measure::BootMode::uki) {
    // What the firmware loads is the UKI; the kernel, initrd and command
    // line the model reads are its sections, byte for byte.
    a.uki = fs::read_file(dir / "uki.efi");
    const auto info = measure::parse_uki(*a.uki);
    a.systemd_stub_version = measure::systemd_stub_major(info);
    a.kernel = info.sections.at(".linux");
    a.kernel_name = "uki:.linux";
    if (const auto it = info.sections.find(".initrd"); it != info.sections.end()) {
      a.initrd = it->second;
      a.initrd_name = "uki:.initrd";
    }
    if (const auto it = info.sections.find(".cmdline"); it != info.sections.end()) {
      a.cmdline.assign(reinterpret_cast<const char *>(it->second.data()), it->second.size()); // NOLINT
    }
    a.disk_head = read_if_exists(dir / "disk-head.bin");
  }
  return a;
}

void
measure(BuildContext &ctx) {
  const auto &m = ctx.manifest;
  const auto &mp = m.measurement.profiles.at(m.measurement.profile);
  const auto artifacts = boot_artifacts(ctx.artifacts_dir, m.boot.mode);
  const auto firmware = fs::read_file(*mp.firmware);
  const auto prediction = measure::predict(artifacts, firmware, platform_profile(mp));

  ctx.reference_values = measure::prediction_to_json(prediction).dump(2) + "\n";
  std::size_t not_predicted = 0;
  for (const auto &e : prediction.events) {
    not_predicted += e.digest ? 0 : 1;
  }
  log::info("  MRTD {} (per page) / {} (per section); {} events, {} not predicted (see the reference file)",
            to_hex(prediction.mrtd.single_pass).substr(0, 16) + "…",
            to_hex(prediction.mrtd.two_pass).substr(0, 16) + "…",
            prediction.events.size(),
            not_predicted);
  for (std::size_t i = 0; i < 4; ++i) {
    ctx.report["measurement"]["rtmr"][i] = prediction.rtmr[i]
                                               ? nlohmann::ordered_json(to_hex(*prediction.rtmr[i]))
                                               : nlohmann::ordered_json(nullptr);
  }
  ctx.report["measurement"]["profile"] = m.measurement.profile;
  ctx.report["measurement"]["mrtd"] = {{"single_pass", to_hex(prediction.mrtd.single_pass)},
                                       {"two_pass", to_hex(prediction.mrtd.two_pass)}};
  ctx.report["measurement"]["events_not_predicted"] = not_predicted;

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

} // namespace cvm::pipeline::stages
