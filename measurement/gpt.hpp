// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

// The EV_EFI_GPT_EVENT payload edk2 measures before booting from a disk
// (DxeTpm2MeasureBootLib Tcg2MeasureGptTable): the primary GPT header and
// every partition entry with a non-zero type GUID.
namespace cvm::measure {

// UEFI_GPT_DATA for the disk whose first bytes are `disk_head` (at least up to
// the end of the primary partition entry array; 34 sectors for a standard GPT).
// Throws cvm::Error(input) naming the offset for a missing "EFI PART"
// signature, an entry array outside `disk_head`, or implausible sizes.
std::vector<std::byte> gpt_event_data(std::span<const std::byte> disk_head, std::uint32_t sector_size = 512);

} // namespace cvm::measure
