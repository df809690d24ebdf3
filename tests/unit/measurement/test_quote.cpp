// SPDX-License-Identifier: Apache-2.0
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/hex.hpp"
#include "measurement/compare.hpp"
#include "measurement/eventlog.hpp"
#include "measurement/quote.hpp"
#include "measurement/rtmr.hpp"
#include "tests/unit/measurement/test_support.hpp"

#include <gtest/gtest.h>

namespace cvm::measure {
namespace {

using test::put_le;

// A quote whose every body field is filled with a distinct byte pattern.
std::vector<std::byte>
make_quote(std::uint16_t version, std::uint16_t body_type = 2, std::uint32_t sig_size = 16) {
  std::vector<std::byte> q;
  put_le(q, version, 2);
  put_le(q, 2, 2);    // ECDSA-256
  put_le(q, 0x81, 4); // TDX
  put_le(q, 0, 2);
  put_le(q, 13, 2);
  q.resize(48, std::byte{0x11});
  const std::size_t body_size = body_type == 3 ? 648 : 584;
  if (version == 5) {
    put_le(q, body_type, 2);
    put_le(q, body_size, 4);
  }
  const std::size_t body_start = q.size();
  for (std::size_t i = 0; i < body_size; ++i) {
    q.push_back(static_cast<std::byte>((i * 7 + 3) & 0xffU));
  }
  // TD attributes at body offset 120, XFAM at 128, MRTD at 136.
  for (std::size_t i = 0; i < 8; ++i) {
    q[body_start + 120 + i] = std::byte{0};
    q[body_start + 128 + i] = std::byte{0};
  }
  q[body_start + 120 + 3] = std::byte{0x10}; // SEPT_VE_DISABLE
  q[body_start + 128] = std::byte{0xe7};
  q[body_start + 129] = std::byte{0x06};
  put_le(q, sig_size, 4);
  q.resize(q.size() + sig_size, std::byte{0x5a});
  return q;
}

TEST(Quote, ParsesV4HeaderAndTdReportBody) {
  const auto bytes = make_quote(4);
  const auto q = parse_quote(bytes);
  EXPECT_EQ(q.header.version, 4);
  EXPECT_EQ(q.header.tee_type, k_tee_type_tdx);
  EXPECT_EQ(q.body.xfam, 0x6e7U);
  EXPECT_EQ(q.body.td_attributes, k_td_attribute_sept_ve_disable);
  EXPECT_EQ(td_attribute_names(q.body.td_attributes), std::vector<std::string>{"sept_ve_disable"});
  // MRTD starts at body offset 136.
  EXPECT_EQ(q.body.mr_td[0], static_cast<std::byte>((136 * 7 + 3) & 0xff));
  // RTMR0 at body offset 328, REPORTDATA at 520.
  EXPECT_EQ(q.body.rtmr[0][0], static_cast<std::byte>((328 * 7 + 3) & 0xff));
  EXPECT_EQ(q.body.rtmr[3][47], static_cast<std::byte>((519 * 7 + 3) & 0xff));
  EXPECT_EQ(q.body.report_data[0], static_cast<std::byte>((520 * 7 + 3) & 0xff));
  EXPECT_EQ(q.signature_size, 16U);
  EXPECT_EQ(q.signature_offset, 48U + 584U + 4U);
  EXPECT_FALSE(q.body.has_td15_fields);
}

TEST(Quote, ParsesV5WithTd10AndTd15Bodies) {
  const auto q10 = parse_quote(make_quote(5, 2));
  EXPECT_EQ(q10.body_type, 2);
  EXPECT_EQ(q10.body.mr_td[0], static_cast<std::byte>((136 * 7 + 3) & 0xff));
  const auto q15 = parse_quote(make_quote(5, 3));
  EXPECT_EQ(q15.body_type, 3);
  EXPECT_TRUE(q15.body.has_td15_fields);
  EXPECT_EQ(q15.body.mr_service_td[0], static_cast<std::byte>((600 * 7 + 3) & 0xff));
}

TEST(Quote, RejectsWrongVersionTeeTypeAndBodyType) {
  EXPECT_THROW(parse_quote(make_quote(3)), Error);
  auto sgx = make_quote(4);
  sgx[4] = std::byte{0};
  EXPECT_THROW(parse_quote(sgx), Error);
  EXPECT_THROW(parse_quote(make_quote(5, 7)), Error);
  auto bad_size = make_quote(5, 2);
  bad_size[50] = std::byte{0x49};
  EXPECT_THROW(parse_quote(bad_size), Error);
}

// A real log's replay checked against a quote carrying its RTMRs (v4 layout:
// RTMR0 at body offset 328), and against one with RTMR2 changed.
TEST(QuoteConformance, ReplayedRealLogMatchesQuoteRtmrs) {
  CVM_REQUIRE_CONFORMANCE(dir);
  const auto log = parse_event_log(fs::read_file(dir / "CCEL_data_ovmf.bin"));
  const auto bank = replay(log);
  auto bytes = make_quote(4);
  for (std::size_t i = 0; i < 4; ++i) {
    std::copy(bank.value(i).begin(),
              bank.value(i).end(),
              bytes.begin() + static_cast<std::ptrdiff_t>(48 + 328 + 48 * i));
  }
  const auto quote = parse_quote(bytes);
  const auto check = check_against_quote(bank, quote);
  EXPECT_TRUE(check.all_match());
  const auto report = replay_report_json(log, bank, quote, check, std::nullopt);
  EXPECT_EQ(report["quote"]["rtmr"][2], to_hex(bank.value(2)));
  EXPECT_EQ(report["quote"]["rtmr_match"], nlohmann::json({true, true, true, true}));

  bytes[48 + 328 + 96] ^= std::byte{1};
  const auto bad = check_against_quote(bank, parse_quote(bytes));
  EXPECT_FALSE(bad.all_match());
  EXPECT_FALSE(bad.rtmr_match[2]);
  EXPECT_TRUE(bad.rtmr_match[0]);
}

TEST(QuoteRobustness, EveryTruncationIsAnInputError) {
  for (const auto version : {4, 5}) {
    const auto full = make_quote(static_cast<std::uint16_t>(version));
    for (std::size_t len = 0; len < full.size(); ++len) {
      SCOPED_TRACE(testing::Message() << "truncated quote of " << len << " bytes");
      test::expect_error([&] { parse_quote(std::span(full).first(len)); }, ErrorKind::input);
    }
  }
}

TEST(QuoteRobustness, RandomCorruptionNeverCrashes) {
  test::Lcg rng(5);
  const auto full = make_quote(5, 3);
  for (int round = 0; round < 2000; ++round) {
    auto q = full;
    const auto flips = 1 + rng.next() % 4;
    for (std::uint64_t i = 0; i < flips; ++i) {
      q[rng.next() % 64] = static_cast<std::byte>(rng.next() & 0xff);
    }
    q.resize(rng.next() % (q.size() + 1));
    test::expect_success_or_input_error([&] { (void)parse_quote(q); });
  }
}

} // namespace
} // namespace cvm::measure
