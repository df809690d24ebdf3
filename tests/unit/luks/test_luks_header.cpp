// SPDX-License-Identifier: Apache-2.0
#include "lib/luks/header.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/hex.hpp"
#include "tests/unit/luks/luks_test_util.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cvm::luks {
namespace {

using test::Copies;
using test::Json;
using test::Recovery;

std::vector<std::byte>
good_header_bytes(Recovery recovery = Recovery::yes) {
  const auto vk = test::fixed_secret(64, 0x07);
  return test::build_header(test::make_metadata(vk, recovery));
}

void
expect_input_error(const std::vector<std::byte> &bytes, const std::string &needle) {
  try {
    (void)Header::parse(bytes);
    FAIL() << "parse accepted a header that should fail with \"" << needle << "\"";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::input);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(LuksHeader, ParsesBinaryHeadersAndMetadata) {
  const auto bytes = good_header_bytes();
  const Header h = Header::parse(bytes);
  EXPECT_EQ(h.primary().copy, HeaderCopy::primary);
  EXPECT_EQ(h.secondary().copy, HeaderCopy::secondary);
  EXPECT_EQ(h.primary().version, 2);
  EXPECT_EQ(h.primary().hdr_size, 16384U);
  EXPECT_EQ(h.primary().seqid, 3U);
  EXPECT_EQ(h.primary().label, "cvmroot");
  EXPECT_EQ(h.primary().subsystem, "cvmforge");
  EXPECT_EQ(h.primary().uuid, "6b1c2d3e-4f50-4a61-8b72-9c8d7e6f5a4b");
  EXPECT_EQ(h.primary().checksum_algorithm, "sha256");
  EXPECT_EQ(h.primary().hdr_offset, 0U);
  EXPECT_EQ(h.secondary().hdr_offset, 16384U);
  EXPECT_TRUE(h.primary().checksum_matches());
  EXPECT_TRUE(h.secondary().checksum_matches());
  EXPECT_TRUE(h.json_areas_identical());
  EXPECT_EQ(h.bytes().size(), std::size_t{1} << 20U);

  const Metadata &md = h.metadata();
  ASSERT_EQ(md.keyslots.size(), 2U);
  EXPECT_EQ(md.keyslots[0].id, "0");
  EXPECT_EQ(md.keyslots[0].key_size, 64U);
  ASSERT_TRUE(md.keyslots[0].kdf.has_value());
  EXPECT_EQ(md.keyslots[0].kdf->type, "pbkdf2");
  EXPECT_EQ(md.keyslots[0].kdf->iterations, 1000U);
  EXPECT_EQ(md.keyslots[1].kdf->type, "argon2id");
  EXPECT_EQ(md.keyslots[1].kdf->memory_kib, 65536U);
  EXPECT_EQ(md.keyslots[1].kdf->cpus, 2U);
  EXPECT_EQ(md.keyslots[0].area.offset, 32768U);
  ASSERT_EQ(md.segments.size(), 1U);
  EXPECT_EQ(md.segments[0].type, "crypt");
  EXPECT_EQ(md.segments[0].offset, std::uint64_t{1} << 20U);
  EXPECT_FALSE(md.segments[0].size.has_value());
  EXPECT_EQ(md.segments[0].encryption, "aes-xts-plain64");
  EXPECT_EQ(md.segments[0].sector_size, 4096U);
  ASSERT_EQ(md.digests.size(), 1U);
  EXPECT_EQ(md.digests[0].keyslots, (std::vector<std::string>{"0", "1"}));
  EXPECT_TRUE(md.tokens.empty());
  EXPECT_TRUE(md.config.flags.empty());
  EXPECT_FALSE(md.config.requirements.has_value());
  EXPECT_TRUE(md.unknown_fields.empty());
}

TEST(LuksHeader, RecordsBadChecksumInsteadOfThrowing) {
  auto bytes = good_header_bytes();
  bytes[24] = std::byte{'X'}; // first label byte, checksum not updated
  const Header h = Header::parse(bytes);
  EXPECT_EQ(h.primary().label, "Xvmroot");
  EXPECT_FALSE(h.primary().checksum_matches());
  EXPECT_TRUE(h.secondary().checksum_matches());
  EXPECT_TRUE(h.json_areas_identical());
}

TEST(LuksHeader, RejectsStructuralDamage) {
  {
    auto b = good_header_bytes();
    b[0] = std::byte{'X'};
    expect_input_error(b, "primary header: bad magic");
  }
  {
    auto b = good_header_bytes();
    b[16384] = std::byte{'X'};
    expect_input_error(b, "secondary header: bad magic");
  }
  {
    auto b = good_header_bytes();
    test::write_be(b, 6, 1, 2);
    expect_input_error(b, "unsupported version 1");
  }
  {
    auto b = good_header_bytes();
    test::write_be(b, 8, 12345, 8);
    expect_input_error(b, "invalid hdr_size 12345");
  }
  {
    auto b = good_header_bytes();
    test::write_be(b, 16384 + 8, 32768, 8);
    expect_input_error(b, "secondary");
  }
  {
    auto b = good_header_bytes();
    b.resize(2 * 16384 + 100);
    expect_input_error(b, "truncated");
  }
  {
    auto b = good_header_bytes();
    b.resize(1000);
    expect_input_error(b, "truncated");
  }
  {
    auto b = good_header_bytes();
    for (std::size_t i = k_binary_header_size; i < 16384; ++i) {
      b[i] = std::byte{' '};
    }
    expect_input_error(b, "not NUL-terminated");
  }
}

TEST(LuksHeader, RejectsMalformedJson) {
  const auto with_text = [](const std::string &text) {
    auto b = good_header_bytes();
    test::set_json_text(b, text);
    return b;
  };
  expect_input_error(with_text("{not json"), "does not parse");
  // Duplicate keys: json-c keeps the last one, others the first.
  const auto vk = test::fixed_secret(64, 0x07);
  std::string dup = test::make_metadata(vk, Recovery::no).dump();
  dup.insert(1, R"("tokens":{"0":{"type":"x","keyslots":[]}},)");
  expect_input_error(with_text(dup), "duplicate JSON key \"tokens\"");
  std::string deep = R"({"keyslots":{},"tokens":{"0":)";
  for (int i = 0; i < 20; ++i) {
    deep += R"({"a":)";
  }
  deep += "1" + std::string(20, '}') + "}}";
  expect_input_error(with_text(deep), "nested too deeply");
  auto j = test::make_metadata(vk, Recovery::no);
  j["segments"]["0"]["offset"] = 1048576; // a number where LUKS2 stores a string
  expect_input_error(with_text(j.dump()), "segments.0.offset: not a string");
  j = test::make_metadata(vk, Recovery::no);
  j["segments"]["0"]["offset"] = "+1048576";
  expect_input_error(with_text(j.dump()), "canonical decimal");
  j = test::make_metadata(vk, Recovery::no);
  j["keyslots"]["0"]["key_size"] = -64;
  expect_input_error(with_text(j.dump()), "keyslots.0.key_size");
  j = test::make_metadata(vk, Recovery::no);
  j["keyslots"]["x"] = j["keyslots"]["0"];
  expect_input_error(with_text(j.dump()), "keyslots.x");
  j = test::make_metadata(vk, Recovery::no);
  j.erase("config");
  expect_input_error(with_text(j.dump()), "missing \"config\"");
}

TEST(LuksHeader, RecordsUnknownFieldsTokensFlagsRequirements) {
  const auto vk = test::fixed_secret(64, 0x07);
  auto j = test::make_metadata(vk, Recovery::no);
  j["segments"]["0"]["surprise"] = true;
  j["extra"] = Json::object();
  j["tokens"]["0"] = {{"type", "clevis"}, {"keyslots", {"0"}}, {"jwe", {{"x", 1}}}};
  j["config"]["flags"] = {"allow-discards"};
  j["config"]["requirements"] = {{"mandatory", {"online-reencrypt-v2"}}};
  auto b = good_header_bytes();
  test::set_json(b, j);
  const Header h = Header::parse(b);
  const auto &md = h.metadata();
  EXPECT_EQ(md.unknown_fields, (std::vector<std::string>{"segments.0.surprise", "extra"}));
  ASSERT_EQ(md.tokens.size(), 1U);
  EXPECT_EQ(md.tokens[0].type, "clevis");
  EXPECT_EQ(md.config.flags, (std::vector<std::string>{"allow-discards"}));
  ASSERT_TRUE(md.config.requirements.has_value());
  EXPECT_NE(md.config.requirements->find("online-reencrypt-v2"), std::string::npos);
}

TEST(LuksHeader, ReadHeaderReadsExactlyTheRegionAndHonoursTheLimit) {
  auto bytes = good_header_bytes();
  const auto region = bytes.size();
  bytes.resize(region + 8192, std::byte{0xee}); // "data" after the header region
  fs::TempDir dir("luks-unit");
  const auto path = dir.path() / "disk";
  fs::write_file_atomic(path, bytes, 0600);

  const Header h = read_header(path);
  EXPECT_EQ(h.bytes().size(), region);
  EXPECT_TRUE(std::equal(h.bytes().begin(), h.bytes().end(), bytes.begin()));

  EXPECT_THROW((void)read_header(path, 2 * 16384), Error);
  EXPECT_THROW((void)read_header(dir.path() / "missing"), Error);
}

TEST(LuksHeader, WriteHeaderCopyWritesTheValidatedBytes) {
  const auto bytes = good_header_bytes();
  const Header h = Header::parse(bytes);
  fs::TempDir dir("luks-unit");
  const auto path = dir.path() / "validated-header";
  write_header_copy(h, path);
  EXPECT_EQ(fs::read_file(path), bytes);
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  // Never overwrite or follow an existing path.
  EXPECT_THROW(write_header_copy(h, path), Error);

  // An anonymous memory file, as the agent would use in the initramfs.
  const fs::Fd memfd(::memfd_create("luks-header", MFD_CLOEXEC));
  ASSERT_TRUE(memfd);
  ASSERT_EQ(::ftruncate(memfd.get(), 50 << 20), 0); // stale longer content is cut
  write_header_copy(h, memfd.get());
  const Header again = read_header(memfd.get());
  EXPECT_TRUE(std::equal(again.bytes().begin(), again.bytes().end(), bytes.begin(), bytes.end()));
  struct stat st {};
  ASSERT_EQ(::fstat(memfd.get(), &st), 0);
  EXPECT_EQ(static_cast<std::size_t>(st.st_size), bytes.size());
}

// Golden vector produced by libcryptsetup 2.6.1 (Debian 12, crypt_format +
// crypt_keyslot_add_by_volume_key with CRYPT_PBKDF_NO_BENCHMARK) for a volume
// key of 64 bytes 0x07; digest object copied from `cryptsetup luksDump`.
TEST(LuksHeader, VerifyVolumeKeyMatchesLibcryptsetupDigest) {
  Digest d;
  d.id = "0";
  d.type = "pbkdf2";
  d.hash = "sha256";
  d.iterations = 1000;
  d.salt = "TSyheqNYf07SNsnuvWeRI7nlxdG5hXg8fBtLMncCBNI=";
  d.digest = "Jp+HtIZbU9ewCwy2/lfJg3LbonGi7dAd4wBUqRcVBEs=";
  EXPECT_TRUE(verify_volume_key(d, test::fixed_secret(64, 0x07)));
  EXPECT_FALSE(verify_volume_key(d, test::fixed_secret(64, 0x08)));
  EXPECT_FALSE(verify_volume_key(d, test::fixed_secret(32, 0x07)));
  d.type = "argon2";
  EXPECT_THROW((void)verify_volume_key(d, test::fixed_secret(64, 0x07)), Error);
}

TEST(LuksHeader, VerifyVolumeKeyOnHeader) {
  const Header h = Header::parse(good_header_bytes());
  EXPECT_TRUE(verify_volume_key(h, test::fixed_secret(64, 0x07)));
  EXPECT_FALSE(verify_volume_key(h, test::fixed_secret(64, 0x09)));
}

} // namespace
} // namespace cvm::luks
