// SPDX-License-Identifier: Apache-2.0
#include "lib/pipeline/layout.hpp"

#include "lib/manifest/values.hpp"
#include "lib/util/error.hpp"

#include <algorithm>

namespace cvm::pipeline {

namespace {

using manifest::values::format_size;

// ext4 needs room beyond the file data: inode tables (256 bytes per 16 KiB),
// the journal, block group descriptors, directory blocks and the reserved
// blocks. 8% plus a fixed 64 MiB covers small and large trees alike.
std::uint64_t
ext4_size_for(std::uint64_t payload) {
  return payload + payload / 100 * 8 + 64 * k_mib;
}

std::string
where(const manifest::Manifest &m, const std::string &key) {
  const auto loc = m.where(key);
  return fmt::format("{}:{}:{}", loc.file, loc.line, loc.column);
}

} // namespace

DiskLayout
compute_layout(const manifest::Manifest &m, const ContentSizes &content, std::uint64_t luks_data_offset) {
  DiskLayout l;
  l.luks_data_offset = luks_data_offset;
  const std::uint64_t esp_size = align_up(m.partitions.esp.size_bytes, k_mib);
  const std::uint64_t boot_size = align_up(m.partitions.boot.size_bytes, k_mib);

  // The ESP is FAT: allow 10% slack for clusters and the FATs.
  if (content.esp_used + content.esp_used / 10 + 4 * k_mib > esp_size) {
    throw Error(ErrorKind::input,
                "{}: partitions.esp.size {} is too small for the base image's ESP content ({})",
                where(m, "partitions.esp.size"),
                format_size(esp_size),
                format_size(content.esp_used));
  }
  // /boot must hold the content plus a regenerated initramfs per kernel.
  if (ext4_size_for(content.boot_used * 2) > boot_size + 64 * k_mib) {
    throw Error(
        ErrorKind::input,
        "{}: partitions.boot.size {} is too small for /boot ({} in use; initramfs images are rebuilt, "
        "so twice that is needed)",
        where(m, "partitions.boot.size"),
        format_size(boot_size),
        format_size(content.boot_used));
  }

  std::uint64_t offset = k_mib; // GPT header and entries live in the first MiB
  l.esp = {1, m.partitions.esp.label, k_gpt_type_esp, offset, esp_size};
  offset += esp_size;
  l.boot = {2, m.partitions.boot.label, k_gpt_type_linux_fs, offset, boot_size};
  offset += boot_size;
  const std::uint64_t tail = k_mib; // backup GPT

  if (m.output.size_policy == manifest::SizePolicy::fit) {
    const std::uint64_t headroom =
        std::max(content.root_used / 100 * m.output.headroom_percent, m.output.headroom_min_bytes);
    l.root_fs_size = align_up(ext4_size_for(content.root_used + headroom), 4 * k_mib);
    const std::uint64_t root_size = l.root_fs_size + luks_data_offset;
    l.root = {3, m.partitions.root.label, k_gpt_type_luks, offset, root_size};
    l.disk_size = offset + root_size + tail;
  } else {
    l.disk_size = align_up(m.output.size_bytes, k_mib);
    if (l.disk_size < offset + tail + luks_data_offset) {
      throw Error(ErrorKind::input,
                  "{}: output.size.size is smaller than the ESP and /boot",
                  where(m, "output.size.size"));
    }
    const std::uint64_t root_size = l.disk_size - offset - tail;
    l.root = {3, m.partitions.root.label, k_gpt_type_luks, offset, root_size};
    l.root_fs_size = root_size - luks_data_offset;
    const std::uint64_t needed = ext4_size_for(content.root_used + content.root_used / 20);
    if (l.root_fs_size < needed) {
      throw Error(ErrorKind::input,
                  "{}: output.size.size {} leaves {} for the root filesystem, but its content needs about {}",
                  where(m, "output.size.size"),
                  format_size(m.output.size_bytes),
                  format_size(l.root_fs_size),
                  format_size(needed));
    }
  }
  return l;
}

} // namespace cvm::pipeline
