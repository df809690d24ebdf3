// SPDX-License-Identifier: Apache-2.0
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/hex.hpp"
#include "measurement/eventlog.hpp"
#include "measurement/rtmr.hpp"
#include "measurement/uefi.hpp"
#include "tests/unit/measurement/test_support.hpp"

#include <gtest/gtest.h>

namespace cvm::measure {
namespace {

using test::put_le;
using test::put_string;

// A minimal TDVF-style log: Spec ID (SHA-384 only), then `events`.
struct SyntheticEvent {
  std::uint32_t mr;
  std::uint32_t type;
  std::vector<std::byte> digest;
  std::string data;
};

std::vector<std::byte>
make_log(const std::vector<SyntheticEvent> &events, std::uint32_t first_mr = 0) {
  std::vector<std::byte> out;
  test::put_spec_id_event(out, first_mr, {k_alg_sha384});
  for (const auto &e : events) {
    put_le(out, e.mr, 4);
    put_le(out, e.type, 4);
    put_le(out, 1, 4);
    put_le(out, k_alg_sha384, 2);
    out.insert(out.end(), e.digest.begin(), e.digest.end());
    put_le(out, e.data.size(), 4);
    put_string(out, e.data);
  }
  return out;
}

std::vector<std::byte>
digest_of(std::string_view s) {
  const auto d = crypto::sha384(as_bytes(s));
  return {d.begin(), d.end()};
}

TEST(EventLog, ParsesSyntheticLogAndReplaysIntoRegisterOfMrIndex) {
  auto log_bytes = make_log({{1, event_type::k_efi_action, digest_of("a"), "a"},
                             {3, event_type::k_no_action, digest_of("x"), "noop"},
                             {2, event_type::k_separator, digest_of("b"), "b"}});
  log_bytes.resize(log_bytes.size() + 100, std::byte{0xff});
  const auto log = parse_event_log(log_bytes);
  ASSERT_EQ(log.events.size(), 4U);
  EXPECT_EQ(log.algorithms.size(), 1U);
  EXPECT_EQ(log.events[1].mr_index, 1U);
  EXPECT_EQ(describe_event(log.events[1]), "a");
  const auto bank = replay(log);

  RtmrBank expected;
  expected.extend(0, digest_of("a"));
  expected.extend(1, digest_of("b"));
  EXPECT_EQ(bank.values(), expected.values());
  // EV_NO_ACTION in RTMR2 is not extended.
  EXPECT_EQ(to_hex(bank.value(2)), std::string(96, '0'));
}

// systemd-stub logs EV_IPL with a UTF-16 description (section name, command
// line); grub logs ASCII. Both read as text, anything else as nothing.
TEST(EventLog, DescribesAsciiAndUtf16IplEvents) {
  Event e;
  e.type = event_type::k_ipl;
  e.data = to_utf16le(".linux", NulTerminator::yes);
  EXPECT_EQ(describe_event(e), ".linux");
  e.data = to_utf16le("root=/dev/vda1 ro", NulTerminator::no);
  EXPECT_EQ(describe_event(e), "root=/dev/vda1 ro");
  e.data.clear();
  put_string(e.data, "grub_cmd: linux /vmlinuz");
  e.data.push_back(std::byte{0});
  EXPECT_EQ(describe_event(e), "grub_cmd: linux /vmlinuz");
  e.data = {std::byte{0x01}, std::byte{0x02}, std::byte{0x03}, std::byte{0x04}};
  EXPECT_EQ(describe_event(e), "");
  e.data = {std::byte{'a'}, std::byte{0}, std::byte{0x00}, std::byte{0x30}};
  EXPECT_EQ(describe_event(e), "");
}

TEST(EventLog, StopsAtZeroPadding) {
  auto log_bytes = make_log({{1, event_type::k_efi_action, digest_of("a"), "a"}});
  log_bytes.resize(log_bytes.size() + 4096, std::byte{0});
  const auto log = parse_event_log(log_bytes);
  EXPECT_EQ(log.events.size(), 2U);
  EXPECT_LT(log.end_offset, log_bytes.size());
}

TEST(EventLog, RejectsMissingSpecIdEvent) {
  auto log_bytes = make_log({});
  log_bytes[32] = std::byte{'X'};
  EXPECT_THROW(parse_event_log(log_bytes), Error);
}

TEST(EventLog, RejectsUndeclaredAlgorithm) {
  auto log_bytes = make_log({{1, event_type::k_efi_action, digest_of("a"), "a"}});
  // The first event2 record's algorithm id follows mr, type and count.
  const std::size_t alg_at = 32 + 33 + 12;
  log_bytes[alg_at] = std::byte{0x0b};
  test::expect_error([&] { parse_event_log(log_bytes); }, ErrorKind::input, "not declared");
}

TEST(EventLog, ReplayRejectsMrIndexOutOfRange) {
  const auto log = parse_event_log(make_log({{5, event_type::k_efi_action, digest_of("a"), "a"}}));
  EXPECT_THROW(replay(log), Error);
}

TEST(EventLog, FirstRecordMayUseMrIndexOne) {
  const auto log = parse_event_log(make_log({}, 1));
  EXPECT_EQ(log.events.size(), 1U);
  EXPECT_EQ(to_hex(replay(log).value(0)), std::string(96, '0'));
}

void
parse_and_replay_or_input_error(std::span<const std::byte> bytes) {
  test::expect_success_or_input_error([&] {
    const auto log = parse_event_log(bytes);
    (void)replay(log);
    for (const auto &e : log.events) {
      (void)describe_event(e);
    }
  });
}

TEST(EventLogRobustness, SyntheticTruncationAndCorruption) {
  const auto full =
      make_log({{1, event_type::k_efi_variable_boot, digest_of("a"), "abcdefghijklmnopqrstuvwxyz0123456789"},
                {2,
                 event_type::k_efi_boot_services_application,
                 digest_of("b"),
                 "0123456789abcdef0123456789abcdef0123456789"},
                {3, event_type::k_event_tag, digest_of("c"), "tagged-event-data"}});
  test::for_each_truncation_and_corruption(
      full, 1, [](std::span<const std::byte> bytes) { parse_and_replay_or_input_error(bytes); });
}

TEST(EventLogRobustness, RealLogTruncationAndCorruption) {
  CVM_REQUIRE_CONFORMANCE(dir);
  const auto full = fs::read_file(dir / "CCEL_data_grub.bin");
  const auto end = parse_event_log(full).end_offset;
  for (std::size_t len = 0; len <= end; len += 5) {
    parse_and_replay_or_input_error(std::span(full).first(len));
  }
  test::Lcg rng(2);
  for (int round = 0; round < 2000; ++round) {
    std::vector<std::byte> bad(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(end + 64));
    const auto flips = 1 + rng.next() % 3;
    for (std::uint64_t i = 0; i < flips; ++i) {
      bad[rng.next() % bad.size()] = static_cast<std::byte>(rng.next() & 0xff);
    }
    parse_and_replay_or_input_error(bad);
  }
}

// Conformance: Trustee's three real CCEL logs replay to the RTMRs its own
// unit test expects, and every extending event matches its parse.
TEST(EventLogConformance, ReplayGivesExpectedRtmrsAndPerEventDigests) {
  CVM_REQUIRE_CONFORMANCE(dir);
  const auto expected = test::read_json(dir / "expected.json");
  ASSERT_TRUE(expected.contains("ccel_replay"));
  for (const auto &entry : expected["ccel_replay"]) {
    const std::string file = entry["file"].get<std::string>();
    SCOPED_TRACE(file);
    const auto bytes = fs::read_file(dir / file);
    const auto log = parse_event_log(bytes);
    const auto bank = replay(log);
    for (std::size_t i = 0; i < k_rtmr_count; ++i) {
      EXPECT_EQ(to_hex(bank.value(i)), entry["rtmr"][i].get<std::string>()) << "RTMR" << i;
    }
    const auto events_json = test::read_json(dir / entry["events"].get<std::string>());
    const auto &reference = events_json["uefi_event_logs"];
    std::vector<const Event *> extending;
    for (const auto &e : log.events) {
      if (is_extending(e)) {
        extending.push_back(&e);
      }
    }
    ASSERT_EQ(extending.size(), reference.size());
    for (std::size_t i = 0; i < extending.size(); ++i) {
      SCOPED_TRACE("event " + std::to_string(i));
      const auto &ref = reference[i];
      EXPECT_EQ(extending[i]->mr_index, ref["index"].get<std::uint32_t>());
      EXPECT_EQ(event_type_name(extending[i]->type), ref["type_name"].get<std::string>());
      const auto *d = extending[i]->digest(k_alg_sha384);
      ASSERT_NE(d, nullptr);
      EXPECT_EQ(to_hex(*d), ref["digests"][0]["digest"].get<std::string>());
    }
  }
}

} // namespace
} // namespace cvm::measure
