// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/baseimage/inspect.hpp"
#include "lib/guestfs/guest.hpp"
#include "lib/manifest/manifest.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

// Which base images cvmforge accepts: the product's rules, apart from how the
// image is read (inspect.hpp). inspect_base() applies each rule as soon as it
// has read what the rule looks at, so the first problem found is the one
// reported. Every rule throws cvm::Error(input) naming what it found.
//
// Accepted: exactly one OS, Linux, Debian or Ubuntu; no LUKS volume yet; a
// root filesystem that is neither btrfs nor on LVM, on a partition; a GPT EFI
// system partition; a kernel in /boot; initramfs-tools or dracut, told apart
// unambiguously. What a given manifest needs of the image on top (the tools
// that unlock LUKS2 in its initramfs, GRUB, the EFI stub) is the second group
// below, which inspect-base applies once it knows the generator.
namespace cvm::baseimage {

// The distributions cvmforge builds from, as libguestfs inspection names them.
inline constexpr std::array<std::string_view, 2> k_supported_distros = {"debian", "ubuntu"};

// `partition` (with filesystem type `vfs_type`) must not be a LUKS volume:
// cvmforge needs an unencrypted stock image.
void refuse_encrypted_partition(const std::string &partition, std::string_view vfs_type);

// Exactly one OS, and a supported one; returns it. `filesystems` describes
// what was found, for the message when there is none.
const guestfs::OsInfo &require_one_supported_os(const std::vector<guestfs::OsInfo> &oses,
                                                std::string_view filesystems);

// The root mountable `root` is not a btrfs subvolume ("btrfsvol:..."):
// checked before anything asks libguestfs about it.
void refuse_btrfs_subvolume_root(const std::string &root);

// The root filesystem as inspection found it.
struct RootFilesystem {
  std::string device;  // "/dev/sda2"
  std::string fs_type; // "ext4", ...
  bool on_lvm = false; // an LVM logical volume
};

// The root is not btrfs, not on LVM (neither is supported yet), and is one
// of `partitions` (a partitioned UEFI disk).
void require_supported_root(const RootFilesystem &root, const std::vector<std::string> &partitions);

// At least one EFI system partition (GPT type k_esp_type_guid, vfat) was
// found: `esp_count` of them.
void require_esp(std::size_t esp_count);

// At least one kernel in /boot.
void require_kernel(const std::vector<KernelImage> &kernels);

// Decides which generator the guest uses: the one whose program is installed;
// if both are, the one whose kernel postinst hook is installed; with no
// program, configuration left behind decides nothing. Throws
// cvm::Error(input) if it cannot tell.
InitramfsChoice decide_initramfs_generator(const InitramfsEvidence &evidence);

// ---- What a manifest needs of the image. Each looks at the base's root
// mounted at "/" in `g` (its /boot below it).

// The guest's systemd EFI stub, from which boot.mode uki builds the UKI.
inline constexpr const char *k_systemd_efi_stub = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";

// The guest's initramfs generator can unlock a LUKS2 root: initramfs-tools
// with cryptsetup-initramfs; dracut with its crypt module and cryptsetup.
// `network` (attested unlock): dracut also has its network module, which the
// agent needs and the crypt-only path does not (initramfs-tools always has
// its network scripts).
void require_unlock_tools(guestfs::Guest &g, manifest::InitramfsGenerator generator, bool network);

// What `mode` boots from is there to be reinstalled or assembled: GRUB for
// x86_64 EFI (boot.mode grub, on a GRUB EFI image), the systemd EFI stub
// (boot.mode uki). boot.mode direct needs nothing.
void require_boot_tools(guestfs::Guest &g, manifest::BootMode mode, Bootloader bootloader);

} // namespace cvm::baseimage
