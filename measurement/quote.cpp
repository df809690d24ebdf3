// SPDX-License-Identifier: Apache-2.0
#include "measurement/quote.hpp"

#include "measurement/byte_reader.hpp"

#include <fmt/core.h>

#include <algorithm>

namespace cvm::measure {

namespace {

constexpr std::string_view k_what = "TD quote";
constexpr std::size_t k_header_size = 48;
constexpr std::size_t k_td10_body_size = 584;
constexpr std::size_t k_td15_body_size = 648;
constexpr std::uint16_t k_body_type_td10 = 2;
constexpr std::uint16_t k_body_type_td15 = 3;

template<std::size_t N>
void
read_into(ByteReader &r, std::array<std::byte, N> &out, std::string_view field) {
  const auto bytes = r.bytes(N, field);
  std::copy(bytes.begin(), bytes.end(), out.begin());
}

void
parse_body(ByteReader &r, TdReportBody &body, bool td15) {
  read_into(r, body.tee_tcb_svn, "TEE_TCB_SVN");
  read_into(r, body.mr_seam, "MRSEAM");
  read_into(r, body.mr_signer_seam, "MRSIGNERSEAM");
  body.seam_attributes = r.u64("SEAMATTRIBUTES");
  body.td_attributes = r.u64("TDATTRIBUTES");
  body.xfam = r.u64("XFAM");
  read_into(r, body.mr_td, "MRTD");
  read_into(r, body.mr_config_id, "MRCONFIGID");
  read_into(r, body.mr_owner, "MROWNER");
  read_into(r, body.mr_owner_config, "MROWNERCONFIG");
  for (std::size_t i = 0; i < body.rtmr.size(); ++i) {
    read_into(r, body.rtmr[i], "RTMR");
  }
  read_into(r, body.report_data, "REPORTDATA");
  if (td15) {
    body.has_td15_fields = true;
    read_into(r, body.tee_tcb_svn2, "TEE_TCB_SVN2");
    read_into(r, body.mr_service_td, "MRSERVICETD");
  }
}

} // namespace

Quote
parse_quote(std::span<const std::byte> data) {
  ByteReader r(data, k_what);
  Quote q;
  r.require(k_header_size, "quote header");
  q.header.version = r.u16("version");
  q.header.attestation_key_type = r.u16("attestation key type");
  q.header.tee_type = r.u32("TEE type");
  q.header.qe_svn = r.u16("QE SVN");
  q.header.pce_svn = r.u16("PCE SVN");
  read_into(r, q.header.qe_vendor_id, "QE vendor ID");
  read_into(r, q.header.user_data, "user data");
  if (q.header.version != 4 && q.header.version != 5) {
    throw Error(
        ErrorKind::input, "{}: version at offset 0x0: expected 4 or 5, found {}", k_what, q.header.version);
  }
  if (q.header.tee_type != k_tee_type_tdx) {
    throw Error(ErrorKind::input,
                "{}: TEE type at offset 0x4: expected {:#x} (TDX), found {:#x}",
                k_what,
                k_tee_type_tdx,
                q.header.tee_type);
  }
  bool td15 = false;
  if (q.header.version == 4) {
    q.body_type = k_body_type_td10;
    ByteReader body = r.sub(k_td10_body_size, "TD report body");
    parse_body(body, q.body, false);
  } else {
    const std::size_t type_offset = r.offset();
    q.body_type = r.u16("body type");
    const std::uint32_t size = r.u32("body size");
    std::size_t expected = 0;
    if (q.body_type == k_body_type_td10) {
      expected = k_td10_body_size;
    } else if (q.body_type == k_body_type_td15) {
      expected = k_td15_body_size;
      td15 = true;
    } else {
      throw Error(ErrorKind::input,
                  "{}: body type at offset {:#x}: expected 2 (TD 1.0) or 3 (TD 1.5), found {}",
                  k_what,
                  type_offset,
                  q.body_type);
    }
    if (size != expected) {
      throw Error(ErrorKind::input,
                  "{}: body size at offset {:#x}: expected {} for body type {}, found {}",
                  k_what,
                  type_offset + 2,
                  expected,
                  q.body_type,
                  size);
    }
    ByteReader body = r.sub(size, "TD report body");
    parse_body(body, q.body, td15);
  }
  q.signature_size = r.u32("signature data length");
  q.signature_offset = r.offset();
  r.require(q.signature_size, "signature data");
  return q;
}

std::vector<std::string>
td_attribute_names(std::uint64_t attributes) {
  std::vector<std::string> out;
  for (unsigned bit = 0; bit < 64; ++bit) {
    if ((attributes & (std::uint64_t{1} << bit)) == 0) {
      continue;
    }
    switch (bit) {
    case 0:
      out.emplace_back("debug");
      break;
    case 28:
      out.emplace_back("sept_ve_disable");
      break;
    case 30:
      out.emplace_back("pks");
      break;
    case 31:
      out.emplace_back("kl");
      break;
    case 63:
      out.emplace_back("perfmon");
      break;
    default:
      out.push_back(fmt::format("bit{}", bit));
      break;
    }
  }
  return out;
}

} // namespace cvm::measure
