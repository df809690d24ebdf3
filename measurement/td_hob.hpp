// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "measurement/tdvf.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

// The TD HOB QEMU hands to TDVF (hw/i386/tdvf-hob.c), whose bytes up to the
// END_OF_HOB_LIST HOB TDVF measures as the first RTMR0 event.
namespace cvm::measure {

struct TdHobRange {
  std::uint64_t start = 0;
  std::uint64_t length = 0;
  bool accepted = false; // ADDED by QEMU (TD_HOB/TEMP_MEM section) vs MEMORY_UNACCEPTED
};

// The RAM ranges QEMU describes for a q35 TD with `memory_bytes` of RAM and
// the TD_HOB/TEMP_MEM sections of `metadata` accepted, sorted by address.
// Throws cvm::Error(input) if a section lies outside RAM or there is no TD_HOB.
std::vector<TdHobRange> td_hob_ranges(std::uint64_t memory_bytes, const TdvfMetadata &metadata);

// The measured TD HOB bytes (PHIT + one resource descriptor per range, without
// the END HOB), placed at the TD_HOB section's address.
std::vector<std::byte> build_td_hob(std::uint64_t memory_bytes, const TdvfMetadata &metadata);

} // namespace cvm::measure
