// SPDX-License-Identifier: Apache-2.0
#pragma once

// A synthetic systemd EFI stub (linuxx64.efi.stub) for the tests of UKI
// assembly (test_uki.cpp) and of the make-uki stage: a minimal PE32+ x86-64
// image that measure::assemble_uki accepts, and the byte helpers it is
// built with.

#include "tests/unit/measurement/test_support.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cvm::measure::test {

inline constexpr std::size_t k_pe = 0x80;
inline constexpr std::size_t k_opt = k_pe + 24;
inline constexpr std::size_t k_table = k_opt + 240;
inline constexpr std::uint32_t k_file_alignment = 0x200;
inline constexpr std::uint32_t k_section_alignment = 0x1000;
inline constexpr std::uint32_t k_data_rw = 0xc0000040;

inline std::vector<std::byte>
bytes_of(std::string_view s) {
  const auto b = std::as_bytes(std::span(s.data(), s.size()));
  return {b.begin(), b.end()};
}

inline std::vector<std::byte>
pseudo_random(std::size_t size, std::uint64_t seed) {
  Lcg rng(seed);
  std::vector<std::byte> out(size);
  for (auto &b : out) {
    b = static_cast<std::byte>(rng.next() & 0xffU);
  }
  return out;
}

inline std::uint64_t
round_up(std::uint64_t v, std::uint64_t a) {
  return (v + a - 1) / a * a;
}

// What the synthetic stub looks like; each refusal test changes one thing.
struct StubSpec {
  std::uint16_t machine = 0x8664;
  std::uint16_t magic = 0x20b;
  std::string loader_info = "#### LoaderInfo: systemd-stub 252.39-1~deb12u2 ####";
  bool sdmagic_section = true;      // false: the string sits in .data, as in systemd 247
  std::uint32_t first_data = 0x400; // SizeOfHeaders = first section's raw data
  std::vector<std::string> extra_sections;
  std::size_t symbols = 0; // > 0: a trailing COFF symbol + string table
  std::size_t trailing_junk = 0;
  std::uint32_t certificate_size = 0;
  bool unaligned_data = false;
};

struct SectionSpec {
  std::string name;
  std::vector<std::byte> data;
  std::uint32_t characteristics;
};

// A minimal PE32+ x86-64 image shaped like linuxx64.efi.stub: .text, .data,
// optional extra sections, .sdmagic; FileAlignment 0x200, SectionAlignment 0x1000.
inline std::vector<std::byte>
make_stub(const StubSpec &spec = {}) {
  std::vector<SectionSpec> sections;
  sections.push_back({".text", pseudo_random(0x180, 1), 0x60000020});
  auto data = pseudo_random(0x1e0, 2);
  if (!spec.sdmagic_section) {
    std::copy(spec.loader_info.begin(), spec.loader_info.end(), reinterpret_cast<char *>(data.data()) + 0x40);
  }
  sections.push_back({".data", data, k_data_rw});
  for (const auto &name : spec.extra_sections) {
    sections.push_back({name, pseudo_random(0x30, 3), 0x40000040});
  }
  if (spec.sdmagic_section) {
    auto magic = bytes_of(spec.loader_info);
    magic.push_back(std::byte{0});
    sections.push_back({".sdmagic", magic, 0x40000040});
  }

  std::vector<std::byte> img(spec.first_data);
  put_at(img, 0, 0x5a4d, 2);
  put_at(img, 0x3c, k_pe, 4);
  put_at(img, k_pe, 0x00004550, 4);
  put_at(img, k_pe + 4, spec.machine, 2);
  put_at(img, k_pe + 6, sections.size(), 2);
  put_at(img, k_pe + 8, 0x5eadbeef, 4); // TimeDateStamp: must survive
  put_at(img, k_pe + 20, 240, 2);
  put_at(img, k_pe + 22, 0x0206, 2);
  put_at(img, k_opt, spec.magic, 2);
  put_at(img, k_opt + 4, 0x200, 4);   // SizeOfCode
  put_at(img, k_opt + 8, 0x400, 4);   // SizeOfInitializedData
  put_at(img, k_opt + 16, 0x1000, 4); // AddressOfEntryPoint
  put_at(img, k_opt + 32, k_section_alignment, 4);
  put_at(img, k_opt + 36, k_file_alignment, 4);
  put_at(img, k_opt + 60, spec.first_data, 4); // SizeOfHeaders
  put_at(img, k_opt + 64, 0x1234, 4);          // CheckSum: must become 0
  put_at(img, k_opt + 68, 10, 2);              // Subsystem: EFI application
  put_at(img, k_opt + 108, 16, 4);             // NumberOfRvaAndSizes
  std::uint32_t va = k_section_alignment;
  for (std::size_t i = 0; i < sections.size(); ++i) {
    const auto &s = sections[i];
    const std::size_t h = k_table + 40 * i;
    const std::size_t raw = img.size();
    const std::size_t raw_size =
        spec.unaligned_data && s.name == ".data" ? s.data.size() : round_up(s.data.size(), k_file_alignment);
    img.resize(raw + raw_size, std::byte{0});
    std::copy(s.data.begin(), s.data.end(), img.begin() + static_cast<std::ptrdiff_t>(raw));
    std::copy(s.name.begin(), s.name.end(), reinterpret_cast<char *>(img.data()) + h);
    put_at(img, h + 8, s.data.size(), 4);
    put_at(img, h + 12, va, 4);
    put_at(img, h + 16, raw_size, 4);
    put_at(img, h + 20, raw, 4);
    put_at(img, h + 36, s.characteristics, 4);
    va = static_cast<std::uint32_t>(round_up(va + s.data.size(), k_section_alignment));
  }
  put_at(img, k_opt + 56, va, 4); // SizeOfImage
  if (spec.symbols > 0) {
    put_at(img, k_pe + 12, img.size(), 4);
    put_at(img, k_pe + 16, spec.symbols, 4);
    const auto table = pseudo_random(18 * spec.symbols, 4);
    img.insert(img.end(), table.begin(), table.end());
    const std::string strings = "a_long_symbol_name";
    put_le(img, 4 + strings.size() + 1, 4);
    put_string(img, strings);
    img.push_back(std::byte{0});
  }
  img.insert(img.end(), spec.trailing_junk, std::byte{0xaa});
  if (spec.certificate_size > 0) {
    put_at(img, k_opt + 112 + 8 * 4, img.size(), 4);
    put_at(img, k_opt + 112 + 8 * 4 + 4, spec.certificate_size, 4);
    const auto cert = pseudo_random(spec.certificate_size, 5);
    img.insert(img.end(), cert.begin(), cert.end());
  }
  return img;
}

} // namespace cvm::measure::test
