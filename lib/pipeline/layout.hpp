// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/manifest/manifest.hpp"

#include <cstdint>
#include <string>

// The output disk's GPT layout, computed before anything is written.
namespace cvm::pipeline {

inline constexpr std::uint64_t k_mib = std::uint64_t{1} << 20U;
inline constexpr std::uint64_t k_sector = 512;

inline constexpr const char *k_gpt_type_esp = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
inline constexpr const char *k_gpt_type_linux_fs = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
// "Linux LUKS" (Discoverable Partitions Specification): not the root type, so
// nothing auto-mounts it; root= on the kernel command line names the mapping.
inline constexpr const char *k_gpt_type_luks = "CA7D7CCB-63ED-4C53-861C-1742536059CC";

struct PartitionPlan {
  int number = 0;   // 1-based GPT entry
  std::string name; // GPT partition name
  std::string type_guid;
  std::uint64_t start = 0; // bytes, 1 MiB aligned
  std::uint64_t size = 0;  // bytes
  std::uint64_t
  end_sector_inclusive() const {
    return (start + size) / k_sector - 1;
  }
};

// What inspection measured on the base image (bytes in use).
struct ContentSizes {
  std::uint64_t root_used = 0; // root filesystem, excluding a separate /boot and the ESP
  std::uint64_t boot_used = 0; // /boot content (separate partition or directory)
  std::uint64_t esp_used = 0;
};

struct DiskLayout {
  std::uint64_t disk_size = 0;
  PartitionPlan esp;
  PartitionPlan boot;
  PartitionPlan root; // the LUKS2 partition
  std::uint64_t luks_data_offset = 0;
  std::uint64_t root_fs_size = 0; // the filesystem inside LUKS2
};

// Lay out ESP, /boot and the LUKS2 root for `manifest` and `content`. With
// size policy fit: root = content + max(headroom %, headroom_min) + ext4
// overhead; with fixed: the root takes what the disk size leaves. Throws
// cvm::Error(input) naming the manifest key when the content does not fit
// (ESP or /boot too small, fixed size too small).
DiskLayout compute_layout(const manifest::Manifest &manifest,
                          const ContentSizes &content,
                          std::uint64_t luks_data_offset);

// Round `v` up to a multiple of `align`.
constexpr std::uint64_t
align_up(std::uint64_t v, std::uint64_t align) {
  return (v + align - 1) / align * align;
}

} // namespace cvm::pipeline
