// SPDX-License-Identifier: Apache-2.0
#include "measurement/td_hob.hpp"

#include "lib/util/error.hpp"
#include "measurement/uefi.hpp"

#include <algorithm>

namespace cvm::measure {

namespace {

constexpr std::uint64_t k_4g = std::uint64_t{1} << 32U;
constexpr std::uint64_t k_q35_lowmem_threshold = 0xb0000000;
constexpr std::uint64_t k_q35_lowmem_split = 0x80000000;
constexpr std::uint16_t k_hob_handoff = 0x0001;
constexpr std::uint16_t k_hob_resource_descriptor = 0x0003;
constexpr std::size_t k_phit_size = 56;
constexpr std::size_t k_resource_size = 48;
constexpr std::size_t k_end_hob_size = 8;
constexpr std::uint32_t k_phit_version = 9;
constexpr std::uint32_t k_resource_system_memory = 0;
constexpr std::uint32_t k_resource_memory_unaccepted = 7;
constexpr std::uint32_t k_resource_present_initialized_tested = 0x7;

} // namespace

std::vector<TdHobRange>
td_hob_ranges(std::uint64_t memory_bytes, const TdvfMetadata &metadata) {
  // q35 (hw/i386/pc_q35.c): RAM above 0xb0000000 is split at 2 GiB.
  const std::uint64_t lowmem =
      memory_bytes >= k_q35_lowmem_threshold ? k_q35_lowmem_split : k_q35_lowmem_threshold;
  const std::uint64_t below_4g = std::min(memory_bytes, lowmem);
  std::vector<TdHobRange> ranges;
  ranges.push_back({0, below_4g, false});
  if (memory_bytes > below_4g) {
    ranges.push_back({k_4g, memory_bytes - below_4g, false});
  }
  bool has_td_hob = false;
  for (const auto &s : metadata.sections) {
    if (s.type != tdvf_section_type::k_td_hob && s.type != tdvf_section_type::k_temp_mem) {
      continue;
    }
    has_td_hob = has_td_hob || s.type == tdvf_section_type::k_td_hob;
    // Split the containing range as QEMU's tdx_accept_ram_range() does.
    auto it = std::find_if(ranges.begin(), ranges.end(), [&](const TdHobRange &r) {
      return !r.accepted && s.memory_address >= r.start &&
             s.memory_address + s.memory_data_size <= r.start + r.length;
    });
    if (it == ranges.end()) {
      throw Error(ErrorKind::input,
                  "TDVF {} section [{:#x}, +{:#x}) does not lie in unaccepted RAM of a {}-byte TD",
                  tdvf_section_type_name(s.type),
                  s.memory_address,
                  s.memory_data_size,
                  memory_bytes);
    }
    const TdHobRange old = *it;
    *it = {s.memory_address, s.memory_data_size, true};
    if (s.memory_address > old.start) {
      ranges.push_back({old.start, s.memory_address - old.start, false});
    }
    const std::uint64_t tail = s.memory_address + s.memory_data_size;
    if (tail < old.start + old.length) {
      ranges.push_back({tail, old.start + old.length - tail, false});
    }
  }
  if (!has_td_hob) {
    throw Error(ErrorKind::input, "the TDVF metadata has no TD_HOB section");
  }
  std::sort(ranges.begin(), ranges.end(), [](const TdHobRange &a, const TdHobRange &b) {
    return a.start < b.start;
  });
  return ranges;
}

std::vector<std::byte>
build_td_hob(std::uint64_t memory_bytes, const TdvfMetadata &metadata) {
  const auto ranges = td_hob_ranges(memory_bytes, metadata);
  std::uint64_t hob_base = 0;
  for (const auto &s : metadata.sections) {
    if (s.type == tdvf_section_type::k_td_hob) {
      hob_base = s.memory_address;
      break;
    }
  }
  std::vector<std::byte> out;
  append_le(out, k_hob_handoff, 2);
  append_le(out, k_phit_size, 2);
  append_le(out, 0, 4);
  append_le(out, k_phit_version, 4);
  append_le(out, 0, 4); // BootMode
  for (int i = 0; i < 4; ++i) {
    append_le(out, 0, 8); // memory top/bottom, free memory top/bottom
  }
  append_le(out, hob_base + k_phit_size + k_resource_size * ranges.size() + k_end_hob_size, 8);
  for (const auto &r : ranges) {
    append_le(out, k_hob_resource_descriptor, 2);
    append_le(out, k_resource_size, 2);
    append_le(out, 0, 4);
    out.resize(out.size() + 16); // Owner GUID
    append_le(out, r.accepted ? k_resource_system_memory : k_resource_memory_unaccepted, 4);
    append_le(out, k_resource_present_initialized_tested, 4);
    append_le(out, r.start, 8);
    append_le(out, r.length, 8);
  }
  return out;
}

} // namespace cvm::measure
