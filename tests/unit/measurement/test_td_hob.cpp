// SPDX-License-Identifier: Apache-2.0
#include "lib/util/error.hpp"
#include "lib/util/hex.hpp"
#include "measurement/td_hob.hpp"
#include "tests/unit/measurement/test_support.hpp"

#include <gtest/gtest.h>

namespace cvm::measure {
namespace {

// The "upstream OVMF" section layout (Debian 12 OVMF.fd, dstack's witness test).
TdvfMetadata
standard_layout() {
  TdvfMetadata md;
  md.sections = {{0x20000, 0x1e0000, 0xffe20000, 0x1e0000, tdvf_section_type::k_bfv, 1},
                 {0, 0x20000, 0xffe00000, 0x20000, tdvf_section_type::k_cfv, 0},
                 {0, 0, 0x810000, 0x10000, tdvf_section_type::k_temp_mem, 0},
                 {0, 0, 0x80b000, 0x2000, tdvf_section_type::k_temp_mem, 0},
                 {0, 0, 0x809000, 0x2000, tdvf_section_type::k_td_hob, 0},
                 {0, 0, 0x800000, 0x6000, tdvf_section_type::k_temp_mem, 0}};
  return md;
}

TEST(TdHob, RangesSplitRamAroundAcceptedSections) {
  const auto ranges = td_hob_ranges(std::uint64_t{2} << 30U, standard_layout());
  ASSERT_EQ(ranges.size(), 8U);
  EXPECT_EQ(ranges[0].start, 0U);
  EXPECT_EQ(ranges[0].length, 0x800000U);
  EXPECT_FALSE(ranges[0].accepted);
  EXPECT_TRUE(ranges[1].accepted);
  EXPECT_EQ(ranges.back().start, 0x820000U);
  EXPECT_EQ(ranges.back().start + ranges.back().length, std::uint64_t{2} << 30U);
  const auto hob = build_td_hob(std::uint64_t{2} << 30U, standard_layout());
  EXPECT_EQ(hob.size(), 56U + 48U * 8U);
}

TEST(TdHob, RamAboveQ35ThresholdIsSplitAt2GiB) {
  const auto ranges = td_hob_ranges(std::uint64_t{0xb0000000}, standard_layout());
  EXPECT_EQ(ranges.back().start, std::uint64_t{1} << 32U);
  EXPECT_EQ(ranges.back().length, std::uint64_t{0x30000000});
  const auto below = td_hob_ranges(std::uint64_t{0xaff00000}, standard_layout());
  EXPECT_EQ(below.back().start + below.back().length, std::uint64_t{0xaff00000});
}

TEST(TdHob, RejectsSectionsOutsideRam) {
  EXPECT_THROW(td_hob_ranges(0x400000, standard_layout()), Error);
}

// Conformance (T8/T2): a 2 GiB TD's TD HOB is the first event of Trustee's
// CCEL_data_ovmf log.
TEST(TdHobConformance, TwoGiBTdHobMatchesRealLog) {
  CVM_REQUIRE_CONFORMANCE(dir);
  const auto events = test::read_json(dir / "CCEL_data_ovmf_events.json")["uefi_event_logs"];
  ASSERT_EQ(events[0]["type_name"], "EV_EFI_HANDOFF_TABLES2");
  const auto hob = build_td_hob(std::uint64_t{2} << 30U, standard_layout());
  EXPECT_EQ(to_hex(crypto::sha384(hob)), events[0]["digests"][0]["digest"].get<std::string>());
}

} // namespace
} // namespace cvm::measure
