// SPDX-License-Identifier: Apache-2.0
#include "lib/crypto/crypto.hpp"
#include "lib/luks/cryptsetup.hpp"
#include "lib/luks/header.hpp"
#include "lib/luks/policy.hpp"
#include "lib/util/error.hpp"
#include "lib/util/exec.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/hex.hpp"
#include "lib/util/log.hpp"
#include "tests/unit/luks/luks_test_util.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <functional>
#include <mutex>

namespace cvm::luks {
namespace {

using test::has_violation;

constexpr std::string_view k_uuid = "5f2a1b3c-4d5e-4f60-8a7b-1c2d3e4f5a6b";

Header
read_compliant_header_from(const std::filesystem::path &path, const Policy &policy) {
  const fs::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)); // NOLINT
  if (!fd) {
    throw Error(ErrorKind::io, "open {}", path.string());
  }
  return read_compliant_header(fd.get(), policy);
}

class LuksCryptsetup : public ::testing::Test {
protected:
  LuksCryptsetup()
    : m_dir("luks-integration")
    , m_vk(crypto::random_secret(64))
    , m_unlock(crypto::random_secret(k_unlock_key_size))
    , m_recovery(SecretBytes::copy_of(as_bytes_of("correct horse battery staple"))) {}

  static std::span<const std::byte>
  as_bytes_of(std::string_view s) {
    return {reinterpret_cast<const std::byte *>(s.data()), s.size()}; // NOLINT
  }

  LuksParams
  params() const {
    LuksParams p;
    const auto spec = parse_cipher_spec("aes-xts-plain64");
    p.cipher = spec.cipher;
    p.cipher_mode = spec.mode;
    p.label = "cvmroot";
    p.subsystem = "cvmforge";
    p.uuid = std::string(k_uuid);
    p.data_size = 64 * k_mib;
    // TEST ONLY: cheapest Argon2id for the recovery keyslot, named as such.
    p.recovery_pbkdf = insecure_fast_argon2id_for_tests();
    return p;
  }

  std::filesystem::path
  format(const std::string &name = "header") {
    const auto path = m_dir.path() / name;
    const FormatKeys keys{m_vk, m_unlock, &m_recovery};
    m_result = format_detached_header(path, params(), keys);
    return path;
  }

  // Writes `bytes` as a header file named `name`.
  std::filesystem::path
  write(const std::string &name, const std::vector<std::byte> &bytes) {
    const auto path = m_dir.path() / name;
    fs::write_file_atomic(path, bytes, 0600);
    return path;
  }

  fs::TempDir m_dir;
  SecretBytes m_vk;
  SecretBytes m_unlock;
  SecretBytes m_recovery;
  FormatResult m_result;
};

TEST_F(LuksCryptsetup, FormatsDetachedHeaderWithExpectedLayout) {
  const auto path = format();
  // Facts established with libcryptsetup 2.6.1: 16 KiB metadata per copy, the
  // keyslots area fills the rest of the 16 MiB before the data offset.
  EXPECT_EQ(m_result.metadata_size, 16384U);
  EXPECT_EQ(m_result.data_offset, 16 * k_mib);
  EXPECT_EQ(m_result.keyslots_size, 16 * k_mib - 2 * 16384);
  EXPECT_EQ(m_result.header_file_size, 16 * k_mib);
  EXPECT_EQ(m_result.uuid, k_uuid);
  EXPECT_EQ(std::filesystem::file_size(path), 16 * k_mib);
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST_F(LuksCryptsetup, ReadBackWithLibcryptsetupAndPureParserAgree) {
  const auto path = format();
  const HeaderInfo info = read_header_info(path);
  EXPECT_EQ(info.cipher, "aes");
  EXPECT_EQ(info.cipher_mode, "xts-plain64");
  EXPECT_EQ(info.key_size_bits, 512U);
  EXPECT_EQ(info.sector_size, 4096U);
  EXPECT_EQ(info.uuid, k_uuid);
  EXPECT_EQ(info.label, "cvmroot");
  EXPECT_EQ(info.subsystem, "cvmforge");
  EXPECT_EQ(info.data_offset, 16 * k_mib);
  EXPECT_EQ(info.metadata_size, 16384U);
  EXPECT_EQ(info.keyslots_size, 16 * k_mib - 2 * 16384);
  EXPECT_EQ(info.requirement_flags, 0U);
  ASSERT_EQ(info.keyslots.size(), 2U);
  EXPECT_EQ(info.keyslots[0].slot, 0);
  EXPECT_EQ(info.keyslots[0].pbkdf.type, PbkdfType::pbkdf2);
  EXPECT_EQ(info.keyslots[0].pbkdf.hash, "sha256");
  EXPECT_EQ(info.keyslots[0].pbkdf.iterations, 1000U);
  EXPECT_EQ(info.keyslots[0].key_size_bits, 512U);
  EXPECT_EQ(info.keyslots[1].slot, 1);
  EXPECT_EQ(info.keyslots[1].pbkdf.type, PbkdfType::argon2id);
  EXPECT_EQ(info.keyslots[1].pbkdf.iterations, 4U);
  EXPECT_EQ(info.keyslots[1].pbkdf.memory_kib, 32U);
  EXPECT_EQ(info.keyslots[1].pbkdf.parallel, 1U);
  ASSERT_EQ(info.metadata.segments.size(), 1U);
  EXPECT_EQ(info.metadata.segments[0].type, "crypt");
  EXPECT_FALSE(info.metadata.segments[0].size.has_value());
  EXPECT_TRUE(info.metadata.tokens.empty());

  const Header h = read_header(path);
  EXPECT_TRUE(h.primary().checksum_matches());
  EXPECT_TRUE(h.secondary().checksum_matches());
  EXPECT_TRUE(h.json_areas_identical());
  EXPECT_EQ(h.primary().uuid, k_uuid);
  EXPECT_EQ(h.primary().label, "cvmroot");
  EXPECT_EQ(h.metadata().segments.at(0).encryption, "aes-xts-plain64");
  EXPECT_EQ(h.metadata().segments.at(0).offset, 16 * k_mib);
  EXPECT_EQ(h.metadata().digests.at(0).type, "pbkdf2");
  EXPECT_EQ(h.metadata().digests.at(0).iterations, 1000U); // NO_BENCHMARK: no host-speed dependence
  EXPECT_TRUE(h.metadata().unknown_fields.empty());
  // Part A reads the same JSON through crypt_dump_json.
  EXPECT_EQ(info.metadata.digests.at(0).digest, h.metadata().digests.at(0).digest);

  const auto violations = check(h, derive_policy(h));
  EXPECT_TRUE(violations.empty()) << describe(violations);
}

TEST_F(LuksCryptsetup, LuksDumpOracleAgrees) {
  const auto cryptsetup = exec::find_program("cryptsetup");
  if (!cryptsetup) {
    GTEST_SKIP() << "skipped: cryptsetup CLI not installed";
  }
  const auto path = format();
  const auto r = exec::run({*cryptsetup, "luksDump", path.string()});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  for (const std::string &needle : {std::string("Version:       \t2"),
                                    std::string("UUID:          \t") + std::string(k_uuid),
                                    std::string("Label:         \tcvmroot"),
                                    std::string("offset: 16777216 [bytes]"),
                                    std::string("length: (whole device)"),
                                    std::string("cipher: aes-xts-plain64"),
                                    std::string("sector: 4096 [bytes]"),
                                    std::string("PBKDF:      pbkdf2"),
                                    std::string("PBKDF:      argon2id"),
                                    std::string("Metadata area: \t16384 [bytes]")}) {
    EXPECT_NE(r.out.find(needle), std::string::npos) << "missing: " << needle << "\n" << r.out;
  }
  EXPECT_EQ(r.out.find("Tokens:\n  0:"), std::string::npos);
}

TEST_F(LuksCryptsetup, VerifyVolumeKeyRightAndWrong) {
  const Header h = read_header(format());
  EXPECT_TRUE(verify_volume_key(h, m_vk));
  EXPECT_FALSE(verify_volume_key(h, crypto::random_secret(64)));
  const Policy p = derive_policy(h);
  EXPECT_TRUE(verify_volume_key(p.digest.as_digest(), m_vk));
}

TEST_F(LuksCryptsetup, UnlockKeysOpenTheirKeyslots) {
  const auto path = format();
  EXPECT_EQ(unlock_keyslot(path, m_unlock), 0);
  EXPECT_EQ(unlock_keyslot(path, m_recovery), 1);
  EXPECT_EQ(unlock_keyslot(path, m_unlock, k_unlock_keyslot), 0);
  EXPECT_EQ(unlock_keyslot(path, m_recovery, k_recovery_keyslot), 1);
  EXPECT_THROW((void)unlock_keyslot(path, m_recovery, k_unlock_keyslot), Error);
  EXPECT_THROW((void)unlock_keyslot(path, m_unlock, 5), Error);
  try {
    (void)unlock_keyslot(path, crypto::random_secret(64));
    FAIL() << "a random key unlocked a keyslot";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("no keyslot opens"), std::string::npos) << e.what();
  }
}

TEST_F(LuksCryptsetup, ValidatedCopyIsUsableByLibcryptsetup) {
  const auto path = format();
  const Header h = read_header(path);
  const auto copy = m_dir.path() / "validated";
  write_header_copy(h, copy);
  EXPECT_EQ(fs::read_file(copy), fs::read_file(path));
  EXPECT_EQ(unlock_keyslot(copy, m_unlock), 0);
}

TEST_F(LuksCryptsetup, SmallKeyslotsAreaLeavesTheGapBeforeTheDataAlone) {
  auto p = params();
  p.keyslots_size = k_mib;
  const auto path = m_dir.path() / "small";
  const FormatResult r = format_detached_header(path, p, FormatKeys{m_vk, m_unlock, &m_recovery});
  EXPECT_EQ(r.metadata_size, 16384U);
  EXPECT_EQ(r.keyslots_size, k_mib);
  EXPECT_EQ(r.header_file_size, k_mib + 2 * 16384);
  EXPECT_EQ(r.data_offset, 16 * k_mib);
  EXPECT_EQ(std::filesystem::file_size(path), r.header_file_size);
  const Header h = read_header(path);
  EXPECT_TRUE(check(h, derive_policy(h)).empty());
  EXPECT_EQ(unlock_keyslot(path, m_unlock, k_unlock_keyslot), 0);
  EXPECT_EQ(read_header_info(path).data_offset, 16 * k_mib);

  p.keyslots_size = 16 * k_mib; // does not fit before the data
  EXPECT_THROW((void)format_detached_header(m_dir.path() / "x", p, FormatKeys{m_vk, m_unlock, &m_recovery}),
               Error);
  p.keyslots_size = k_mib + 1;
  EXPECT_THROW((void)format_detached_header(m_dir.path() / "x", p, FormatKeys{m_vk, m_unlock, &m_recovery}),
               Error);
}

TEST_F(LuksCryptsetup, WithoutRecoveryThereIsOneKeyslot) {
  auto p = params();
  p.recovery_pbkdf.reset();
  const auto path = m_dir.path() / "one-slot";
  (void)format_detached_header(path, p, FormatKeys{m_vk, m_unlock, nullptr});
  const HeaderInfo info = read_header_info(path);
  ASSERT_EQ(info.keyslots.size(), 1U);
  EXPECT_EQ(info.keyslots[0].status, "active_last");
}

TEST_F(LuksCryptsetup, RejectsBadParametersAndKeepsExistingFiles) {
  const auto path = format();
  const auto before = fs::read_file(path);
  // O_EXCL: an existing file is neither overwritten nor removed.
  EXPECT_THROW((void)format_detached_header(path, params(), FormatKeys{m_vk, m_unlock, &m_recovery}), Error);
  EXPECT_EQ(fs::read_file(path), before);

  const auto other = m_dir.path() / "bad";
  const auto short_key = crypto::random_secret(32);
  EXPECT_THROW((void)format_detached_header(other, params(), FormatKeys{short_key, m_unlock, &m_recovery}),
               Error);
  EXPECT_THROW((void)format_detached_header(other, params(), FormatKeys{m_vk, short_key, &m_recovery}),
               Error);
  EXPECT_THROW((void)format_detached_header(other, params(), FormatKeys{m_vk, m_unlock, nullptr}), Error);
  auto p = params();
  p.data_offset = 16 * k_mib + 512;
  EXPECT_THROW((void)format_detached_header(other, p, FormatKeys{m_vk, m_unlock, &m_recovery}), Error);
  p = params();
  p.uuid.clear();
  EXPECT_THROW((void)format_detached_header(other, p, FormatKeys{m_vk, m_unlock, &m_recovery}), Error);
  p = params();
  p.uuid = "not-a-uuid";
  EXPECT_THROW((void)format_detached_header(other, p, FormatKeys{m_vk, m_unlock, &m_recovery}), Error);
  EXPECT_FALSE(std::filesystem::exists(other)) << "a failed format must not leave a header behind";
  EXPECT_THROW((void)parse_cipher_spec("aes"), Error);
}

TEST_F(LuksCryptsetup, IntegrityCannotBeFormattedOffline) {
  auto p = params();
  p.integrity = "hmac(sha256)";
  p.key_size_bits = 512 + 256;
  const auto vk = crypto::random_secret(96);
  const auto path = m_dir.path() / "integrity";
  try {
    (void)format_detached_header(path, p, FormatKeys{vk, m_unlock, &m_recovery});
    FAIL() << "integrity format unexpectedly succeeded offline";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::crypto);
    EXPECT_NE(std::string(e.what()).find("device-mapper"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(LuksCryptsetup, LogLinesGoToCvmLogAndNeverContainKeys) {
  std::vector<std::string> lines;
  std::mutex mutex;
  log::set_level(log::Level::debug);
  log::set_sink([&](log::Level, std::string_view line) {
    const std::lock_guard<std::mutex> lock(mutex);
    lines.emplace_back(line);
  });
  const auto path = format();
  auto p = params();
  p.uuid = "not-a-uuid"; // makes libcryptsetup log an error line
  EXPECT_THROW(
      (void)format_detached_header(m_dir.path() / "bad-uuid", p, FormatKeys{m_vk, m_unlock, &m_recovery}),
      Error);
  log::set_sink(nullptr);
  log::set_level(log::Level::info);
  bool saw_libcryptsetup = false;
  const std::string vk_hex = to_hex(m_vk.span());
  for (const auto &line : lines) {
    saw_libcryptsetup = saw_libcryptsetup || line.find("libcryptsetup") != std::string::npos;
    EXPECT_EQ(line.find(vk_hex.substr(0, 16)), std::string::npos) << line;
  }
  EXPECT_TRUE(saw_libcryptsetup);
}

TEST_F(LuksCryptsetup, ActivateUsesTheValidatedCopyOrFailsCleanlyWithoutDeviceMapper) {
  const auto path = format();
  const Header h = read_compliant_header_from(path, derive_policy(read_header(path)));
  const auto copy = m_dir.path() / "validated";
  write_header_copy(h, copy);
  // The data device: the header at the start, data after it, as on the disk.
  const auto disk = m_dir.path() / "disk";
  auto bytes = fs::read_file(path);
  bytes.resize(bytes.size() + 4 * k_mib);
  fs::write_file_atomic(disk, bytes, 0600);
  const std::string name = "cvmforge-test-" + std::to_string(::getpid());
  try {
    activate(copy, disk, name, m_unlock);
  } catch (const Error &e) {
    // The build host has no device-mapper: a clean crypto error, nothing mapped.
    EXPECT_EQ(e.kind(), ErrorKind::crypto) << e.what();
    GTEST_SKIP() << "skipped: device-mapper not available here (" << e.what() << ")";
  }
  deactivate(name);
}

// ---- policy against real libcryptsetup headers ------------------------------

class LuksCryptsetupPolicy : public LuksCryptsetup {
protected:
  void
  SetUp() override {
    m_path = format();
    m_bytes = fs::read_file(m_path);
    m_policy = derive_policy(Header::parse(m_bytes));
  }

  // Edits the JSON of the real header, recomputing both checksums.
  std::vector<std::byte>
  edited(const std::function<void(test::Json &)> &edit) const {
    auto bytes = m_bytes;
    auto j = test::get_json(bytes);
    edit(j);
    test::set_json(bytes, j);
    return bytes;
  }

  std::vector<Violation>
  check_bytes(const std::vector<std::byte> &bytes) const {
    return check(Header::parse(bytes), m_policy);
  }

  std::filesystem::path m_path;
  std::vector<std::byte> m_bytes;
  Policy m_policy;
};

TEST_F(LuksCryptsetupPolicy, CipherNullPassesLibcryptsetupButNotThePolicy) {
  const auto bytes = edited([](test::Json &j) { j["segments"]["0"]["encryption"] = "cipher_null-ecb"; });
  // libcryptsetup itself loads this header happily: only the policy stops it.
  const HeaderInfo info = read_header_info(write("cipher-null", bytes));
  EXPECT_EQ(info.cipher, "cipher_null");
  const auto v = check_bytes(bytes);
  EXPECT_TRUE(has_violation(v, "segments.0.encryption")) << describe(v);
  EXPECT_EQ(v.size(), 1U) << describe(v);
}

TEST_F(LuksCryptsetupPolicy, ExtraKeyslotTokenRequirementsAndArgonMemory) {
  auto v = check_bytes(edited([](test::Json &j) {
    j["keyslots"]["2"] = j["keyslots"]["0"];
    j["keyslots"]["2"]["area"]["offset"] = std::to_string(16 * k_mib - 258048);
    j["digests"]["0"]["keyslots"].push_back("2");
  }));
  EXPECT_TRUE(has_violation(v, "keyslots.2")) << describe(v);

  const auto token = edited([](test::Json &j) {
    j["tokens"]["0"] = {{"type", "evil"}, {"keyslots", {"0"}}};
  });
  EXPECT_NO_THROW((void)read_header_info(write("token", token))); // libcryptsetup accepts it
  v = check_bytes(token);
  EXPECT_TRUE(has_violation(v, "tokens.0")) << describe(v);

  v = check_bytes(edited([](test::Json &j) {
    j["config"]["requirements"] = {{"mandatory", {"online-reencrypt-v2"}}};
  }));
  EXPECT_TRUE(has_violation(v, "config.requirements")) << describe(v);

  v = check_bytes(edited([](test::Json &j) { j["keyslots"]["1"]["kdf"]["memory"] = 4194304; }));
  EXPECT_TRUE(has_violation(v, "keyslots.1.kdf.memory")) << describe(v);
}

TEST_F(LuksCryptsetupPolicy, SwappedHeaderForAnotherKeyIsCaughtByTheDigest) {
  // Same parameters, same UUID, different volume key: what a host that wants
  // the guest to write into a volume it can read would produce.
  const auto attacker_vk = crypto::random_secret(64);
  const auto path = m_dir.path() / "swapped";
  (void)format_detached_header(path, params(), FormatKeys{attacker_vk, m_unlock, &m_recovery});
  const Header swapped = read_header(path);
  const auto v = check(swapped, m_policy);
  EXPECT_TRUE(has_violation(v, "digests.0.digest")) << describe(v);
  EXPECT_FALSE(verify_volume_key(m_policy.digest.as_digest(), attacker_vk));
}

TEST_F(LuksCryptsetupPolicy, BrokenChecksumAndMismatchingCopies) {
  auto bytes = m_bytes;
  bytes[25] ^= std::byte{0x20}; // primary label, checksum stale
  auto v = check_bytes(bytes);
  EXPECT_TRUE(has_violation(v, "binary.primary.checksum")) << describe(v);

  bytes = m_bytes;
  auto j = test::get_json(bytes);
  j["segments"]["0"]["encryption"] = "cipher_null-ecb";
  test::set_json(bytes, j, test::Copies::secondary_only);
  v = check_bytes(bytes);
  EXPECT_TRUE(has_violation(v, "binary.secondary.json_area")) << describe(v);
}

TEST_F(LuksCryptsetupPolicy, PolicySurvivesJsonRoundTrip) {
  const Policy reloaded = policy_from_json(policy_to_json(m_policy));
  EXPECT_TRUE(check(Header::parse(m_bytes), reloaded).empty());
}

TEST(LuksVolumeInterface, RealImplementationFormatsAndReads) {
  const fs::TempDir dir("luks-integration");
  const auto volume = make_cryptsetup_volume();
  LuksParams p;
  p.uuid = "0f0e0d0c-0b0a-4908-8706-050403020100";
  const auto vk = crypto::random_secret(64);
  const auto unlock = crypto::random_secret(64);
  const auto path = dir.path() / "h";
  const FormatResult r = volume->format_detached_header(path, p, FormatKeys{vk, unlock, nullptr});
  EXPECT_EQ(r.data_offset, 16 * k_mib);
  EXPECT_EQ(volume->read_header_info(path).uuid, p.uuid);
  EXPECT_EQ(volume->unlock_keyslot(path, unlock, k_unlock_keyslot), 0);
}

} // namespace
} // namespace cvm::luks
