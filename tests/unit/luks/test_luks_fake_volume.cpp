// SPDX-License-Identifier: Apache-2.0
#include "lib/luks/policy.hpp"
#include "tests/unit/luks/fake_luks_volume.hpp"

#include <gtest/gtest.h>

namespace cvm::luks {
namespace {

// The fake must produce headers the real checker accepts, or stage tests that
// use it would exercise a different path than production.
TEST(FakeLuksVolume, ProducesPolicyCleanHeaders) {
  fs::TempDir dir("luks-fake");
  test::FakeLuksVolume fake;
  LuksVolume &volume = fake;
  LuksParams p;
  p.uuid = "11111111-2222-4333-8444-555555555555";
  p.label = "cvmforge-root";
  p.recovery_pbkdf = argon2id(4, 1U << 20U, 4);
  const auto vk = test::fixed_secret(64, 0x01);
  const auto unlock = test::fixed_secret(64, 0x02);
  const auto recovery = test::fixed_secret(20, 0x03);
  const auto path = dir.path() / "header";

  const FormatResult r = volume.format_detached_header(path, p, FormatKeys{vk, unlock, &recovery});
  EXPECT_EQ(r.data_offset, 16 * k_mib);
  EXPECT_EQ(r.header_file_size, 16 * k_mib);
  ASSERT_EQ(fake.format_calls.size(), 1U);
  EXPECT_TRUE(fake.format_calls[0].with_recovery);

  const Header h = read_header(path);
  const Policy policy = derive_policy(h);
  EXPECT_TRUE(check(h, policy).empty()) << describe(check(h, policy));
  EXPECT_TRUE(verify_volume_key(h, vk));
  EXPECT_EQ(policy.keyslots.at(1).kdf.max_memory_kib, 1U << 20U);

  const HeaderInfo info = volume.read_header_info(path);
  EXPECT_EQ(info.uuid, p.uuid);
  EXPECT_EQ(info.cipher, "aes");
  EXPECT_EQ(info.cipher_mode, "xts-plain64");
  EXPECT_EQ(info.keyslots.size(), 2U);

  EXPECT_EQ(volume.unlock_keyslot(path, unlock, k_unlock_keyslot), 0);
  EXPECT_EQ(volume.unlock_keyslot(path, recovery, k_any_keyslot), 1);
  EXPECT_THROW((void)volume.unlock_keyslot(path, recovery, k_unlock_keyslot), Error);

  LuksParams small = p;
  small.keyslots_size = k_mib;
  const FormatResult rs =
      volume.format_detached_header(dir.path() / "small", small, FormatKeys{vk, unlock, &recovery});
  EXPECT_EQ(rs.header_file_size, k_mib + 2 * 16384);
  const Header hs = read_header(dir.path() / "small");
  EXPECT_EQ(hs.metadata().segments.at(0).offset, 16 * k_mib);
  EXPECT_TRUE(check(hs, derive_policy(hs)).empty());

  fake.fail_next_format = Error(ErrorKind::crypto, "injected");
  EXPECT_THROW((void)volume.format_detached_header(dir.path() / "h2", p, FormatKeys{vk, unlock, &recovery}),
               Error);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "h2"));
}

TEST(LuksParamsHelpers, DefaultsAndCipherSpec) {
  const LuksParams p;
  EXPECT_EQ(p.cipher, "aes");
  EXPECT_EQ(p.cipher_mode, "xts-plain64");
  EXPECT_EQ(p.key_size_bits, 512U);
  EXPECT_EQ(p.sector_size, 4096U);
  EXPECT_EQ(p.data_offset, 16 * k_mib);
  EXPECT_EQ(p.unlock_pbkdf.type, PbkdfType::pbkdf2);
  EXPECT_EQ(p.unlock_pbkdf.iterations, 1000U);
  EXPECT_FALSE(p.integrity.has_value());
  const auto spec = parse_cipher_spec("aes-xts-plain64");
  EXPECT_EQ(spec.cipher, "aes");
  EXPECT_EQ(spec.mode, "xts-plain64");
  EXPECT_EQ(parse_cipher_spec("serpent-cbc-essiv:sha256").mode, "cbc-essiv:sha256");
  EXPECT_THROW((void)parse_cipher_spec("aes"), Error);
  EXPECT_THROW((void)parse_cipher_spec("-xts"), Error);
  EXPECT_THROW((void)parse_cipher_spec("aes-"), Error);
  EXPECT_EQ(pbkdf_type_name(PbkdfType::argon2id), "argon2id");
  const auto fast = insecure_fast_argon2id_for_tests();
  EXPECT_EQ(fast.memory_kib, 32U);
}

} // namespace
} // namespace cvm::luks
