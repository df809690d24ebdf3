// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/guestfs/guest.hpp"
#include "lib/guestfs/session.hpp"
#include "lib/manifest/manifest.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// Facts about the stock base image that the build pipeline needs, found by
// libguestfs inspection (through the Guest interface, so unit-tested on
// FakeGuest) plus a few file checks. Nothing is hard-coded: device names come
// from inspection (and are API names, see lib/guestfs/guest.hpp). Which images
// are accepted is policy.hpp's business; inspect_base() applies it.
namespace cvm::baseimage {

// The GPT partition type of an EFI system partition.
inline constexpr std::string_view k_esp_type_guid = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";

// A readable name for a GPT partition type GUID (any case): "EFI system
// partition (ESP)", "Linux filesystem", "LUKS", ...; the GUID itself when
// unknown.
std::string gpt_type_name(std::string_view guid);

enum class Bootloader { grub_efi, unknown };

struct KernelImage {
  std::string version;                    // "6.1.0-1-amd64"
  std::string kernel_path;                // "/boot/vmlinuz-6.1.0-1-amd64" (guest path)
  std::optional<std::string> initrd_path; // "/boot/initrd.img-6.1.0-1-amd64", if present

  bool operator==(const KernelImage &) const = default;
};

struct BaseImageFacts {
  // From inspect_os.
  std::string os_type; // "linux"
  std::string distro;  // "debian" or "ubuntu"
  int major_version = 0;
  int minor_version = 0;
  std::string product_name;                          // "Debian GNU/Linux 12 (bookworm)"
  std::vector<guestfs::MountpointEntry> mountpoints; // the guest's fstab as resolved

  // Root filesystem.
  std::string root_device;  // "/dev/sda2"
  std::string root_fs_type; // "ext4", ...
  std::string root_uuid;
  std::string disk_device; // whole disk holding the root, "/dev/sda"
  int root_partnum = 0;
  std::string partition_table; // "gpt" or "msdos"
  std::uint64_t root_used_bytes = 0;
  std::uint64_t root_total_bytes = 0;

  // EFI system partition.
  std::string esp_device;
  int esp_partnum = 0;
  std::string esp_uuid;
  std::optional<std::string> esp_mountpoint; // where fstab mounts it ("/boot/efi"), if it does

  // Separate /boot, if any.
  std::optional<std::string> boot_device;
  std::optional<std::string> boot_fs_type;
  std::optional<std::string> boot_uuid;

  // Boot chain.
  std::vector<KernelImage> kernels; // oldest first (version order), so back() is newest
  manifest::InitramfsGenerator initramfs_generator = manifest::InitramfsGenerator::initramfs_tools;
  std::string initramfs_reason; // why that generator was chosen
  Bootloader bootloader = Bootloader::unknown;
  std::optional<std::string> grub_cfg;   // "/boot/grub/grub.cfg"
  std::vector<std::string> efi_binaries; // on the ESP, e.g. "/EFI/BOOT/BOOTX64.EFI"
};

// --- Pure helpers (unit-tested) ---

// "vmlinuz-6.1.0-1-amd64" -> "6.1.0-1-amd64"; nullopt for anything that is not
// "vmlinuz-<version starting with a digit>" (e.g. "vmlinuz", "vmlinuz.old",
// "vmlinuz-6.1.0-1-amd64.old"). Slashes are not allowed.
std::optional<std::string> kernel_version_from_filename(std::string_view filename);

// Version order as `sort -V` has it ("6.1.0-10" > "6.1.0-9"): < 0, 0, > 0.
int compare_versions(std::string_view a, std::string_view b);

// Names an initrd for kernel `version` may have in /boot, in preference order:
// "initrd.img-<v>" (Debian/Ubuntu, both generators), "initramfs-<v>.img"
// (dracut default elsewhere), "initrd-<v>".
std::vector<std::string> initrd_candidates(std::string_view version);

// What the image contains that tells the generators apart.
struct InitramfsEvidence {
  bool update_initramfs = false;     // /usr/sbin/update-initramfs or /sbin/...
  bool initramfs_tools_conf = false; // /etc/initramfs-tools (may outlive the package)
  bool initramfs_tools_hook = false; // /etc/kernel/postinst.d/initramfs-tools
  bool dracut = false;               // /usr/bin/dracut, /usr/sbin/dracut or /sbin/dracut
  bool dracut_modules = false;       // /usr/lib/dracut/modules.d
  bool dracut_hook = false;          // /etc/kernel/postinst.d/dracut
};

struct InitramfsChoice {
  manifest::InitramfsGenerator generator;
  std::string reason;
};

std::string_view to_string(Bootloader bootloader) noexcept;

// --- Inspection ---

// Inspects the guest behind `guest` (launched, nothing mounted; drives added
// read-only is enough). Mounts read-only as needed and unmounts everything
// before returning. Throws cvm::Error(input) for images cvmforge cannot use
// (the rules of policy.hpp: no OS or several, not debian/ubuntu, LUKS already
// present, LVM or btrfs root, no ESP, no kernel, unknown initramfs
// generator); cvm::Error(guest) for libguestfs failures.
BaseImageFacts inspect_base(guestfs::Guest &guest);

// Opens `image` (`format`, read-only) in a new Session, launches it and calls
// inspect_base(). A file that is not a readable disk image of that format
// gives cvm::Error(input) naming it.
BaseImageFacts inspect_base_image(const std::filesystem::path &image,
                                  const std::string &format = "qcow2",
                                  const guestfs::SessionOptions &options = {});

} // namespace cvm::baseimage
