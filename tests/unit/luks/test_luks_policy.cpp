// SPDX-License-Identifier: Apache-2.0
#include "lib/luks/policy.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "tests/unit/luks/luks_test_util.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>

#include <functional>

namespace cvm::luks {
namespace {

using test::Copies;
using test::has_violation;
using test::Json;
using test::Recovery;

class LuksPolicy : public ::testing::Test {
protected:
  LuksPolicy()
    : m_vk(test::fixed_secret(64, 0x07))
    , m_bytes(test::build_header(test::make_metadata(m_vk, Recovery::yes)))
    , m_policy(derive_policy(Header::parse(m_bytes))) {}

  // Applies `edit` to the JSON (both copies, checksums recomputed, so only
  // the policy can notice) and checks the result.
  std::vector<Violation>
  check_edited(const std::function<void(Json &)> &edit) {
    auto bytes = m_bytes;
    auto j = test::get_json(bytes);
    edit(j);
    test::set_json(bytes, j);
    const Header h = Header::parse(bytes);
    EXPECT_TRUE(h.primary().checksum_matches());
    EXPECT_TRUE(h.secondary().checksum_matches());
    return check(h, m_policy);
  }

  SecretBytes m_vk;
  std::vector<std::byte> m_bytes;
  Policy m_policy;
};

TEST_F(LuksPolicy, DerivedPolicyAcceptsItsOwnHeader) {
  const auto violations = check(Header::parse(m_bytes), m_policy);
  EXPECT_TRUE(violations.empty()) << describe(violations);
  EXPECT_EQ(m_policy.encryption, "aes-xts-plain64");
  EXPECT_EQ(m_policy.key_size_bits, 512U);
  EXPECT_EQ(m_policy.sector_size, 4096U);
  EXPECT_EQ(m_policy.data_offset, std::uint64_t{1} << 20U);
  ASSERT_EQ(m_policy.keyslots.size(), 2U);
  EXPECT_EQ(m_policy.keyslots[0].presence, KeyslotPresence::required);
  EXPECT_EQ(m_policy.keyslots[1].presence, KeyslotPresence::optional);
  EXPECT_EQ(m_policy.keyslots[1].kdf.max_memory_kib, 65536U);
  EXPECT_TRUE(verify_volume_key(m_policy.digest.as_digest(), m_vk));
  EXPECT_NO_THROW(require_compliant(Header::parse(m_bytes), m_policy));
}

TEST_F(LuksPolicy, RejectsCipherNull) {
  const auto v = check_edited([](Json &j) { j["segments"]["0"]["encryption"] = "cipher_null-ecb"; });
  EXPECT_TRUE(has_violation(v, "segments.0.encryption")) << describe(v);
  EXPECT_THROW(require_compliant(
                   [&] {
                     auto b = m_bytes;
                     auto j = test::get_json(b);
                     j["segments"]["0"]["encryption"] = "cipher_null-ecb";
                     test::set_json(b, j);
                     return Header::parse(b);
                   }(),
                   m_policy),
               Error);
}

TEST_F(LuksPolicy, RejectsExtraKeyslot) {
  const auto v = check_edited([](Json &j) {
    j["keyslots"]["2"] = j["keyslots"]["0"];
    j["keyslots"]["2"]["area"]["offset"] = std::to_string(32768 + 2 * 258048);
    j["digests"]["0"]["keyslots"].push_back("2");
  });
  EXPECT_TRUE(has_violation(v, "keyslots.2")) << describe(v);
}

TEST_F(LuksPolicy, RejectsMissingRequiredKeyslotButAllowsDroppedRecovery) {
  auto v = check_edited([](Json &j) {
    j["keyslots"].erase("1");
    j["digests"]["0"]["keyslots"] = {"0"};
  });
  EXPECT_TRUE(v.empty()) << describe(v);
  v = check_edited([](Json &j) {
    j["keyslots"].erase("0");
    j["digests"]["0"]["keyslots"] = {"1"};
  });
  EXPECT_TRUE(has_violation(v, "keyslots.0")) << describe(v);
}

TEST_F(LuksPolicy, RejectsToken) {
  const auto v = check_edited([](Json &j) {
    j["tokens"]["0"] = {{"type", "systemd-tpm2"}, {"keyslots", {"0"}}};
  });
  EXPECT_TRUE(has_violation(v, "tokens.0")) << describe(v);
}

TEST_F(LuksPolicy, RejectsRequirementsAndFlags) {
  auto v = check_edited([](Json &j) {
    j["config"]["requirements"] = {{"mandatory", {"online-reencrypt-v2"}}};
  });
  EXPECT_TRUE(has_violation(v, "config.requirements")) << describe(v);
  v = check_edited([](Json &j) { j["config"]["flags"] = {"allow-discards"}; });
  EXPECT_TRUE(has_violation(v, "config.flags")) << describe(v);
  v = check_edited([](Json &j) { j["segments"]["0"]["flags"] = {"backup-final"}; });
  EXPECT_TRUE(has_violation(v, "segments.0.flags")) << describe(v);
}

TEST_F(LuksPolicy, RejectsHugeKdfCosts) {
  auto v = check_edited([](Json &j) { j["keyslots"]["1"]["kdf"]["memory"] = 4194304; });
  EXPECT_TRUE(has_violation(v, "keyslots.1.kdf.memory")) << describe(v);
  v = check_edited([](Json &j) { j["keyslots"]["1"]["kdf"]["time"] = 1000; });
  EXPECT_TRUE(has_violation(v, "keyslots.1.kdf.time")) << describe(v);
  v = check_edited([](Json &j) { j["keyslots"]["0"]["kdf"]["iterations"] = 4000000000U; });
  EXPECT_TRUE(has_violation(v, "keyslots.0.kdf.iterations")) << describe(v);
  // Switching the unlock keyslot to argon2 with a large cost is a type change.
  v = check_edited([](Json &j) {
    j["keyslots"]["0"]["kdf"] = {{"type", "argon2id"},
                                 {"time", 4},
                                 {"memory", 1048576},
                                 {"cpus", 4},
                                 {"salt", j["keyslots"]["0"]["kdf"]["salt"]}};
  });
  EXPECT_TRUE(has_violation(v, "keyslots.0.kdf.type")) << describe(v);
}

TEST_F(LuksPolicy, RejectsDifferentDigest) {
  // A header made for another volume key (the header-swap attack).
  const auto other = test::fixed_secret(64, 0x66);
  const auto swapped = test::build_header(test::make_metadata(other, Recovery::yes));
  const auto v = check(Header::parse(swapped), m_policy);
  EXPECT_TRUE(has_violation(v, "digests.0.digest")) << describe(v);
  auto v2 = check_edited([](Json &j) { j["digests"]["0"]["iterations"] = 1001; });
  EXPECT_TRUE(has_violation(v2, "digests.0.iterations")) << describe(v2);
}

TEST_F(LuksPolicy, RejectsSegmentChanges) {
  auto v = check_edited([](Json &j) { j["segments"]["0"]["offset"] = "4096"; });
  EXPECT_TRUE(has_violation(v, "segments.0.offset")) << describe(v);
  v = check_edited([](Json &j) { j["segments"]["0"]["size"] = "1048576"; });
  EXPECT_TRUE(has_violation(v, "segments.0.size")) << describe(v);
  v = check_edited([](Json &j) { j["segments"]["0"]["sector_size"] = 512; });
  EXPECT_TRUE(has_violation(v, "segments.0.sector_size")) << describe(v);
  v = check_edited([](Json &j) { j["segments"]["0"]["iv_tweak"] = "7"; });
  EXPECT_TRUE(has_violation(v, "segments.0.iv_tweak")) << describe(v);
  v = check_edited([](Json &j) {
    j["segments"]["1"] = j["segments"]["0"];
    j["segments"]["1"]["type"] = "linear";
  });
  EXPECT_TRUE(has_violation(v, "segments")) << describe(v);
  v = check_edited([](Json &j) {
    j["segments"]["0"]["integrity"] = {
        {"type", "hmac(sha256)"}, {"journal_encryption", "none"}, {"journal_integrity", "none"}};
  });
  EXPECT_TRUE(has_violation(v, "segments.0.integrity")) << describe(v);
}

TEST_F(LuksPolicy, RejectsKeyslotShapeChanges) {
  auto v = check_edited([](Json &j) { j["keyslots"]["0"]["area"]["encryption"] = "cipher_null-ecb"; });
  EXPECT_TRUE(has_violation(v, "keyslots.0.area.encryption")) << describe(v);
  v = check_edited([](Json &j) { j["keyslots"]["0"]["af"]["stripes"] = 1; });
  EXPECT_TRUE(has_violation(v, "keyslots.0.af.stripes")) << describe(v);
  v = check_edited([](Json &j) { j["keyslots"]["0"]["area"]["offset"] = "0"; });
  EXPECT_TRUE(has_violation(v, "keyslots.0.area")) << describe(v);
  v = check_edited(
      [](Json &j) { j["keyslots"]["1"]["area"]["offset"] = j["keyslots"]["0"]["area"]["offset"]; });
  EXPECT_TRUE(has_violation(v, "keyslots.1.area")) << describe(v);
  v = check_edited([](Json &j) { j["keyslots"]["0"]["type"] = "reencrypt"; });
  EXPECT_TRUE(has_violation(v, "keyslots.0.type")) << describe(v);
}

TEST_F(LuksPolicy, RejectsIgnoredPriority) {
  auto v = check_edited([](Json &j) { j["keyslots"]["0"]["priority"] = 0; });
  EXPECT_TRUE(has_violation(v, "keyslots.0.priority")) << describe(v);
  v = check_edited([](Json &j) { j["keyslots"]["0"]["priority"] = 1; });
  EXPECT_TRUE(v.empty()) << describe(v);
}

TEST_F(LuksPolicy, RejectsUnknownFields) {
  const auto v = check_edited([](Json &j) { j["segments"]["0"]["future_feature"] = "on"; });
  EXPECT_TRUE(has_violation(v, "segments.0.future_feature")) << describe(v);
}

TEST_F(LuksPolicy, RejectsBrokenChecksum) {
  auto bytes = m_bytes;
  auto j = test::get_json(bytes);
  j["segments"]["0"]["encryption"] = "cipher_null-ecb";
  test::set_json(bytes, j);
  bytes[40] ^= std::byte{0x01}; // label byte of the primary, after the checksum was computed
  const auto v = check(Header::parse(bytes), m_policy);
  EXPECT_TRUE(has_violation(v, "binary.primary.checksum")) << describe(v);
  EXPECT_FALSE(has_violation(v, "binary.secondary.checksum")) << describe(v);
}

TEST_F(LuksPolicy, RejectsMismatchingCopies) {
  auto bytes = m_bytes;
  auto j = test::get_json(bytes);
  j["segments"]["0"]["encryption"] = "cipher_null-ecb";
  test::set_json(bytes, j, Copies::secondary_only); // valid checksum, different JSON
  const Header h = Header::parse(bytes);
  EXPECT_TRUE(h.secondary().checksum_matches());
  const auto v = check(h, m_policy);
  EXPECT_TRUE(has_violation(v, "binary.secondary.json_area")) << describe(v);

  auto bytes2 = m_bytes;
  test::write_be(bytes2, 16384 + 16, 99, 8); // secondary seqid
  test::recompute_checksum(bytes2, 16384);
  const auto v2 = check(Header::parse(bytes2), m_policy);
  EXPECT_TRUE(has_violation(v2, "binary.secondary.seqid")) << describe(v2);
}

TEST_F(LuksPolicy, RejectsBinaryFieldChanges) {
  auto bytes = m_bytes;
  test::write_str(bytes, 168, "00000000-0000-0000-0000-000000000000");
  test::recompute_checksum(bytes, 0);
  auto v = check(Header::parse(bytes), m_policy);
  EXPECT_TRUE(has_violation(v, "binary.primary.uuid")) << describe(v);

  bytes = m_bytes;
  test::write_be(bytes, 256, 4096, 8); // primary hdr_offset
  test::recompute_checksum(bytes, 0);
  v = check(Header::parse(bytes), m_policy);
  EXPECT_TRUE(has_violation(v, "binary.primary.hdr_offset")) << describe(v);

  bytes = m_bytes;
  bytes[300] = std::byte{0x41}; // reserved padding of the primary binary header
  test::recompute_checksum(bytes, 0);
  v = check(Header::parse(bytes), m_policy);
  EXPECT_TRUE(has_violation(v, "binary.primary.padding")) << describe(v);

  bytes = m_bytes;
  bytes[16384 - 1] = std::byte{0x41}; // garbage after the primary JSON's NUL
  test::recompute_checksum(bytes, 0);
  v = check(Header::parse(bytes), m_policy);
  EXPECT_TRUE(has_violation(v, "binary.primary.json_area")) << describe(v);
}

TEST_F(LuksPolicy, ReadCompliantHeaderBoundsTheRead) {
  fs::TempDir dir("luks-unit");
  const auto path = dir.path() / "disk";
  fs::write_file_atomic(path, m_bytes, 0600);
  const fs::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)); // NOLINT
  ASSERT_TRUE(fd);
  const Header h = read_compliant_header(fd.get(), m_policy);
  EXPECT_EQ(h.bytes().size(), m_bytes.size());

  // A header that claims a larger keyslots area than the policy is refused
  // before the extra bytes are read.
  auto big = m_bytes;
  auto j = test::get_json(big);
  j["config"]["keyslots_size"] = std::to_string(64U << 20U);
  test::set_json(big, j);
  const auto path2 = dir.path() / "disk2";
  fs::write_file_atomic(path2, big, 0600);
  const fs::Fd fd2(::open(path2.c_str(), O_RDONLY | O_CLOEXEC)); // NOLINT
  try {
    (void)read_compliant_header(fd2.get(), m_policy);
    FAIL() << "oversized header accepted";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("exceeds"), std::string::npos) << e.what();
  }

  auto bad = m_bytes;
  j = test::get_json(bad);
  j["tokens"]["0"] = {{"type", "x"}};
  test::set_json(bad, j);
  const auto path3 = dir.path() / "disk3";
  fs::write_file_atomic(path3, bad, 0600);
  const fs::Fd fd3(::open(path3.c_str(), O_RDONLY | O_CLOEXEC)); // NOLINT
  EXPECT_THROW((void)read_compliant_header(fd3.get(), m_policy), Error);
}

TEST(LuksPolicyJson, RoundTripsAndIsStrict) {
  const auto vk = test::fixed_secret(64, 0x07);
  const Policy p = derive_policy(Header::parse(test::build_header(test::make_metadata(vk, Recovery::yes))));
  const std::string text = policy_to_json(p);
  const Policy q = policy_from_json(text);
  EXPECT_EQ(policy_to_json(q), text);
  EXPECT_EQ(q.digest.digest, p.digest.digest);
  EXPECT_EQ(q.keyslots.size(), 2U);
  EXPECT_NE(text.find("\"format\": \"cvmforge-luks-policy/1\""), std::string::npos);

  auto j = Json::parse(text);
  j["surprise"] = 1;
  EXPECT_THROW((void)policy_from_json(j.dump()), Error);
  j = Json::parse(text);
  j["digest"].erase("salt");
  EXPECT_THROW((void)policy_from_json(j.dump()), Error);
  j = Json::parse(text);
  j["format"] = "cvmforge-luks-policy/2";
  EXPECT_THROW((void)policy_from_json(j.dump()), Error);
  j = Json::parse(text);
  j["keyslots"][0]["kdf"]["max_iterations"] = -1;
  EXPECT_THROW((void)policy_from_json(j.dump()), Error);
  j = Json::parse(text);
  j["keyslots"][0]["presence"] = "sometimes";
  EXPECT_THROW((void)policy_from_json(j.dump()), Error);
  EXPECT_THROW((void)policy_from_json("not json"), Error);
}

} // namespace
} // namespace cvm::luks
