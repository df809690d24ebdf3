// SPDX-License-Identifier: Apache-2.0
#include "lib/baseimage/policy.hpp"

#include "lib/util/error.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <initializer_list>

namespace cvm::baseimage {

using guestfs::OsInfo;
using manifest::InitramfsGenerator;

void
refuse_encrypted_partition(const std::string &partition, std::string_view vfs_type) {
  if (vfs_type == "crypto_LUKS") {
    throw Error(ErrorKind::input,
                "the base image already contains a LUKS-encrypted volume ({}); cvmforge needs "
                "an unencrypted stock image",
                partition);
  }
}

const OsInfo &
require_one_supported_os(const std::vector<OsInfo> &oses, std::string_view filesystems) {
  if (oses.empty()) {
    throw Error(
        ErrorKind::input, "no operating system found in the base image (filesystems: {})", filesystems);
  }
  if (oses.size() > 1) {
    std::vector<std::string> roots;
    roots.reserve(oses.size());
    for (const auto &os : oses) {
      roots.push_back(fmt::format("{} ({})", os.root, os.distro));
    }
    throw Error(ErrorKind::input,
                "the base image contains {} operating systems ({}); cvmforge needs exactly one",
                oses.size(),
                fmt::join(roots, ", "));
  }
  const OsInfo &os = oses.front();
  const bool supported_distro =
      std::ranges::find(k_supported_distros, os.distro) != k_supported_distros.end();
  if (os.type != "linux" || !supported_distro) {
    throw Error(ErrorKind::input,
                "unsupported distribution in the base image: {} {} ({}.{}, \"{}\"); supported: {}",
                os.type,
                os.distro,
                os.major_version,
                os.minor_version,
                os.product_name,
                fmt::join(k_supported_distros, ", "));
  }
  return os;
}

void
refuse_btrfs_subvolume_root(const std::string &root) {
  if (root.rfind("btrfsvol:", 0) == 0) {
    throw Error(ErrorKind::input, "btrfs root filesystem ({}) is not supported yet", root);
  }
}

void
require_supported_root(const RootFilesystem &root, const std::vector<std::string> &partitions) {
  if (root.fs_type == "btrfs") {
    throw Error(ErrorKind::input, "btrfs root filesystem ({}) is not supported yet", root.device);
  }
  if (root.on_lvm) {
    throw Error(ErrorKind::input, "root filesystem on LVM ({}) is not supported yet", root.device);
  }
  if (std::find(partitions.begin(), partitions.end(), root.device) == partitions.end()) {
    throw Error(ErrorKind::input,
                "the root filesystem ({}) is not on a partition; cvmforge needs a partitioned "
                "UEFI disk",
                root.device);
  }
}

void
require_esp(std::size_t esp_count) {
  if (esp_count == 0) {
    throw Error(ErrorKind::input,
                "no EFI system partition (GPT type {}, vfat) in the base image; cvmforge needs a "
                "UEFI-bootable image",
                k_esp_type_guid);
  }
}

void
require_kernel(const std::vector<KernelImage> &kernels) {
  if (kernels.empty()) {
    throw Error(ErrorKind::input, "no kernel in the base image (looked for /boot/vmlinuz-<version>)");
  }
}

InitramfsChoice
decide_initramfs_generator(const InitramfsEvidence &e) {
  if (e.update_initramfs && !e.dracut) {
    return {InitramfsGenerator::initramfs_tools, "update-initramfs is installed"};
  }
  if (e.dracut && !e.update_initramfs) {
    return {InitramfsGenerator::dracut,
            e.initramfs_tools_conf
                ? "dracut is installed (/etc/initramfs-tools is a leftover: update-initramfs is not)"
                : "dracut is installed"};
  }
  if (e.dracut && e.update_initramfs) {
    if (e.dracut_hook && !e.initramfs_tools_hook) {
      return {InitramfsGenerator::dracut,
              "both are installed; the active kernel hook is /etc/kernel/postinst.d/dracut"};
    }
    if (e.initramfs_tools_hook && !e.dracut_hook) {
      return {InitramfsGenerator::initramfs_tools,
              "both are installed; the active kernel hook is "
              "/etc/kernel/postinst.d/initramfs-tools"};
    }
    throw Error(ErrorKind::input,
                "both initramfs-tools and dracut are installed in the base image and neither "
                "kernel hook (/etc/kernel/postinst.d/initramfs-tools, .../dracut) tells which one "
                "is active");
  }
  throw Error(ErrorKind::input,
              "unknown initramfs generator in the base image: neither update-initramfs "
              "(initramfs-tools) nor dracut is installed{}",
              e.initramfs_tools_conf || e.dracut_modules ? " (only configuration directories were found)"
                                                         : "");
}

namespace {

bool
any_exists(guestfs::Guest &g, std::initializer_list<const char *> paths) {
  return std::any_of(paths.begin(), paths.end(), [&g](const char *p) { return g.exists(p); });
}

} // namespace

void
require_unlock_tools(guestfs::Guest &g, InitramfsGenerator generator, bool network) {
  if (generator == InitramfsGenerator::initramfs_tools &&
      !any_exists(g, {"/usr/share/initramfs-tools/hooks/cryptroot"})) {
    throw Error(ErrorKind::input,
                "the base image has no cryptsetup-initramfs, so its initramfs could not unlock a LUKS2 root; "
                "install the package in the base image first (apt-get install cryptsetup-initramfs)");
  }
  if (generator != InitramfsGenerator::dracut) {
    return;
  }
  if (!any_exists(g, {"/usr/lib/dracut/modules.d/90crypt"}) ||
      !any_exists(g, {"/usr/sbin/cryptsetup", "/sbin/cryptsetup", "/usr/bin/cryptsetup"})) {
    throw Error(ErrorKind::input,
                "the base image's dracut cannot unlock a LUKS2 root (no 90crypt module or no cryptsetup); "
                "install cryptsetup in the base image first");
  }
  if (network && !any_exists(g, {"/usr/lib/dracut/modules.d/40network"})) {
    throw Error(
        ErrorKind::input,
        "attestation needs the network in the initramfs, but the base image's dracut has no network "
        "module (/usr/lib/dracut/modules.d/40network); install dracut-network in the base image first");
  }
}

void
require_boot_tools(guestfs::Guest &g, manifest::BootMode mode, Bootloader bootloader) {
  if (mode == manifest::BootMode::grub && (bootloader != Bootloader::grub_efi ||
                                           !any_exists(g, {"/usr/sbin/grub-install", "/sbin/grub-install"}) ||
                                           !any_exists(g, {"/usr/lib/grub/x86_64-efi"}))) {
    throw Error(
        ErrorKind::input,
        "boot.mode is grub, but the base image has no GRUB for x86_64 EFI (grub-efi-amd64) to reinstall");
  }
  if (mode == manifest::BootMode::uki && !g.exists(k_systemd_efi_stub)) {
    throw Error(
        ErrorKind::input,
        "boot.mode is uki, but the base image has no systemd EFI stub ({}); install it in the base image "
        "first (Debian 12 and 13: systemd-boot-efi; Debian 11: it comes with systemd)",
        k_systemd_efi_stub);
  }
}

} // namespace cvm::baseimage
