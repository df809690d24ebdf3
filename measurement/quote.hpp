// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

// Intel TDX DCAP quotes, versions 4 and 5: header and TD report body. The
// signature data is located and bounds-checked but not verified here; quote
// signature verification is the verifier's (Trustee / ITA / DCAP QVL) job.
namespace cvm::measure {

using Mr48 = std::array<std::byte, 48>;

struct QuoteHeader {
  std::uint16_t version = 0;
  std::uint16_t attestation_key_type = 0;
  std::uint32_t tee_type = 0; // 0x81 = TDX
  std::uint16_t qe_svn = 0;   // "reserved" in v4
  std::uint16_t pce_svn = 0;
  std::array<std::byte, 16> qe_vendor_id{};
  std::array<std::byte, 20> user_data{};
};

// TDREPORT body as carried in the quote (TD 1.0: 584 bytes; TD 1.5: 648 bytes).
struct TdReportBody {
  std::array<std::byte, 16> tee_tcb_svn{};
  Mr48 mr_seam{};
  Mr48 mr_signer_seam{};
  std::uint64_t seam_attributes = 0;
  std::uint64_t td_attributes = 0;
  std::uint64_t xfam = 0;
  Mr48 mr_td{};
  Mr48 mr_config_id{};
  Mr48 mr_owner{};
  Mr48 mr_owner_config{};
  std::array<Mr48, 4> rtmr{};
  std::array<std::byte, 64> report_data{};
  // TD 1.5 (quote v5 body type 3) only.
  bool has_td15_fields = false;
  std::array<std::byte, 16> tee_tcb_svn2{};
  Mr48 mr_service_td{};
};

struct Quote {
  QuoteHeader header;
  std::uint16_t body_type = 0; // v5: 2 = TD 1.0, 3 = TD 1.5; v4: 2
  TdReportBody body;
  std::size_t signature_offset = 0;
  std::uint32_t signature_size = 0;
};

inline constexpr std::uint32_t k_tee_type_tdx = 0x81;
inline constexpr std::uint64_t k_td_attribute_debug = 0x1;
inline constexpr std::uint64_t k_td_attribute_sept_ve_disable = 0x10000000;

// Parses a TDX quote v4 or v5. Throws cvm::Error(input) naming the offset for
// a truncated quote, an unsupported version or body type, a non-TDX TEE type,
// or a signature length running past the end.
Quote parse_quote(std::span<const std::byte> data);

// "debug", "sept_ve_disable", "pks", "kl", "perfmon" for the set bits that have
// names, "bit<N>" for others, in bit order.
std::vector<std::string> td_attribute_names(std::uint64_t attributes);

} // namespace cvm::measure
