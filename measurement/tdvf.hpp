// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/crypto/crypto.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

// TDVF (OVMF for TDX) metadata and MRTD. The metadata is found through OVMF's
// GUIDed table at the end of the image (edk2 ResetVectorVtf0.asm); QEMU loads
// each section into the TD and the TDX module hashes MEM.PAGE.ADD / MR.EXTEND
// records into MRTD.
namespace cvm::measure {

namespace tdvf_section_type {
inline constexpr std::uint32_t k_bfv = 0;
inline constexpr std::uint32_t k_cfv = 1;
inline constexpr std::uint32_t k_td_hob = 2;
inline constexpr std::uint32_t k_temp_mem = 3;
inline constexpr std::uint32_t k_perm_mem = 4;
inline constexpr std::uint32_t k_payload = 5;
inline constexpr std::uint32_t k_payload_param = 6;
inline constexpr std::uint32_t k_td_info = 7;
inline constexpr std::uint32_t k_td_params = 8;
} // namespace tdvf_section_type

inline constexpr std::uint32_t k_tdvf_attr_mr_extend = 0x1;
inline constexpr std::uint32_t k_tdvf_attr_page_aug = 0x2;

// One TdvfSectionEntry (32 bytes) of the metadata.
struct TdvfSection {
  std::uint32_t data_offset = 0;
  std::uint32_t raw_data_size = 0;
  std::uint64_t memory_address = 0;
  std::uint64_t memory_data_size = 0;
  std::uint32_t type = 0;
  std::uint32_t attributes = 0;
};

struct TdvfMetadata {
  std::size_t descriptor_offset = 0; // file offset of the 'TDVF' descriptor
  bool has_metadata_guid = false;    // e9eaf9f3-… precedes the descriptor
  std::uint32_t version = 0;
  std::vector<TdvfSection> sections; // in metadata (= load) order
};

// "BFV", "CFV", "TD_HOB", "TEMP_MEM", … or "type<N>".
std::string tdvf_section_type_name(std::uint32_t type);

// Finds and validates the TDX metadata of a unified OVMF/TDVF image (the file
// QEMU loads with -bios). Throws cvm::Error(input) naming the offset when the
// GUIDed table or the TDX metadata GUID is missing (e.g. OVMF_CODE_4M.fd), the
// descriptor is malformed, or a section violates QEMU's rules (unaligned
// address, size not a 4 KiB multiple, raw data outside the file, BFV/CFV
// without data, TD_HOB/TEMP_MEM with data).
TdvfMetadata parse_tdvf_metadata(std::span<const std::byte> firmware);

// Order in which the host issues TDH.MEM.PAGE.ADD / TDH.MR.EXTEND per section.
enum class PageAddOrder {
  single_pass, // per page: ADD, 16×EXTEND (upstream KVM, QEMU >= 9)
  two_pass,    // per section: all ADDs, then all EXTENDs (QEMU 8.x TDX stacks)
};

// "single_pass" / "two_pass".
std::string to_string(PageAddOrder order);

// MRTD of `firmware` loaded with `order`. `metadata` must come from
// parse_tdvf_metadata(`firmware`).
crypto::Sha384
compute_mrtd(std::span<const std::byte> firmware, const TdvfMetadata &metadata, PageAddOrder order);

struct MrtdCandidates {
  crypto::Sha384 single_pass{};
  crypto::Sha384 two_pass{};
};

MrtdCandidates compute_mrtd_candidates(std::span<const std::byte> firmware, const TdvfMetadata &metadata);

// The raw bytes of the first CFV section (the variable store TDVF measures
// into RTMR0); throws cvm::Error(input) if the metadata has no CFV.
std::span<const std::byte> cfv_bytes(std::span<const std::byte> firmware, const TdvfMetadata &metadata);

} // namespace cvm::measure
