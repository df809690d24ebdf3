// SPDX-License-Identifier: Apache-2.0
#include "lib/kbs/tdx_evidence.hpp"
#include "lib/kbs/tdx_quote.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/hex.hpp"
#include "measurement/eventlog.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kbs_test_support.hpp"

namespace {

using namespace cvm::kbs;
using cvm::measure::trim_ccel;

void
put_le(std::vector<std::byte> &q, std::size_t offset, std::uint64_t value, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) {
    q[offset + i] = static_cast<std::byte>((value >> (8 * i)) & 0xffU);
  }
}

// A synthetic v4 quote: header, 584-byte body with REPORTDATA, a signature
// data length and that many (dummy) signature bytes.
std::vector<std::byte>
synthetic_quote(const std::array<std::byte, 64> &report_data, std::uint16_t version = 4) {
  const std::size_t body_offset = version == 5 ? 54 : 48;
  std::vector<std::byte> q(body_offset + 584 + 4 + 16);
  put_le(q, 0, version, 2);
  put_le(q, 2, 2, 2);    // ECDSA-256 with P-256
  put_le(q, 4, 0x81, 4); // TDX
  if (version == 5) {
    put_le(q, 48, 2, 2); // body type TD 1.0
    put_le(q, 50, 584, 4);
  }
  std::copy(
      report_data.begin(), report_data.end(), q.begin() + static_cast<std::ptrdiff_t>(body_offset + 520));
  put_le(q, body_offset + 584, 16, 4);
  return q;
}

std::array<std::byte, 64>
pattern() {
  std::array<std::byte, 64> rd{};
  for (std::size_t i = 0; i < rd.size(); ++i) {
    rd[i] = static_cast<std::byte>(i * 3 + 1);
  }
  return rd;
}

TEST(TdxQuote, ReportDataAtOffset568InV4) {
  const auto rd = pattern();
  const auto quote = synthetic_quote(rd);
  EXPECT_EQ(std::to_integer<int>(quote[568]), 1);
  EXPECT_EQ(tdx_quote_report_data(quote), rd);
}

TEST(TdxQuote, ReportDataInV5) {
  const auto rd = pattern();
  EXPECT_EQ(tdx_quote_report_data(synthetic_quote(rd, 5)), rd);
}

TEST(TdxQuote, RejectsEmptyTruncatedAndForeignQuotes) {
  EXPECT_THROW(tdx_quote_report_data({}), cvm::Error);
  auto quote = synthetic_quote(pattern());
  EXPECT_THROW(tdx_quote_report_data(std::span(quote).first(600)), cvm::Error);
  auto sgx = quote;
  put_le(sgx, 4, 0, 4);
  EXPECT_THROW(tdx_quote_report_data(sgx), cvm::Error);
  auto v3 = quote;
  put_le(v3, 0, 3, 2);
  EXPECT_THROW(tdx_quote_report_data(v3), cvm::Error);
  auto other_key = quote;
  put_le(other_key, 2, 3, 2);
  EXPECT_THROW(tdx_quote_report_data(other_key), cvm::Error);
}

TEST(TdxEvidence, PreflightFailsWithoutConfigfsTsm) {
  cvm::fs::TempDir dir("kbs-tsm");
  TdxEvidenceProvider provider(TdxPaths{dir.path() / "missing", dir.path() / "CCEL"});
  EXPECT_EQ(provider.tee(), "tdx");
  EXPECT_THROW(provider.preflight(), cvm::Error);
}

TEST(TdxEvidence, RejectsNonTdxProvider) {
  // A plain directory is not configfs: the new report directory has no
  // "provider" attribute, which must fail rather than be skipped.
  cvm::fs::TempDir dir("kbs-tsm");
  TdxEvidenceProvider provider(TdxPaths{dir.path(), dir.path() / "CCEL"});
  EXPECT_THROW(provider.preflight(), cvm::Error);
  EXPECT_THROW(tsm_quote(dir.path(), pattern()), cvm::Error);
}

// Pinned with `openssl dgst -sha384` (an independent implementation).
constexpr std::string_view k_marker_hex =
    "06cd8e5a2bb693f9f9c0c535f3def56a873bd7740adda106a6178e3f38a0308e139a5c7736167c3faa8f1c9eaa7048e3";

TEST(TdxRtmr, ReleaseMarkerIsSha384OfItsText) {
  EXPECT_EQ(cvm::to_hex(rtmr3_release_marker()), k_marker_hex);
}

TEST(TdxRtmr, MissingRegisterMeansUnavailable) {
  cvm::fs::TempDir dir("kbs-rtmr");
  EXPECT_FALSE(extend_rtmr(dir.path() / "rtmr3:sha384", rtmr3_release_marker()));
  TdxPaths paths;
  paths.measurements = dir.path() / "missing";
  TdxEvidenceProvider provider(paths);
  EXPECT_FALSE(provider.close_release_window());
}

TEST(TdxRtmr, RegisterThatDoesNotExtendIsAnError) {
  // A plain file takes the write but does not chain it: the read-back check
  // must catch that (a fake or broken register must not pass for extended).
  cvm::fs::TempDir dir("kbs-rtmr");
  const auto reg = dir.path() / "rtmr3:sha384";
  cvm::fs::write_file_atomic(reg, std::vector<std::byte>(48), 0600);
  try {
    (void)extend_rtmr(reg, rtmr3_release_marker());
    ADD_FAILURE() << "a register that does not extend was accepted";
  } catch (const cvm::Error &e) {
    EXPECT_EQ(e.kind(), cvm::ErrorKind::input);
    EXPECT_NE(std::string(e.what()).find("did not extend"), std::string::npos) << e.what();
  }
}

TEST(TdxRtmr, RegisterOfTheWrongSizeIsRejectedBeforeAnyWrite) {
  cvm::fs::TempDir dir("kbs-rtmr");
  const auto reg = dir.path() / "rtmr3:sha384";
  const std::vector<std::byte> short_value(10, std::byte{0x11});
  cvm::fs::write_file_atomic(reg, short_value, 0600);
  EXPECT_THROW((void)extend_rtmr(reg, rtmr3_release_marker()), cvm::Error);
  EXPECT_EQ(cvm::fs::read_file(reg), short_value);
}

// The Spec ID event's size and the first record's.
constexpr std::uint32_t k_spec_id_size = 16 + 4 + 4 + 4 + 4 + 1;
constexpr std::size_t k_first_record_size = 32 + k_spec_id_size;

std::vector<std::byte>
synthetic_ccel() {
  std::vector<std::byte> log;
  auto u32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) {
      log.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xffU));
    }
  };
  auto u16 = [&](std::uint16_t v) {
    log.push_back(static_cast<std::byte>(v & 0xffU));
    log.push_back(static_cast<std::byte>(v >> 8U));
  };
  // TCG_PCR_EVENT (EV_NO_ACTION) carrying a Spec ID event that declares SHA-384.
  u32(0);
  u32(3);
  log.insert(log.end(), 20, std::byte{0});
  u32(k_spec_id_size);
  for (const char c : std::string_view("Spec ID Event03")) {
    log.push_back(static_cast<std::byte>(c));
  }
  log.push_back(std::byte{0});
  u32(0);                                 // platformClass
  log.insert(log.end(), 2, std::byte{2}); // specVersionMinor, specVersionMajor
  log.push_back(std::byte{0});            // specErrata
  log.push_back(std::byte{2});            // uintnSize
  u32(1);                                 // numberOfAlgorithms
  u16(0x000c);
  u16(48);
  log.push_back(std::byte{0}); // vendorInfoSize
  // Two TCG_PCR_EVENT2 records with one SHA-384 digest each.
  for (int e = 0; e < 2; ++e) {
    u32(1);
    u32(0x80000001);
    u32(1);
    u16(0x000c);
    log.insert(log.end(), 48, std::byte{0xaa});
    u32(3);
    log.insert(log.end(), 3, std::byte{0x45});
  }
  return log;
}

TEST(Ccel, TrimsAtEndMarker) {
  const auto events = synthetic_ccel();
  auto padded = events;
  padded.insert(padded.end(), 4096, std::byte{0xff});
  EXPECT_EQ(trim_ccel(padded), events);
  auto zero_padded = events;
  zero_padded.insert(zero_padded.end(), 64, std::byte{0});
  EXPECT_EQ(trim_ccel(zero_padded), events);
}

TEST(Ccel, RejectsTruncatedOrUnknownDigest) {
  const auto events = synthetic_ccel();
  EXPECT_THROW(trim_ccel(events), cvm::Error); // no end marker
  EXPECT_THROW(trim_ccel(std::span(events).first(40)), cvm::Error);
  auto unknown = events;
  unknown.insert(unknown.end(), 8, std::byte{0xff});
  // The first EVENT2's algorithm id sits 12 bytes into it.
  unknown[k_first_record_size + 12] = std::byte{0x99};
  EXPECT_THROW(trim_ccel(unknown), cvm::Error);
}

TEST(Ccel, ConformanceLogTrimsToItsEvents) {
  const auto dir = cvm::kbs::test::conformance_tdx_dir();
  if (!dir) {
    GTEST_SKIP() << "skipped: conformance data not found ($CVM_CONFORMANCE_DIR/tdx)";
  }
  const auto raw = cvm::fs::read_file(*dir / "CCEL_data.bin");
  const auto trimmed = trim_ccel(raw);
  ASSERT_GT(trimmed.size(), 100U);
  ASSERT_LT(trimmed.size(), raw.size());
  // Everything after the trimmed part is padding (0x00 or 0xff throughout).
  const std::byte pad = raw[trimmed.size()];
  EXPECT_TRUE(pad == std::byte{0} || pad == std::byte{0xff});
  EXPECT_TRUE(std::all_of(raw.begin() + static_cast<std::ptrdiff_t>(trimmed.size()),
                          raw.end(),
                          [pad](std::byte b) { return b == pad; }));
  // Trimming is idempotent once the end marker is re-appended.
  auto again = trimmed;
  again.insert(again.end(), 8, std::byte{0xff});
  EXPECT_EQ(trim_ccel(again), trimmed);
}

} // namespace
