// SPDX-License-Identifier: Apache-2.0
#pragma once

// Synthetic inputs of a TDX measurement: a TDVF firmware image and a bzImage
// kernel, for the measurement tests and the measure stage's test.

#include "measurement/uefi.hpp"
#include "tests/unit/measurement/pe_stub.hpp"
#include "tests/unit/measurement/test_support.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cvm::measure::test {

inline void
put_guid(std::vector<std::byte> &out, std::size_t offset, std::string_view guid) {
  const auto g = parse_guid(guid);
  std::copy(g.bytes.begin(), g.bytes.end(), out.begin() + static_cast<std::ptrdiff_t>(offset));
}

// A 64 KiB TDVF-like image with a GUIDed table and a 4-section metadata.
inline std::vector<std::byte>
make_tdvf_firmware() {
  std::vector<std::byte> fw(0x10000);
  for (std::size_t i = 0; i < fw.size(); ++i) {
    fw[i] = static_cast<std::byte>((i * 13) & 0xffU);
  }
  const std::size_t end = fw.size() - 0x20;
  put_guid(fw, end - 16, "96b582de-1fb2-45f7-baea-a366c55a082d");
  put_at(fw, end - 18, 18 + 22, 2);
  put_guid(fw, end - 18 - 16, "e47a6535-984a-4798-865e-4685a7bf8ec2");
  put_at(fw, end - 18 - 18, 22, 2);
  put_at(fw, end - 18 - 22, 0xf000, 4);
  const std::size_t desc = 0x1000;
  put_guid(fw, desc - 16, "e9eaf9f3-168e-44d5-a8eb-7f4d8738f6ae");
  put_at(fw, desc, 0x46564454, 4);
  put_at(fw, desc + 4, 16 + 32 * 4, 4);
  put_at(fw, desc + 8, 1, 4);
  put_at(fw, desc + 12, 4, 4);
  struct S {
    std::uint32_t off, raw;
    std::uint64_t addr, size;
    std::uint32_t type, attr;
  };
  const S sections[] = {{0x8000, 0x6000, 0xffff8000, 0x8000, 0, 1},
                        {0x2000, 0x2000, 0xfff00000, 0x2000, 1, 0},
                        {0, 0, 0x809000, 0x2000, 2, 0},
                        {0, 0, 0x800000, 0x6000, 3, 0}};
  std::size_t at = desc + 16;
  for (const auto &s : sections) {
    put_at(fw, at, s.off, 4);
    put_at(fw, at + 4, s.raw, 4);
    put_at(fw, at + 8, s.addr, 8);
    put_at(fw, at + 16, s.size, 8);
    put_at(fw, at + 24, s.type, 4);
    put_at(fw, at + 28, s.attr, 4);
    at += 32;
  }
  return fw;
}

// A minimal bzImage header: protocol 2.15, loaded high, 64-bit initrd capable.
inline std::vector<std::byte>
make_bzimage() {
  std::vector<std::byte> img(0x1000);
  const auto put = [&](std::size_t at, std::uint64_t v, std::size_t w) {
    for (std::size_t i = 0; i < w; ++i) {
      img[at + i] = static_cast<std::byte>((v >> (8U * i)) & 0xffU);
    }
  };
  put(0x202, 0x53726448, 4);
  put(0x206, 0x020f, 2);
  put(0x20e, 0x100, 2);
  put(0x211, 0x01, 1);
  put(0x22c, 0x7fffffff, 4);
  put(0x236, 0x7f, 2);
  const std::string version = "6.9.3-test (builder) #1";
  std::copy(version.begin(), version.end(), reinterpret_cast<char *>(img.data()) + 0x300);
  return img;
}

// make_bzimage()'s setup header in a PE image, as an x86 kernel with the EFI
// stub is both: what direct boot measures (Authenticode) and patches (the
// setup header). The header fields (0x202..0x240) and the version string
// (0x300) lie after make_stub()'s section table, inside its headers.
inline std::vector<std::byte>
make_efi_bzimage() {
  auto img = make_stub();
  const auto bz = make_bzimage();
  for (const auto &[from, to] : {std::pair{0x202, 0x240}, std::pair{0x300, 0x340}}) {
    std::copy(bz.begin() + from, bz.begin() + to, img.begin() + from);
  }
  return img;
}

} // namespace cvm::measure::test
