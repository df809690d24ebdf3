// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/baseimage/inspect.hpp"

#include <string>
#include <string_view>
#include <vector>

// Pure text transforms of the guest's boot configuration files. The stages
// read the files through the Guest API, call these, and write the result.
namespace cvm::pipeline::bootcfg {

// A data volume's line: /dev/mapper/<mapper_name> on <mount>.
struct FstabVolume {
  std::string mapper_name;
  std::string mount;
  std::string fstype;               // "ext4" | "xfs"
  std::vector<std::string> options; // empty = "defaults"
  bool required = true;             // false: nofail, short device timeout
};

// The systemd mount unit of an absolute, normal mount point, as
// `systemd-escape --path --suffix=mount` names it: "/srv/my-data" ->
// "srv-my\x2ddata.mount" (each "/" between names becomes "-", every byte
// outside [A-Za-z0-9:_.] and a leading "." becomes \xNN).
std::string mount_unit_name(std::string_view mount_point);

struct FstabInput {
  std::string mapper_name;  // root is /dev/mapper/<mapper_name>
  std::string root_fstype;  // "ext4"
  std::string boot_fs_uuid; // the new /boot filesystem
  std::string esp_fs_uuid;  // the new ESP (vfat serial "ABCD-1234")
  std::string esp_mountpoint = "/boot/efi";
  std::vector<FstabVolume> volumes{};
};

// The new /etc/fstab: the base's entries for "/", "/boot" and the ESP are
// replaced; entries naming a block device that does not exist in the new
// image (UUID=, PARTUUID=, LABEL=, /dev/...) are commented out with a note,
// since a missing device would stall boot; everything else (tmpfs, swap files,
// network mounts, comments) is kept as is.
std::string rewrite_fstab(std::string_view old_fstab, const FstabInput &in);

// The guest's fstab mount point of the ESP ("/boot/efi" or "/efi"), or "" if
// the fstab has none.
std::string esp_mountpoint(std::string_view fstab);

// One /etc/crypttab line for the root volume.
std::string crypttab_line(std::string_view mapper_name, std::string_view luks_uuid, std::string_view options);

// /etc/crypttab with the root line set: an existing line for `mapper_name` is
// replaced, other lines are kept.
std::string
rewrite_crypttab(std::string_view old_crypttab, std::string_view root_line, std::string_view mapper_name);

// `conf`, a shell-sourced configuration file (such as initramfs-tools'
// /etc/cryptsetup-initramfs/conf-hook, a dpkg conffile), with the variable
// `name` set to `value` (written as is: quote it if it needs quoting) and
// nothing else changed: every assignment "name=..." (leading blanks allowed)
// is replaced, so a duplicate cannot override it; commented-out ones
// ("#name=...") are kept as documentation. Without an assignment, "# `why`"
// and the assignment are appended.
std::string set_shell_variable(std::string_view conf,
                               std::string_view name,
                               std::string_view value,
                               std::string_view why);

// Kernel parameters cvmforge adds for fail-closed boot and root unlock.
std::vector<std::string> kernel_parameters(manifest::InitramfsGenerator initramfs_backend,
                                           std::string_view mapper_name,
                                           std::string_view luks_uuid,
                                           const std::vector<std::string> &manifest_additions);

} // namespace cvm::pipeline::bootcfg
