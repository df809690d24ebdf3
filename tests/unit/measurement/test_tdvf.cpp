// SPDX-License-Identifier: Apache-2.0
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/hex.hpp"
#include "measurement/tdvf.hpp"
#include "measurement/uefi.hpp"
#include "tests/unit/measurement/test_support.hpp"

#include <gtest/gtest.h>

namespace cvm::measure {
namespace {

using test::put_at;

void
put_guid(std::vector<std::byte> &out, std::size_t offset, std::string_view guid) {
  const auto g = parse_guid(guid);
  std::copy(g.bytes.begin(), g.bytes.end(), out.begin() + static_cast<std::ptrdiff_t>(offset));
}

// A 64 KiB TDVF-like image with a GUIDed table and a 4-section metadata.
std::vector<std::byte>
make_firmware() {
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

TEST(Tdvf, ParsesSyntheticMetadata) {
  const auto fw = make_firmware();
  const auto md = parse_tdvf_metadata(fw);
  EXPECT_EQ(md.descriptor_offset, 0x1000U);
  EXPECT_TRUE(md.has_metadata_guid);
  ASSERT_EQ(md.sections.size(), 4U);
  EXPECT_EQ(md.sections[0].attributes, k_tdvf_attr_mr_extend);
  EXPECT_EQ(tdvf_section_type_name(md.sections[2].type), "TD_HOB");
  EXPECT_EQ(cfv_bytes(fw, md).size(), 0x2000U);
  const auto c = compute_mrtd_candidates(fw, md);
  EXPECT_NE(c.single_pass, c.two_pass);
}

TEST(Tdvf, OrdersAgreeWithoutExtendedSections) {
  auto fw = make_firmware();
  auto md = parse_tdvf_metadata(fw);
  md.sections[0].attributes = 0;
  const auto c = compute_mrtd_candidates(fw, md);
  EXPECT_EQ(c.single_pass, c.two_pass);
}

TEST(Tdvf, PageAugSectionsDoNotChangeMrtd) {
  const auto fw = make_firmware();
  auto md = parse_tdvf_metadata(fw);
  const auto base = compute_mrtd(fw, md, PageAddOrder::single_pass);
  auto extra = md.sections[3];
  extra.memory_address = 0x900000;
  extra.attributes = k_tdvf_attr_page_aug;
  md.sections.push_back(extra);
  EXPECT_EQ(compute_mrtd(fw, md, PageAddOrder::single_pass), base);
}

TEST(Tdvf, RejectsImagesWithoutTdxMetadata) {
  std::vector<std::byte> plain(0x10000, std::byte{0xff});
  test::expect_error([&] { parse_tdvf_metadata(plain); }, ErrorKind::input, "GUIDed table");
}

TEST(Tdvf, RejectsSectionsBreakingQemuRules) {
  auto fw = make_firmware();
  put_at(fw, 0x1000 + 16 + 8, 0xffff8001, 8); // unaligned BFV address
  EXPECT_THROW(parse_tdvf_metadata(fw), Error);
  fw = make_firmware();
  put_at(fw, 0x1000 + 16 + 32 * 2 + 4, 0x10, 4); // TD_HOB with data
  EXPECT_THROW(parse_tdvf_metadata(fw), Error);
  fw = make_firmware();
  put_at(fw, 0x1000 + 16, 0xfffff000, 4); // BFV data outside the file
  EXPECT_THROW(parse_tdvf_metadata(fw), Error);
}

TEST(TdvfRobustness, TruncatedFirmwareIsAnInputError) {
  const auto fw = make_firmware();
  for (std::size_t len = 0; len < fw.size(); len += 97) {
    // Keep the tail (the GUIDed table) and drop the front, and vice versa.
    const std::span<const std::byte> whole(fw);
    for (const auto part : {whole.first(len), whole.last(len)}) {
      test::expect_success_or_input_error([&] {
        const auto md = parse_tdvf_metadata(part);
        (void)compute_mrtd(part, md, PageAddOrder::two_pass);
      });
    }
  }
}

TEST(TdvfRobustness, CorruptedMetadataNeverCrashes) {
  test::Lcg rng(10);
  const auto fw = make_firmware();
  // Corrupt the descriptor/sections and the GUIDed table region.
  const std::size_t regions[][2] = {{0x1000, 16 + 32 * 4}, {0x10000 - 0x20 - 40, 40}};
  for (int round = 0; round < 3000; ++round) {
    auto bad = fw;
    const auto &reg = regions[rng.next() % 2];
    const auto flips = 1 + rng.next() % 3;
    for (std::uint64_t i = 0; i < flips; ++i) {
      bad[reg[0] + rng.next() % reg[1]] = static_cast<std::byte>(rng.next() & 0xff);
    }
    test::expect_success_or_input_error([&] {
      const auto md = parse_tdvf_metadata(bad);
      (void)compute_mrtd(bad, md, PageAddOrder::single_pass);
    });
  }
}

// Conformance (T10): Debian 12's OVMF.fd gives both expected MRTDs.
TEST(TdvfConformance, DebianOvmfGivesBothExpectedMrtds) {
  CVM_REQUIRE_CONFORMANCE(dir);
  const auto expected = test::read_json(dir / "expected.json");
  const std::filesystem::path ovmf = "/usr/share/ovmf/OVMF.fd";
  if (!std::filesystem::exists(ovmf)) {
    GTEST_SKIP() << "skipped: " << ovmf << " not installed (Debian package ovmf)";
  }
  const auto fw = fs::read_file(ovmf);
  const auto &vector = expected["mrtd"][0];
  if (to_hex(crypto::sha256(fw)) != vector["sha256"].get<std::string>()) {
    GTEST_SKIP() << "skipped: " << ovmf << " is not the file named in expected.json ("
                 << vector["firmware"].get<std::string>() << ")";
  }
  const auto md = parse_tdvf_metadata(fw);
  EXPECT_EQ(md.descriptor_offset, 2095040U);
  EXPECT_TRUE(md.has_metadata_guid);
  ASSERT_EQ(md.sections.size(), 6U);
  EXPECT_EQ(md.sections[0].memory_address, 0xffe20000U);
  const auto c = compute_mrtd_candidates(fw, md);
  EXPECT_EQ(to_hex(c.single_pass), vector["single_pass"].get<std::string>());
  EXPECT_EQ(to_hex(c.two_pass), vector["two_pass"].get<std::string>());
}

} // namespace
} // namespace cvm::measure
