// SPDX-License-Identifier: Apache-2.0
#include "measurement/tdvf.hpp"

#include "lib/util/error.hpp"
#include "measurement/byte_reader.hpp"
#include "measurement/uefi.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>

namespace cvm::measure {

namespace {

constexpr std::string_view k_what = "firmware";
constexpr std::size_t k_table_footer_distance = 0x20;  // table ends 32 bytes before EOF
constexpr std::size_t k_entry_trailer = 18;            // u16 length + 16-byte GUID
constexpr std::uint32_t k_tdvf_signature = 0x46564454; // 'TDVF'
constexpr std::uint64_t k_page = 4096;
constexpr std::uint64_t k_chunk = 256;
constexpr std::size_t k_record = 128;
// Bounds on what the sections may add, so a corrupt size cannot make us hash
// for minutes: 1 GiB of TD memory added at build time, of which at most 64 MiB
// measured content (OVMF's BFV is 2-4 MiB; td-shim payloads are a kernel).
constexpr std::uint64_t k_max_total_pages = (std::uint64_t{1} << 30U) / k_page;
constexpr std::uint64_t k_max_extended_pages = (std::uint64_t{64} << 20U) / k_page;

Guid
guid_at(std::span<const std::byte> data, std::size_t offset) {
  Guid g;
  const auto bytes = checked_subspan(data, offset, 16, k_what, "GUID");
  std::copy(bytes.begin(), bytes.end(), g.bytes.begin());
  return g;
}

const Guid k_table_footer_guid = parse_guid("96b582de-1fb2-45f7-baea-a366c55a082d");
const Guid k_tdx_metadata_offset_guid = parse_guid("e47a6535-984a-4798-865e-4685a7bf8ec2");
const Guid k_tdx_metadata_guid = parse_guid("e9eaf9f3-168e-44d5-a8eb-7f4d8738f6ae");

// Offset (from the end of the file) of the TDVF descriptor, from the GUIDed table.
std::uint32_t
find_metadata_offset(std::span<const std::byte> fw) {
  if (fw.size() < k_table_footer_distance + k_entry_trailer) {
    throw Error(ErrorKind::input,
                "{}: {} bytes is too small for an OVMF image with a GUIDed table",
                k_what,
                fw.size());
  }
  const std::size_t end = fw.size() - k_table_footer_distance;
  if (guid_at(fw, end - 16) != k_table_footer_guid) {
    throw Error(ErrorKind::input,
                "{}: no OVMF GUIDed table footer (96b582de-…) at offset {:#x}; not a unified "
                "OVMF/TDVF image",
                k_what,
                end - 16);
  }
  const auto table_len = static_cast<std::size_t>(read_le_at(fw, end - 18, 2, k_what, "table length"));
  if (table_len < k_entry_trailer || table_len > end) {
    throw Error(ErrorKind::input,
                "{}: GUIDed table length {} at offset {:#x} is out of range",
                k_what,
                table_len,
                end - 18);
  }
  const std::size_t start = end - table_len;
  std::size_t cursor = end - k_entry_trailer;
  while (cursor > start) {
    if (cursor - start < k_entry_trailer) {
      throw Error(ErrorKind::input, "{}: GUIDed table entry at offset {:#x} is truncated", k_what, cursor);
    }
    const Guid guid = guid_at(fw, cursor - 16);
    const auto entry_len =
        static_cast<std::size_t>(read_le_at(fw, cursor - 18, 2, k_what, "GUIDed table entry length"));
    if (entry_len < k_entry_trailer || entry_len > cursor - start) {
      throw Error(ErrorKind::input,
                  "{}: GUIDed table entry length {} at offset {:#x} is out of range",
                  k_what,
                  entry_len,
                  cursor - 18);
    }
    if (guid == k_tdx_metadata_offset_guid) {
      if (entry_len < k_entry_trailer + 4) {
        throw Error(ErrorKind::input,
                    "{}: TDX metadata offset entry at offset {:#x} has no data",
                    k_what,
                    cursor - entry_len);
      }
      return static_cast<std::uint32_t>(read_le_at(fw, cursor - entry_len, 4, k_what, "TDX metadata offset"));
    }
    cursor -= entry_len;
  }
  throw Error(ErrorKind::input,
              "{}: the GUIDed table has no TDX metadata entry (e47a6535-…); this firmware does "
              "not support TDX (e.g. OVMF_CODE_4M.fd)",
              k_what);
}

void
check_section(const TdvfSection &s, std::size_t index, std::size_t entry_offset, std::size_t fw_size) {
  const auto fail = [&](std::string_view problem) {
    throw Error(ErrorKind::input,
                "{}: TDVF section {} ({}) at offset {:#x}: {}",
                k_what,
                index,
                tdvf_section_type_name(s.type),
                entry_offset,
                problem);
  };
  if (s.type > tdvf_section_type::k_td_params) {
    fail(fmt::format("unknown section type {}", s.type));
  }
  if (s.memory_address % k_page != 0) {
    fail(fmt::format("MemoryAddress {:#x} is not 4 KiB aligned", s.memory_address));
  }
  if (s.memory_data_size % k_page != 0) {
    fail(fmt::format("MemoryDataSize {:#x} is not a multiple of 4 KiB", s.memory_data_size));
  }
  if (s.raw_data_size > s.memory_data_size) {
    fail(fmt::format("RawDataSize {:#x} exceeds MemoryDataSize {:#x}", s.raw_data_size, s.memory_data_size));
  }
  if (s.memory_address + s.memory_data_size < s.memory_address) {
    fail("memory range wraps around");
  }
  if (std::uint64_t{s.data_offset} + s.raw_data_size > fw_size) {
    fail(fmt::format(
        "raw data [{:#x}, +{:#x}) lies outside the {}-byte file", s.data_offset, s.raw_data_size, fw_size));
  }
  const bool needs_data = s.type == tdvf_section_type::k_bfv || s.type == tdvf_section_type::k_cfv;
  const bool forbids_data = s.type == tdvf_section_type::k_td_hob || s.type == tdvf_section_type::k_temp_mem;
  if (needs_data && s.raw_data_size == 0) {
    fail("BFV/CFV sections must carry data (RawDataSize is 0)");
  }
  if (forbids_data && s.raw_data_size != 0) {
    fail("TD_HOB/TEMP_MEM sections must not carry data");
  }
}

class MrtdHasher {
public:
  void
  page_add(std::uint64_t gpa) {
    record("MEM.PAGE.ADD", gpa);
  }

  void
  mr_extend(std::uint64_t gpa, std::span<const std::byte> chunk) {
    record("MR.EXTEND", gpa);
    m_hasher.update(chunk);
  }

  crypto::Sha384
  finish() {
    return crypto::to_fixed<crypto::Sha384>(m_hasher.final());
  }

private:
  void
  record(std::string_view tag, std::uint64_t gpa) {
    std::array<std::byte, k_record> buf{};
    std::transform(tag.begin(), tag.end(), buf.begin(), [](char c) { return static_cast<std::byte>(c); });
    for (std::size_t i = 0; i < 8; ++i) {
      buf[16 + i] = static_cast<std::byte>((gpa >> (8U * i)) & 0xffU);
    }
    m_hasher.update(buf);
  }

  crypto::Hasher m_hasher{crypto::HashAlgorithm::sha384};
};

// The 256-byte chunk at `offset` within the section's memory image: the raw
// data, zero-filled past RawDataSize (QEMU copies the raw data into a zeroed region).
std::span<const std::byte>
section_chunk(std::span<const std::byte> fw,
              const TdvfSection &s,
              std::uint64_t offset,
              std::array<std::byte, k_chunk> &scratch) {
  if (offset + k_chunk <= s.raw_data_size) {
    return fw.subspan(static_cast<std::size_t>(s.data_offset + offset), k_chunk);
  }
  scratch.fill(std::byte{0});
  if (offset < s.raw_data_size) {
    const auto n = static_cast<std::size_t>(s.raw_data_size - offset);
    const auto src = fw.subspan(static_cast<std::size_t>(s.data_offset + offset), n);
    std::copy(src.begin(), src.end(), scratch.begin());
  }
  return scratch;
}

} // namespace

std::string
tdvf_section_type_name(std::uint32_t type) {
  static constexpr std::array<std::string_view, 9> k_names = {
      "BFV", "CFV", "TD_HOB", "TEMP_MEM", "PERM_MEM", "PAYLOAD", "PAYLOAD_PARAM", "TD_INFO", "TD_PARAMS"};
  if (type < k_names.size()) {
    return std::string(k_names[type]);
  }
  return fmt::format("type{}", type);
}

std::string
to_string(PageAddOrder order) {
  return order == PageAddOrder::single_pass ? "single_pass" : "two_pass";
}

TdvfMetadata
parse_tdvf_metadata(std::span<const std::byte> firmware) {
  const std::uint32_t from_end = find_metadata_offset(firmware);
  if (from_end == 0 || from_end > firmware.size()) {
    throw Error(ErrorKind::input,
                "{}: TDX metadata offset {:#x} (from the end) lies outside the {}-byte file",
                k_what,
                from_end,
                firmware.size());
  }
  TdvfMetadata md;
  md.descriptor_offset = firmware.size() - from_end;
  md.has_metadata_guid =
      md.descriptor_offset >= 16 && guid_at(firmware, md.descriptor_offset - 16) == k_tdx_metadata_guid;
  ByteReader r(firmware.subspan(md.descriptor_offset), k_what, md.descriptor_offset);
  const std::uint32_t signature = r.u32("TDVF descriptor signature");
  if (signature != k_tdvf_signature) {
    throw Error(ErrorKind::input,
                "{}: TDVF descriptor at offset {:#x}: expected signature 'TDVF', found {:#x}",
                k_what,
                md.descriptor_offset,
                signature);
  }
  const std::uint32_t length = r.u32("TDVF descriptor length");
  md.version = r.u32("TDVF descriptor version");
  const std::uint32_t count = r.u32("NumberOfSectionEntries");
  if (md.version != 1) {
    throw Error(ErrorKind::input,
                "{}: TDVF descriptor at offset {:#x}: expected version 1, found {}",
                k_what,
                md.descriptor_offset,
                md.version);
  }
  if (count == 0 || count > r.remaining() / 32 || length != 16 + 32ULL * count) {
    throw Error(ErrorKind::input,
                "{}: TDVF descriptor at offset {:#x}: {} sections with length {} is inconsistent "
                "(expected length 16 + 32 x sections, within the file)",
                k_what,
                md.descriptor_offset,
                count,
                length);
  }
  std::uint64_t total_pages = 0;
  std::uint64_t extended_pages = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::size_t entry_offset = r.offset();
    TdvfSection s;
    s.data_offset = r.u32("DataOffset");
    s.raw_data_size = r.u32("RawDataSize");
    s.memory_address = r.u64("MemoryAddress");
    s.memory_data_size = r.u64("MemoryDataSize");
    s.type = r.u32("Type");
    s.attributes = r.u32("Attributes");
    check_section(s, i, entry_offset, firmware.size());
    total_pages += s.memory_data_size / k_page;
    if ((s.attributes & k_tdvf_attr_mr_extend) != 0) {
      extended_pages += s.memory_data_size / k_page;
    }
    if (total_pages > k_max_total_pages || extended_pages > k_max_extended_pages) {
      throw Error(ErrorKind::input,
                  "{}: TDVF sections add more than {} pages (or extend more than {}); the "
                  "metadata at offset {:#x} is implausible",
                  k_what,
                  k_max_total_pages,
                  k_max_extended_pages,
                  md.descriptor_offset);
    }
    md.sections.push_back(s);
  }
  return md;
}

crypto::Sha384
compute_mrtd(std::span<const std::byte> firmware, const TdvfMetadata &metadata, PageAddOrder order) {
  MrtdHasher h;
  std::array<std::byte, k_chunk> scratch{};
  for (const auto &s : metadata.sections) {
    // Re-validate: `metadata` may have been built by hand.
    check_section(s, 0, metadata.descriptor_offset, firmware.size());
    const std::uint64_t pages = s.memory_data_size / k_page;
    const bool add = (s.attributes & k_tdvf_attr_page_aug) == 0;
    const bool extend = (s.attributes & k_tdvf_attr_mr_extend) != 0;
    const auto add_page = [&](std::uint64_t p) {
      if (add) {
        h.page_add(s.memory_address + p * k_page);
      }
    };
    const auto extend_page = [&](std::uint64_t p) {
      if (!extend) {
        return;
      }
      for (std::uint64_t c = 0; c < k_page / k_chunk; ++c) {
        const std::uint64_t off = p * k_page + c * k_chunk;
        h.mr_extend(s.memory_address + off, section_chunk(firmware, s, off, scratch));
      }
    };
    if (order == PageAddOrder::single_pass) {
      for (std::uint64_t p = 0; p < pages; ++p) {
        add_page(p);
        extend_page(p);
      }
    } else {
      for (std::uint64_t p = 0; p < pages; ++p) {
        add_page(p);
      }
      for (std::uint64_t p = 0; p < pages; ++p) {
        extend_page(p);
      }
    }
  }
  return h.finish();
}

MrtdCandidates
compute_mrtd_candidates(std::span<const std::byte> firmware, const TdvfMetadata &metadata) {
  return {compute_mrtd(firmware, metadata, PageAddOrder::single_pass),
          compute_mrtd(firmware, metadata, PageAddOrder::two_pass)};
}

std::span<const std::byte>
cfv_bytes(std::span<const std::byte> firmware, const TdvfMetadata &metadata) {
  for (const auto &s : metadata.sections) {
    if (s.type == tdvf_section_type::k_cfv) {
      return checked_subspan(firmware, s.data_offset, s.raw_data_size, k_what, "CFV raw data");
    }
  }
  throw Error(ErrorKind::input, "{}: the TDVF metadata has no CFV section", k_what);
}

} // namespace cvm::measure
