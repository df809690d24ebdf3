// SPDX-License-Identifier: Apache-2.0
#include "lib/baseimage/policy.hpp"

#include "lib/util/error.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

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

} // namespace cvm::baseimage
