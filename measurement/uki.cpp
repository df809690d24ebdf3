// SPDX-License-Identifier: Apache-2.0
#include "measurement/uki.hpp"

#include "lib/util/error.hpp"
#include "measurement/byte_reader.hpp"
#include "measurement/pe.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <limits>
#include <string_view>

namespace cvm::measure {

namespace {

constexpr std::string_view k_stub_what = "systemd-stub";
constexpr std::string_view k_uki_what = "UKI";
constexpr std::uint16_t k_machine_x86_64 = 0x8664;
constexpr std::uint32_t k_scn_cnt_code = 0x00000020;
constexpr std::uint32_t k_scn_cnt_initialized_data = 0x00000040;
constexpr std::uint32_t k_scn_mem_read = 0x40000000;
constexpr std::size_t k_section_header_size = 40;
constexpr std::size_t k_max_sections = 96;
constexpr std::uint32_t k_max_file_alignment = 0x10000;
constexpr std::size_t k_coff_symbol_size = 18;
constexpr std::string_view k_loader_info = "#### LoaderInfo: ";
constexpr std::string_view k_loader_info_end = " ####";
constexpr std::string_view k_stub_prefix = "systemd-stub ";

// Sections a UKI carries for the stub (systemd src/fundamental/uki.c, 257),
// as opposed to the stub's own code and data.
constexpr std::array<std::string_view, 11> k_payload_sections = {".linux",
                                                                 ".osrel",
                                                                 ".cmdline",
                                                                 ".initrd",
                                                                 ".ucode",
                                                                 ".splash",
                                                                 ".dtb",
                                                                 ".uname",
                                                                 ".pcrsig",
                                                                 ".pcrpkey",
                                                                 ".profile"};

bool
is_payload_section(std::string_view name) {
  return std::find(k_payload_sections.begin(), k_payload_sections.end(), name) != k_payload_sections.end();
}

// File offsets of the header fields parse_pe() does not return (PE/COFF
// specification, "COFF File Header" and "Optional Header (Image Only)").
struct HeaderFields {
  std::size_t number_of_sections = 0;      // u16
  std::size_t pointer_to_symbol_table = 0; // u32
  std::size_t number_of_symbols = 0;       // u32
  std::size_t size_of_initialized_data = 0;
  std::size_t section_alignment = 0;
  std::size_t file_alignment = 0;
  std::size_t size_of_image = 0;
  std::size_t size_of_headers = 0;
  std::size_t section_table = 0;
};

HeaderFields
header_fields(std::span<const std::byte> image, const PeImage &pe) {
  const std::size_t coff = pe.pe_header_offset + std::size_t{4};
  const std::size_t optional = coff + 20;
  HeaderFields f;
  f.number_of_sections = coff + 2;
  f.pointer_to_symbol_table = coff + 8;
  f.number_of_symbols = coff + 12;
  f.size_of_initialized_data = optional + 8;
  f.section_alignment = optional + 32;
  f.file_alignment = optional + 36;
  f.size_of_image = optional + 56;
  f.size_of_headers = optional + 60;
  f.section_table = optional + read_le_at(image, coff + 16, 2, k_stub_what, "SizeOfOptionalHeader");
  return f;
}

std::uint32_t
u32_at(std::span<const std::byte> image, std::size_t offset, std::string_view field) {
  return static_cast<std::uint32_t>(read_le_at(image, offset, 4, k_stub_what, field));
}

void
put_le(std::vector<std::byte> &out, std::size_t offset, std::uint64_t value, std::size_t width) {
  for (std::size_t i = 0; i < width; ++i) {
    out.at(offset + i) = static_cast<std::byte>((value >> (8U * i)) & 0xffU);
  }
}

std::uint64_t
round_up(std::uint64_t value, std::uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

bool
is_power_of_two(std::uint32_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

std::span<const std::byte>
as_bytes(const std::string &s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

// The text between "#### LoaderInfo: " and " ####" in `data`, if any.
std::optional<std::string>
loader_info(std::span<const std::byte> data) {
  const std::string_view text(reinterpret_cast<const char *>(data.data()), data.size());
  const auto start = text.find(k_loader_info);
  if (start == std::string_view::npos) {
    return std::nullopt;
  }
  const auto from = start + k_loader_info.size();
  const auto end = text.find(k_loader_info_end, from);
  if (end == std::string_view::npos || end - from > 256) {
    return std::nullopt;
  }
  const auto value = text.substr(from, end - from);
  if (!std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c < 0x7f; })) {
    return std::nullopt;
  }
  return std::string(value);
}

// LoaderInfo from .sdmagic (systemd >= 250 puts it there); else from any
// section that is not UKI payload (systemd 247 keeps it in .data).
std::string
find_stub_version(std::span<const std::byte> image, const PeImage &pe) {
  const auto raw = [&](const PeSection &s) {
    return image.subspan(s.pointer_to_raw_data, s.size_of_raw_data);
  };
  for (const auto &s : pe.sections) {
    if (s.name == ".sdmagic") {
      if (auto v = loader_info(raw(s))) {
        return *v;
      }
    }
  }
  for (const auto &s : pe.sections) {
    if (s.name != ".sdmagic" && !is_payload_section(s.name)) {
      if (auto v = loader_info(raw(s))) {
        return *v;
      }
    }
  }
  return {};
}

struct NewSection {
  std::string_view name;
  std::span<const std::byte> data;
  std::uint32_t characteristics = 0;
};

std::vector<NewSection>
sections_to_add(const UkiSections &s) {
  if (s.kernel.empty()) {
    throw Error(ErrorKind::input, "{}: the kernel (.linux) is empty", k_uki_what);
  }
  if (s.cmdline.find('\0') != std::string::npos) {
    throw Error(ErrorKind::input,
                "{}: the command line contains a NUL byte; systemd-stub would cut it there",
                k_uki_what);
  }
  constexpr std::uint32_t data = k_scn_cnt_initialized_data | k_scn_mem_read;
  std::vector<NewSection> out;
  const auto add_text = [&](std::string_view name, const std::string &text) {
    if (!text.empty()) {
      out.push_back({name, as_bytes(text), data});
    }
  };
  add_text(".osrel", s.osrel);
  add_text(".cmdline", s.cmdline);
  add_text(".uname", s.uname);
  if (s.initrd && !s.initrd->empty()) {
    out.push_back({".initrd", *s.initrd, data});
  }
  out.push_back({".linux", s.kernel, k_scn_cnt_code | k_scn_mem_read});
  return out;
}

// Checks `stub` is something assemble_uki() may extend; throws otherwise.
void
check_stub(std::span<const std::byte> stub, const PeImage &pe, const std::vector<NewSection> &added) {
  if (!pe.pe32_plus) {
    throw Error(ErrorKind::input, "{}: not a PE32+ image (optional header magic 0x10b)", k_stub_what);
  }
  if (pe.machine != k_machine_x86_64) {
    throw Error(ErrorKind::input,
                "{}: Machine is {:#06x}, expected {:#06x} (x86-64)",
                k_stub_what,
                pe.machine,
                k_machine_x86_64);
  }
  const std::string version = find_stub_version(stub, pe);
  if (version.empty()) {
    throw Error(ErrorKind::input,
                "{}: no \"{}systemd-stub ...{}\" marker (no .sdmagic section): not a systemd EFI stub "
                "(linuxx64.efi.stub from systemd-boot-efi)",
                k_stub_what,
                k_loader_info,
                k_loader_info_end);
  }
  if (!version.starts_with(k_stub_prefix)) {
    throw Error(ErrorKind::input, "{}: the image is \"{}\", not systemd-stub", k_stub_what, version);
  }
  if (pe.security_entry_offset != 0 && (pe.certificate_table_offset != 0 || pe.certificate_table_size != 0)) {
    throw Error(ErrorKind::input,
                "{}: the stub is signed (certificate table at {:#x}); sign the UKI instead",
                k_stub_what,
                pe.certificate_table_offset);
  }
  for (const auto &s : pe.sections) {
    for (const auto &n : added) {
      if (s.name.starts_with(n.name)) {
        throw Error(ErrorKind::input,
                    "{}: the stub already has a section '{}'{}; it is not a bare stub",
                    k_stub_what,
                    s.name,
                    s.name == n.name ? std::string{}
                                     : fmt::format(" (systemd-stub matches '{}' by prefix)", n.name));
      }
    }
  }
}

} // namespace

std::vector<std::byte>
assemble_uki(std::span<const std::byte> stub, const UkiSections &s) {
  const auto added = sections_to_add(s);
  const PeImage pe = parse_pe(stub);
  check_stub(stub, pe, added);
  const HeaderFields f = header_fields(stub, pe);
  const std::uint32_t section_alignment = u32_at(stub, f.section_alignment, "SectionAlignment");
  const std::uint32_t file_alignment = u32_at(stub, f.file_alignment, "FileAlignment");
  if (!is_power_of_two(section_alignment) || !is_power_of_two(file_alignment) ||
      file_alignment > k_max_file_alignment) {
    throw Error(ErrorKind::input,
                "{}: SectionAlignment {:#x} and FileAlignment {:#x} must be powers of two, FileAlignment "
                "at most 64 KiB (PE/COFF)",
                k_stub_what,
                section_alignment,
                file_alignment);
  }
  if (pe.sections.size() + added.size() > k_max_sections) {
    throw Error(ErrorKind::input,
                "{}: {} + {} sections exceed the PE/COFF limit of {}",
                k_stub_what,
                pe.sections.size(),
                added.size(),
                k_max_sections);
  }

  // Where the stub's section data ends in the file and its sections in memory.
  std::uint64_t data_end = pe.size_of_headers;
  std::uint64_t first_data = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t memory_end = 0;
  for (const auto &sec : pe.sections) {
    if (sec.size_of_raw_data != 0) {
      if (sec.pointer_to_raw_data % file_alignment != 0 || sec.size_of_raw_data % file_alignment != 0) {
        throw Error(ErrorKind::input,
                    "{}: section '{}' raw data [{:#x}, +{:#x}) is not aligned to FileAlignment {:#x}; "
                    "refusing to move it",
                    k_stub_what,
                    sec.name,
                    sec.pointer_to_raw_data,
                    sec.size_of_raw_data,
                    file_alignment);
      }
      data_end =
          std::max<std::uint64_t>(data_end, std::uint64_t{sec.pointer_to_raw_data} + sec.size_of_raw_data);
      first_data = std::min<std::uint64_t>(first_data, sec.pointer_to_raw_data);
    }
    const std::uint32_t size = sec.virtual_size != 0 ? sec.virtual_size : sec.size_of_raw_data;
    memory_end = std::max<std::uint64_t>(memory_end, std::uint64_t{sec.virtual_address} + size);
  }

  // Trailing bytes: only a COFF symbol table (+ string table) that ends the
  // file, which ukify strips too (Debian's 252 stub has one); anything else,
  // or a symbol table elsewhere, is refused. Like ukify's output, the file
  // header's Characteristics stay as they are (ukify sets pefile's
  // IMAGE_FILE_LOCAL_SYMS_STRIPPED attribute, which pefile does not write back).
  const std::uint32_t symbols = u32_at(stub, f.pointer_to_symbol_table, "PointerToSymbolTable");
  const std::uint32_t symbol_count = u32_at(stub, f.number_of_symbols, "NumberOfSymbols");
  const bool strip_symbols = symbols != 0 || stub.size() > data_end;
  if (strip_symbols) {
    std::uint64_t table_end = std::uint64_t{symbols} + std::uint64_t{symbol_count} * k_coff_symbol_size;
    if (symbols != 0 && table_end + 4 <= stub.size()) {
      table_end += read_le_at(stub, table_end, 4, k_stub_what, "COFF string table size");
    }
    const bool ends_file = symbols != 0 && symbols >= data_end && table_end == stub.size();
    const auto zero_gap = [&] {
      return std::all_of(stub.begin() + static_cast<std::ptrdiff_t>(data_end),
                         stub.begin() + static_cast<std::ptrdiff_t>(symbols),
                         [](std::byte b) { return b == std::byte{0}; });
    };
    if (!ends_file || !zero_gap()) {
      throw Error(ErrorKind::input,
                  "{}: the {} bytes after the last section's data at {:#x} (PointerToSymbolTable {:#x}) "
                  "are not a COFF symbol table that ends the file; refusing to guess what they are",
                  k_stub_what,
                  stub.size() - data_end,
                  data_end,
                  symbols);
    }
  }

  // Room for the new section headers: zeroed bytes between the section table
  // and the first section's data (and SizeOfHeaders).
  const std::uint64_t table_end = f.section_table + pe.sections.size() * k_section_header_size;
  const std::uint64_t new_table_end = table_end + added.size() * k_section_header_size;
  const std::uint64_t room_end = std::min<std::uint64_t>(first_data, pe.size_of_headers);
  const bool room_is_zero =
      new_table_end <= room_end && std::all_of(stub.begin() + static_cast<std::ptrdiff_t>(table_end),
                                               stub.begin() + static_cast<std::ptrdiff_t>(new_table_end),
                                               [](std::byte b) { return b == std::byte{0}; });
  if (!room_is_zero) {
    throw Error(ErrorKind::input,
                "{}: no room for {} more section headers: the section table ends at {:#x} and the first "
                "section's data starts at {:#x} (SizeOfHeaders {:#x}){}; refusing to move section data",
                k_stub_what,
                added.size(),
                table_end,
                first_data == std::numeric_limits<std::uint64_t>::max() ? pe.size_of_headers : first_data,
                pe.size_of_headers,
                new_table_end <= room_end ? ", and the bytes there are not zero" : "");
  }

  // The stub without its symbol table, then each section at the next aligned
  // file offset and virtual address.
  std::vector<std::byte> out(stub.begin(), stub.begin() + static_cast<std::ptrdiff_t>(data_end));
  std::uint64_t next_va = round_up(memory_end, section_alignment);
  std::uint64_t initialized_data = u32_at(stub, f.size_of_initialized_data, "SizeOfInitializedData");
  std::uint64_t image_end = 0;
  std::size_t header_at = static_cast<std::size_t>(table_end);
  for (const auto &n : added) {
    const std::uint64_t raw_at = round_up(out.size(), file_alignment);
    const std::uint64_t raw_size = round_up(n.data.size(), file_alignment);
    const std::uint64_t va = next_va;
    image_end = va + n.data.size();
    initialized_data += n.data.size();
    if (raw_at + raw_size > std::numeric_limits<std::uint32_t>::max() ||
        round_up(image_end, section_alignment) > std::numeric_limits<std::uint32_t>::max() ||
        initialized_data > std::numeric_limits<std::uint32_t>::max()) {
      throw Error(ErrorKind::input,
                  "{}: section {} ({} bytes) would put the image beyond 4 GiB",
                  k_uki_what,
                  n.name,
                  n.data.size());
    }
    out.resize(static_cast<std::size_t>(raw_at), std::byte{0});
    out.insert(out.end(), n.data.begin(), n.data.end());
    out.resize(static_cast<std::size_t>(raw_at + raw_size), std::byte{0});
    for (std::size_t i = 0; i < n.name.size(); ++i) {
      out[header_at + i] = static_cast<std::byte>(n.name[i]);
    }
    put_le(out, header_at + 8, n.data.size(), 4);
    put_le(out, header_at + 12, va, 4);
    put_le(out, header_at + 16, raw_size, 4);
    put_le(out, header_at + 20, raw_at, 4);
    put_le(out, header_at + 36, n.characteristics, 4);
    header_at += k_section_header_size;
    next_va = round_up(image_end, section_alignment);
  }
  put_le(out, f.number_of_sections, pe.sections.size() + added.size(), 2);
  put_le(out, f.size_of_initialized_data, initialized_data, 4);
  put_le(out, f.size_of_image, round_up(image_end, section_alignment), 4);
  put_le(out, pe.checksum_offset, 0, 4);
  if (strip_symbols) {
    put_le(out, f.pointer_to_symbol_table, 0, 4);
    put_le(out, f.number_of_symbols, 0, 4);
  }
  return out;
}

UkiInfo
parse_uki(std::span<const std::byte> image) {
  const PeImage pe = parse_pe(image);
  UkiInfo info;
  info.stub_version = find_stub_version(image, pe);
  for (const auto &s : pe.sections) {
    if (info.sections.contains(s.name)) {
      throw Error(ErrorKind::input, "{}: section '{}' occurs twice", k_uki_what, s.name);
    }
    if (is_payload_section(s.name) && s.virtual_size > s.size_of_raw_data) {
      throw Error(ErrorKind::input,
                  "{}: section '{}' has VirtualSize {:#x} beyond its {:#x} bytes of raw data",
                  k_uki_what,
                  s.name,
                  s.virtual_size,
                  s.size_of_raw_data);
    }
    const auto data =
        image.subspan(s.pointer_to_raw_data, std::min<std::size_t>(s.virtual_size, s.size_of_raw_data));
    info.sections.emplace(s.name, std::vector<std::byte>(data.begin(), data.end()));
  }
  const auto linux_section = info.sections.find(".linux");
  if (linux_section == info.sections.end() || linux_section->second.empty()) {
    throw Error(ErrorKind::input, "{}: no .linux section: not a unified kernel image", k_uki_what);
  }
  return info;
}

std::optional<int>
systemd_stub_major(const UkiInfo &info) {
  std::string_view v = info.stub_version;
  if (!v.starts_with(k_stub_prefix)) {
    return std::nullopt;
  }
  v.remove_prefix(k_stub_prefix.size());
  if (v.starts_with('v')) {
    v.remove_prefix(1);
  }
  int major = 0;
  std::size_t digits = 0;
  while (digits < v.size() && digits < 5 && v[digits] >= '0' && v[digits] <= '9') {
    major = major * 10 + (v[digits] - '0');
    ++digits;
  }
  if (digits == 0 || digits == 5) {
    return std::nullopt;
  }
  return major;
}

namespace {

void
append_text(std::vector<std::byte> &out, std::string_view text) {
  std::transform(
      text.begin(), text.end(), std::back_inserter(out), [](char c) { return static_cast<std::byte>(c); });
}

void
pad4(std::vector<std::byte> &out) {
  out.resize((out.size() + 3U) / 4U * 4U, std::byte{0});
}

// One newc record header: the magic and thirteen 8-digit lower-case hex fields.
void
cpio_header(std::vector<std::byte> &out,
            std::uint32_t inode,
            std::uint32_t mode,
            std::size_t size,
            std::size_t name_size) {
  append_text(out, "070701");
  const std::array<std::uint64_t, 13> fields = {inode, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, name_size, 0};
  for (const auto f : fields) {
    append_text(out, fmt::format("{:08x}", f));
  }
}

} // namespace

std::vector<std::byte>
stub_literal_cpio(std::string_view dir, std::string_view file, std::span<const std::byte> data) {
  if (data.size() > std::numeric_limits<std::uint32_t>::max()) {
    throw Error(ErrorKind::input, "{}: {} bytes do not fit a cpio record", file, data.size());
  }
  std::vector<std::byte> out;
  std::uint32_t inode = 1;
  // Every leading directory of `dir` (mode 0555, as `dir` itself here), then `dir`.
  for (std::size_t slash = dir.find('/'); slash != std::string_view::npos; slash = dir.find('/', slash + 1)) {
    if (slash == 0) {
      continue;
    }
    cpio_header(out, inode++, 0040555, 0, slash + 1);
    append_text(out, dir.substr(0, slash));
    out.push_back(std::byte{0});
    pad4(out);
  }
  cpio_header(out, inode++, 0040555, 0, dir.size() + 1);
  append_text(out, dir);
  out.push_back(std::byte{0});
  pad4(out);
  cpio_header(out, inode, 0100444, data.size(), dir.size() + file.size() + 2);
  append_text(out, dir);
  out.push_back(std::byte{'/'});
  append_text(out, file);
  out.push_back(std::byte{0});
  pad4(out);
  out.insert(out.end(), data.begin(), data.end());
  pad4(out);
  // The trailer as systemd writes it (its name-size digit is upper case).
  append_text(out, "070701");
  for (const std::string_view field : {"00000000",
                                       "00000000",
                                       "00000000",
                                       "00000000",
                                       "00000001",
                                       "00000000",
                                       "00000000",
                                       "00000000",
                                       "00000000",
                                       "00000000",
                                       "00000000",
                                       "0000000B",
                                       "00000000"}) {
    append_text(out, field);
  }
  append_text(out, "TRAILER!!!");
  out.insert(out.end(), 4, std::byte{0});
  return out;
}

std::optional<std::vector<std::byte>>
systemd_stub_257_initrd(const UkiInfo &info) {
  std::vector<std::vector<std::byte>> parts;
  if (const auto it = info.sections.find(".initrd"); it != info.sections.end() && !it->second.empty()) {
    parts.push_back(it->second);
  }
  if (const auto it = info.sections.find(".osrel"); it != info.sections.end() && !it->second.empty()) {
    parts.push_back(stub_literal_cpio(".extra", "os-release", it->second));
  }
  if (parts.empty()) {
    return std::nullopt;
  }
  if (parts.size() == 1) {
    return parts.front();
  }
  std::vector<std::byte> out;
  for (const auto &p : parts) {
    out.insert(out.end(), p.begin(), p.end());
    pad4(out);
  }
  return out;
}

} // namespace cvm::measure
