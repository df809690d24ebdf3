// SPDX-License-Identifier: Apache-2.0
// Stage inspect-base: what the base image contains, how much of it there is,
// and whether cvmforge can convert it. Opens the base read-only.
#include "lib/manifest/values.hpp"
#include "lib/pipeline/interrupt.hpp"
#include "lib/pipeline/stages.hpp"
#include "lib/util/error.hpp"
#include "lib/util/log.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace cvm::pipeline::stages {

namespace {

bool
any_exists(guestfs::Guest &g, std::initializer_list<const char *> paths) {
  for (const char *p : paths) {
    if (g.exists(p)) {
      return true;
    }
  }
  return false;
}

void
inspect_base(BuildContext &ctx) {
  const auto &m = ctx.manifest;
  guestfs::LaunchSpec spec;
  spec.cancel_launch = [] { return interrupted_by() != 0; };
  guestfs::AddDriveOptions base_drive;
  base_drive.format = manifest::to_string(m.base.format);
  base_drive.read_only = guestfs::ReadOnly::yes;
  spec.drives.push_back({m.base.path, base_drive});
  std::unique_ptr<guestfs::Appliance> appliance;
  try {
    appliance = ctx.launcher->launch(spec);
  } catch (const Error &e) {
    if (e.kind() == ErrorKind::interrupted || interrupted_by() != 0 ||
        ctx.launcher->last_launch_timed_out()) {
      throw;
    }
    throw Error(ErrorKind::input,
                "{}: cannot open {} as a {} disk image: {}",
                m.base.path.string(),
                m.base.path.string(),
                manifest::to_string(m.base.format),
                e.what());
  }
  throw_if_interrupted();
  auto &s = *appliance;
  ctx.facts = baseimage::inspect_base(s);
  const auto &f = ctx.facts;

  // Sizes: the root content without /boot (which gets its own partition).
  s.mount(f.root_device, "/", guestfs::ReadOnly::yes);
  if (f.boot_device) {
    s.mount(*f.boot_device, "/boot", guestfs::ReadOnly::yes);
  }
  const auto boot_used = static_cast<std::uint64_t>(s.du("/boot"));
  ctx.content.boot_used = boot_used;
  ctx.content.root_used =
      f.boot_device ? f.root_used_bytes : f.root_used_bytes - std::min(boot_used, f.root_used_bytes);

  // What the unlock path needs from the guest's own tools.
  const std::string generator(manifest::to_string(f.initramfs_generator));
  if (m.initramfs && *m.initramfs != f.initramfs_generator) {
    const auto loc = m.where("initramfs.backend");
    throw Error(ErrorKind::input,
                "{}:{}:{}: initramfs.backend is {}, but the base image uses {} ({})",
                loc.file,
                loc.line,
                loc.column,
                manifest::to_string(m.initramfs),
                generator,
                f.initramfs_reason);
  }
  ctx.initramfs_backend = f.initramfs_generator;
  if (f.initramfs_generator == manifest::InitramfsGenerator::initramfs_tools &&
      !any_exists(s, {"/usr/share/initramfs-tools/hooks/cryptroot"})) {
    throw Error(ErrorKind::input,
                "the base image has no cryptsetup-initramfs, so its initramfs could not unlock a LUKS2 root; "
                "install the package in the base image first (apt-get install cryptsetup-initramfs)");
  }
  if (f.initramfs_generator == manifest::InitramfsGenerator::dracut &&
      (!any_exists(s, {"/usr/lib/dracut/modules.d/90crypt"}) ||
       !any_exists(s, {"/usr/sbin/cryptsetup", "/sbin/cryptsetup", "/usr/bin/cryptsetup"}))) {
    throw Error(ErrorKind::input,
                "the base image's dracut cannot unlock a LUKS2 root (no 90crypt module or no cryptsetup); "
                "install cryptsetup in the base image first");
  }
  // Attested unlock brings the network up in the initramfs: dracut needs its
  // network module (Debian's dracut-network package), which the crypt-only
  // path does not. Found now rather than by dracut after the copy.
  if (m.attestation.enabled && f.initramfs_generator == manifest::InitramfsGenerator::dracut &&
      !any_exists(s, {"/usr/lib/dracut/modules.d/40network"})) {
    throw Error(
        ErrorKind::input,
        "attestation needs the network in the initramfs, but the base image's dracut has no network "
        "module (/usr/lib/dracut/modules.d/40network); install dracut-network in the base image first");
  }
  if (m.boot.mode == manifest::BootMode::grub) {
    if (f.bootloader != baseimage::Bootloader::grub_efi ||
        !any_exists(s, {"/usr/sbin/grub-install", "/sbin/grub-install"}) ||
        !any_exists(s, {"/usr/lib/grub/x86_64-efi"})) {
      throw Error(
          ErrorKind::input,
          "boot.mode is grub, but the base image has no GRUB for x86_64 EFI (grub-efi-amd64) to reinstall");
    }
  }
  if (m.boot.mode == manifest::BootMode::uki && !any_exists(s, {k_systemd_efi_stub})) {
    throw Error(
        ErrorKind::input,
        "boot.mode is uki, but the base image has no systemd EFI stub ({}); install it in the base image "
        "first (Debian 12 and 13: systemd-boot-efi; Debian 11: it comes with systemd)",
        k_systemd_efi_stub);
  }
  if (f.esp_mountpoint) {
    s.mount(f.esp_device, *f.esp_mountpoint, guestfs::ReadOnly::yes);
    ctx.content.esp_used = s.statvfs(*f.esp_mountpoint).used_bytes;
  } else {
    ctx.content.esp_used = 0;
  }
  s.umount_all();
  s.shutdown();

  std::vector<std::string> kernels;
  for (const auto &k : f.kernels) {
    kernels.push_back(k.version);
  }
  log::info("  {} {}.{} ({}), root {} with {} (+ {} in /boot), {} kernel{} ({}), {}",
            f.distro,
            f.major_version,
            f.minor_version,
            f.product_name,
            f.root_fs_type,
            manifest::values::human_size(ctx.content.root_used),
            manifest::values::human_size(ctx.content.boot_used),
            kernels.size(),
            kernels.size() == 1 ? "" : "s",
            fmt::join(kernels, ", "),
            generator);
  ctx.report["base"]["os"] = {{"distro", f.distro},
                              {"version", fmt::format("{}.{}", f.major_version, f.minor_version)},
                              {"product_name", f.product_name}};
  ctx.report["base"]["root"] = {{"device", f.root_device},
                                {"fs_type", f.root_fs_type},
                                {"uuid", f.root_uuid},
                                {"used_bytes", f.root_used_bytes}};
  ctx.report["base"]["separate_boot"] = f.boot_device.has_value();
  ctx.report["base"]["content_bytes"] = {
      {"root", ctx.content.root_used}, {"boot", ctx.content.boot_used}, {"esp", ctx.content.esp_used}};
  ctx.report["base"]["kernels"] = kernels;
  ctx.report["base"]["initramfs"] = {{"generator", generator}, {"reason", f.initramfs_reason}};
  ctx.report["base"]["bootloader"] = baseimage::to_string(f.bootloader);
  ctx.report["base"]["efi_binaries"] = f.efi_binaries;
  check_binding_after_inspection(ctx);
}

} // namespace

} // namespace cvm::pipeline::stages

namespace cvm::plan {

// This stage's entry in lib/plan/stages.hpp.
void
InspectBase::run(pipeline::BuildContext &ctx) {
  pipeline::stages::inspect_base(ctx);
}

} // namespace cvm::plan
