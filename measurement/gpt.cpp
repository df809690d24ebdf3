// SPDX-License-Identifier: Apache-2.0
#include "measurement/gpt.hpp"

#include "lib/util/error.hpp"
#include "measurement/byte_reader.hpp"
#include "measurement/uefi.hpp"

#include <algorithm>

namespace cvm::measure {

namespace {
constexpr std::string_view k_what = "disk GPT";
constexpr std::size_t k_header_size = 92; // sizeof(EFI_PARTITION_TABLE_HEADER)
constexpr std::uint32_t k_max_entries = 4096;
} // namespace

std::vector<std::byte>
gpt_event_data(std::span<const std::byte> disk_head, std::uint32_t sector_size) {
  ByteReader r(disk_head, k_what);
  r.seek(sector_size, "primary GPT header (LBA 1)");
  const std::size_t header_offset = r.offset();
  const auto header = r.bytes(k_header_size, "primary GPT header");
  ByteReader h(header, k_what, header_offset);
  if (h.u64("GPT signature") != 0x5452415020494645ULL) {
    throw Error(
        ErrorKind::input, "{}: offset {:#x}: expected GPT signature \"EFI PART\"", k_what, header_offset);
  }
  h.seek(72, "PartitionEntryLBA");
  const std::uint64_t entry_lba = h.u64("PartitionEntryLBA");
  const std::uint32_t entry_count = h.u32("NumberOfPartitionEntries");
  const std::uint32_t entry_size = h.u32("SizeOfPartitionEntry");
  if (entry_count > k_max_entries || entry_size < 128 || entry_size > 4096 || entry_size % 8 != 0) {
    throw Error(ErrorKind::input,
                "{}: header at offset {:#x}: {} entries of {} bytes is implausible",
                k_what,
                header_offset,
                entry_count,
                entry_size);
  }
  if (entry_lba > disk_head.size() / sector_size) {
    throw Error(ErrorKind::input,
                "{}: PartitionEntryLBA {} lies outside the supplied {} bytes",
                k_what,
                entry_lba,
                disk_head.size());
  }
  const auto entries = checked_subspan(disk_head,
                                       entry_lba * sector_size,
                                       std::uint64_t{entry_count} * entry_size,
                                       k_what,
                                       "partition entry array");
  std::vector<std::byte> out(header.begin(), header.end());
  std::vector<std::byte> used;
  std::uint64_t used_count = 0;
  for (std::uint32_t i = 0; i < entry_count; ++i) {
    const auto entry = entries.subspan(std::size_t{i} * entry_size, entry_size);
    const bool unused =
        std::all_of(entry.begin(), entry.begin() + 16, [](std::byte b) { return b == std::byte{0}; });
    if (!unused) {
      used.insert(used.end(), entry.begin(), entry.end());
      ++used_count;
    }
  }
  append_le(out, used_count, 8);
  out.insert(out.end(), used.begin(), used.end());
  return out;
}

} // namespace cvm::measure
