// SPDX-License-Identifier: Apache-2.0
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/hex.hpp"
#include "measurement/tdvf.hpp"
#include "measurement/uefi.hpp"
#include "tests/unit/measurement/tdx_inputs.hpp"
#include "tests/unit/measurement/test_support.hpp"

#include <gtest/gtest.h>

namespace cvm::measure {
namespace {

using test::make_tdvf_firmware;
using test::put_at;

TEST(Tdvf, ParsesSyntheticMetadata) {
  const auto fw = make_tdvf_firmware();
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
  auto fw = make_tdvf_firmware();
  auto md = parse_tdvf_metadata(fw);
  md.sections[0].attributes = 0;
  const auto c = compute_mrtd_candidates(fw, md);
  EXPECT_EQ(c.single_pass, c.two_pass);
}

TEST(Tdvf, PageAugSectionsDoNotChangeMrtd) {
  const auto fw = make_tdvf_firmware();
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
  auto fw = make_tdvf_firmware();
  put_at(fw, 0x1000 + 16 + 8, 0xffff8001, 8); // unaligned BFV address
  EXPECT_THROW(parse_tdvf_metadata(fw), Error);
  fw = make_tdvf_firmware();
  put_at(fw, 0x1000 + 16 + 32 * 2 + 4, 0x10, 4); // TD_HOB with data
  EXPECT_THROW(parse_tdvf_metadata(fw), Error);
  fw = make_tdvf_firmware();
  put_at(fw, 0x1000 + 16, 0xfffff000, 4); // BFV data outside the file
  EXPECT_THROW(parse_tdvf_metadata(fw), Error);
}

TEST(TdvfRobustness, TruncatedFirmwareIsAnInputError) {
  const auto fw = make_tdvf_firmware();
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
  const auto fw = make_tdvf_firmware();
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
