// SPDX-License-Identifier: Apache-2.0
#include "measurement/pe.hpp"

#include "lib/util/error.hpp"
#include "measurement/byte_reader.hpp"

#include <fmt/core.h>

#include <algorithm>

namespace cvm::measure {

namespace {

constexpr std::string_view k_what = "PE image";
constexpr std::uint16_t k_magic_pe32 = 0x10b;
constexpr std::uint16_t k_magic_pe32_plus = 0x20b;
constexpr std::uint32_t k_security_directory = 4;
constexpr std::size_t k_section_header_size = 40;
constexpr std::uint16_t k_max_sections = 96; // PE/COFF limit

// Section names longer than 8 bytes are "/<decimal offset>" into the COFF
// string table, which follows the symbol table. An unresolvable name is kept.
std::string
long_section_name(std::span<const std::byte> image,
                  std::uint32_t symbol_table,
                  std::uint32_t symbol_count,
                  const std::string &short_name) {
  std::uint64_t offset = 0;
  for (std::size_t i = 1; i < short_name.size(); ++i) {
    if (short_name[i] < '0' || short_name[i] > '9') {
      return short_name;
    }
    offset = offset * 10 + static_cast<std::uint64_t>(short_name[i] - '0');
  }
  const std::uint64_t start = std::uint64_t{symbol_table} + std::uint64_t{symbol_count} * 18 + offset;
  if (symbol_table == 0 || start >= image.size()) {
    return short_name;
  }
  std::string name;
  for (auto i = static_cast<std::size_t>(start); i < image.size() && name.size() < 256; ++i) {
    const auto c = static_cast<unsigned char>(image[i]);
    if (c == 0) {
      return name;
    }
    name.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  return short_name;
}

} // namespace

PeImage
parse_pe(std::span<const std::byte> image) {
  PeImage pe;
  pe.file_size = image.size();
  ByteReader r(image, k_what);
  if (r.u16("DOS magic") != 0x5a4d) {
    throw Error(ErrorKind::input, "{}: offset 0x0: expected DOS magic 'MZ'", k_what);
  }
  r.seek(0x3c, "e_lfanew");
  pe.pe_header_offset = r.u32("e_lfanew");
  r.seek(pe.pe_header_offset, "PE header (e_lfanew)");
  if (r.u32("PE signature") != 0x00004550) {
    throw Error(
        ErrorKind::input, R"({}: offset {:#x}: expected PE signature "PE\0\0")", k_what, pe.pe_header_offset);
  }
  pe.machine = r.u16("Machine");
  const std::uint16_t section_count = r.u16("NumberOfSections");
  r.skip(4, "TimeDateStamp");
  const std::uint32_t symbol_table = r.u32("PointerToSymbolTable");
  const std::uint32_t symbol_count = r.u32("NumberOfSymbols");
  const std::uint16_t optional_size = r.u16("SizeOfOptionalHeader");
  r.skip(2, "Characteristics");
  const std::size_t optional_offset = r.position();
  ByteReader opt = r.sub(optional_size, "optional header");
  const std::uint16_t magic = opt.u16("optional header Magic");
  if (magic != k_magic_pe32 && magic != k_magic_pe32_plus) {
    throw Error(ErrorKind::input,
                "{}: offset {:#x}: expected optional header magic 0x10b or 0x20b, found {:#x}",
                k_what,
                optional_offset,
                magic);
  }
  pe.pe32_plus = magic == k_magic_pe32_plus;
  // At the same offset in PE32 and PE32+ (BaseOfData + 32-bit ImageBase take
  // the room of the 64-bit ImageBase).
  opt.seek(44, "MajorImageVersion");
  pe.major_image_version = opt.u16("MajorImageVersion");
  opt.seek(60, "SizeOfHeaders");
  pe.size_of_headers = opt.u32("SizeOfHeaders");
  pe.checksum_offset = optional_offset + 64;
  opt.skip(4, "CheckSum");
  const std::size_t rva_count_at = pe.pe32_plus ? 108 : 92;
  opt.seek(rva_count_at, "NumberOfRvaAndSizes");
  pe.number_of_rva_and_sizes = opt.u32("NumberOfRvaAndSizes");
  if (pe.number_of_rva_and_sizes > k_security_directory) {
    const std::size_t entry = rva_count_at + 4 + std::size_t{8} * k_security_directory;
    opt.seek(entry, "certificate table directory entry");
    pe.security_entry_offset = optional_offset + entry;
    pe.certificate_table_offset = opt.u32("certificate table offset");
    pe.certificate_table_size = opt.u32("certificate table size");
  }
  if (pe.size_of_headers > image.size() || pe.size_of_headers < pe.checksum_offset + 4 ||
      (pe.security_entry_offset != 0 && pe.size_of_headers < pe.security_entry_offset + 8)) {
    throw Error(ErrorKind::input,
                "{}: SizeOfHeaders {:#x} does not cover the optional header or exceeds the "
                "{}-byte file",
                k_what,
                pe.size_of_headers,
                image.size());
  }
  if (section_count > k_max_sections) {
    throw Error(ErrorKind::input,
                "{}: NumberOfSections {} exceeds the PE/COFF limit of {}",
                k_what,
                section_count,
                k_max_sections);
  }
  r.seek(optional_offset + optional_size, "section table");
  for (std::uint16_t i = 0; i < section_count; ++i) {
    const std::size_t at = r.offset();
    ByteReader h = r.sub(k_section_header_size, "section header");
    PeSection s;
    const auto name = h.bytes(8, "section name");
    for (const auto b : name) {
      if (b == std::byte{0}) {
        break;
      }
      const auto c = static_cast<unsigned char>(b);
      s.name.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
    }
    s.virtual_size = h.u32("VirtualSize");
    s.virtual_address = h.u32("VirtualAddress");
    s.size_of_raw_data = h.u32("SizeOfRawData");
    s.pointer_to_raw_data = h.u32("PointerToRawData");
    if (std::uint64_t{s.pointer_to_raw_data} + s.size_of_raw_data > image.size()) {
      throw Error(ErrorKind::input,
                  "{}: section {} ('{}', header at {:#x}): raw data [{:#x}, +{:#x}) lies outside "
                  "the {}-byte file",
                  k_what,
                  i,
                  s.name,
                  at,
                  s.pointer_to_raw_data,
                  s.size_of_raw_data,
                  image.size());
    }
    if (s.name.size() > 1 && s.name[0] == '/') {
      s.name = long_section_name(image, symbol_table, symbol_count, s.name);
    }
    pe.sections.push_back(std::move(s));
  }
  return pe;
}

std::vector<std::byte>
authenticode_digest(std::span<const std::byte> image, crypto::HashAlgorithm algorithm) {
  const PeImage pe = parse_pe(image);
  crypto::Hasher h(algorithm);
  // 1. Headers up to CheckSum; then to the certificate directory entry (or to
  //    SizeOfHeaders without one); then after it to SizeOfHeaders.
  h.update(image.first(pe.checksum_offset));
  if (pe.security_entry_offset == 0) {
    h.update(image.subspan(pe.checksum_offset + 4, pe.size_of_headers - pe.checksum_offset - 4));
  } else {
    h.update(image.subspan(pe.checksum_offset + 4, pe.security_entry_offset - pe.checksum_offset - 4));
    h.update(image.subspan(pe.security_entry_offset + 8, pe.size_of_headers - pe.security_entry_offset - 8));
  }
  // 2. Sections in PointerToRawData order (edk2 uses a stable insertion sort).
  std::vector<PeSection> sorted = pe.sections;
  std::stable_sort(sorted.begin(), sorted.end(), [](const PeSection &a, const PeSection &b) {
    return a.pointer_to_raw_data < b.pointer_to_raw_data;
  });
  std::uint64_t sum = pe.size_of_headers;
  for (const auto &s : sorted) {
    if (s.size_of_raw_data == 0) {
      continue;
    }
    h.update(image.subspan(s.pointer_to_raw_data, s.size_of_raw_data));
    sum += s.size_of_raw_data;
  }
  // 3. Trailing data up to the certificate table.
  const std::uint64_t cert_size = pe.security_entry_offset == 0 ? 0 : pe.certificate_table_size;
  if (image.size() > sum) {
    if (image.size() > sum + cert_size) {
      h.update(image.subspan(static_cast<std::size_t>(sum),
                             static_cast<std::size_t>(image.size() - sum - cert_size)));
    } else if (image.size() < sum + cert_size) {
      throw Error(ErrorKind::input,
                  "{}: {} bytes is shorter than headers + sections ({}) + certificate table ({}); "
                  "edk2 refuses to measure it",
                  k_what,
                  image.size(),
                  sum,
                  cert_size);
    }
  }
  return h.final();
}

crypto::Sha384
authenticode_sha384(std::span<const std::byte> image) {
  return crypto::to_fixed<crypto::Sha384>(authenticode_digest(image, crypto::HashAlgorithm::sha384));
}

crypto::Sha256
authenticode_sha256(std::span<const std::byte> image) {
  return crypto::to_fixed<crypto::Sha256>(authenticode_digest(image, crypto::HashAlgorithm::sha256));
}

} // namespace cvm::measure
