// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <span>
#include <vector>

// The ACPI CCEL table data (TCG2 crypto-agile event log written by TDVF) is a
// fixed-size area padded after the last event. The KBS wants only the events.
namespace cvm::kbs {

// The bytes of `ccel` up to (not including) the end-of-log marker: walks the
// leading TCG_PCR_EVENT (SHA-1 format, normally EV_NO_ACTION spec-id) and the
// TCG_PCR_EVENT2 records (SHA-1/256/384/512/SM3 digests) until a record
// starts with eight 0xff or eight 0x00 bytes. Throws cvm::Error(input) on a
// truncated record, an unknown digest algorithm, or a missing end marker.
std::vector<std::byte> trim_ccel(std::span<const std::byte> ccel);

} // namespace cvm::kbs
