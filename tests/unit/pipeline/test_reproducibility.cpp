// SPDX-License-Identifier: Apache-2.0
// Issue 17: every identifier a reproducible build derives from its seed, the
// FAT volume ID written into a boot sector, and SOURCE_DATE_EPOCH's sources.
#include "lib/manifest/manifest.hpp"
#include "lib/pipeline/ids.hpp"
#include "lib/pipeline/reproducibility.hpp"
#include "lib/util/error.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <set>
#include <string>
#include <vector>

using namespace cvm;
using namespace cvm::pipeline;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

// Every identifier a build derives, by purpose.
std::vector<std::string>
all_purposes() {
  std::vector<std::string> p{std::string(purpose::luks),
                             std::string(purpose::root_fs),
                             std::string(purpose::boot_fs),
                             std::string(purpose::esp_fs),
                             std::string(purpose::gpt_disk)};
  for (const char *role : {"esp", "boot", "root"}) {
    p.push_back(gpt_partition_purpose(role));
  }
  return p;
}

TEST(ReproducibleIds, EveryDerivedIdentifierIsStableDistinctAndSeedDependent) {
  std::set<std::string> seen;
  for (const auto &p : all_purposes()) {
    const auto a = uuid_from_seed("fleet-a", p);
    EXPECT_EQ(a, uuid_from_seed("fleet-a", p)) << p;
    EXPECT_NE(a, uuid_from_seed("fleet-b", p)) << p;
    EXPECT_TRUE(is_canonical_uuid(a)) << p;
    seen.insert(a);
  }
  EXPECT_EQ(seen.size(), all_purposes().size()) << "two purposes share an identifier";
}

TEST(ReproducibleIds, KnownAnswers) {
  // Pinned: these are part of the image format. A change here changes every
  // reproducible image's GPT, and so its reference values.
  EXPECT_EQ(uuid_from_seed("web-01", purpose::gpt_disk), uuid_from_seed("web-01", "gpt-disk"));
  EXPECT_EQ(gpt_partition_purpose("root"), "gpt-partition-root");
  // Computed independently (Python's hashlib): SHA-256("cvmforge-uuid\0"
  // purpose "\0" seed), first 16 bytes, version 8, RFC 9562 variant.
  EXPECT_EQ(uuid_from_seed("web-01", purpose::luks), "b6824533-d4fb-809c-bf7e-d78d3cbccac9")
      << "update only together with the changelog: every seeded image changes";
  EXPECT_EQ(uuid_from_seed("web-01", purpose::gpt_disk), "f2d4cd9d-c5a9-8ad1-9c18-4fb57bcaf34b");
}

TEST(ReproducibleIds, FatVolumeIdIsTheEspUuidsFirstFourBytesLittleEndian) {
  const auto u = uuid_from_seed("web-01", purpose::esp_fs);
  const std::uint32_t id = fat_volume_id_from_seed("web-01");
  // On disk (little-endian) the bytes are the UUID's first four.
  const std::string le =
      fmt::format("{:02x}{:02x}{:02x}{:02x}", id & 0xffU, (id >> 8U) & 0xffU, (id >> 16U) & 0xffU, id >> 24U);
  EXPECT_EQ(le, u.substr(0, 8));
  EXPECT_NE(id, fat_volume_id_from_seed("web-02"));
  EXPECT_EQ(format_fat_volume_id(0x1234ABCDU), "1234-ABCD");
  EXPECT_EQ(format_fat_volume_id(0x0000000FU), "0000-000F");
}

// A boot sector as mkfs.fat writes one: FAT16 (BPB_FATSz16 != 0) or FAT32
// with its backup boot sector at sector 6.
std::vector<std::byte>
boot_sectors(bool fat32, std::size_t bytes = 8192) {
  std::vector<std::byte> b(bytes);
  auto put16 = [&](std::size_t at, unsigned v) {
    b[at] = static_cast<std::byte>(v & 0xffU);
    b[at + 1] = static_cast<std::byte>(v >> 8U);
  };
  auto sector = [&](std::size_t base) {
    put16(base + 11, 512);
    put16(base + 22, fat32 ? 0 : 32);
    if (fat32) {
      put16(base + 50, 6);
    }
    b[base + (fat32 ? 66 : 38)] = std::byte{0x29};
    b[base + 510] = std::byte{0x55};
    b[base + 511] = std::byte{0xAA};
  };
  sector(0);
  if (fat32 && bytes >= 7 * 512) {
    sector(6 * 512);
  }
  return b;
}

std::uint32_t
read_le32(const std::vector<std::byte> &b, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    v |= static_cast<std::uint32_t>(b[at + i]) << (8U * i);
  }
  return v;
}

TEST(FatVolumeId, Fat16HasOneFieldAtByte39) {
  auto b = boot_sectors(false);
  const auto before = b;
  EXPECT_THAT(set_fat_volume_id(b, 0xA1B2C3D4U), ElementsAre(39U));
  EXPECT_EQ(read_le32(b, 39), 0xA1B2C3D4U);
  // Nothing else changed.
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i < 39 || i >= 43) {
      ASSERT_EQ(b[i], before[i]) << "byte " << i;
    }
  }
}

TEST(FatVolumeId, Fat32WritesTheBootSectorAndItsBackup) {
  auto b = boot_sectors(true);
  EXPECT_THAT(set_fat_volume_id(b, 0x01020304U), ElementsAre(67U, 6 * 512 + 67U));
  EXPECT_EQ(read_le32(b, 67), 0x01020304U);
  EXPECT_EQ(read_le32(b, 6 * 512 + 67), 0x01020304U);
}

TEST(FatVolumeId, RefusesWhatIsNotAFatBootSector) {
  auto expect_refused = [](std::vector<std::byte> b, const char *why) {
    try {
      set_fat_volume_id(b, 1);
      ADD_FAILURE() << "accepted: " << why;
    } catch (const Error &e) {
      EXPECT_EQ(e.kind(), ErrorKind::guest);
      EXPECT_THAT(e.what(), HasSubstr(why));
    }
  };
  auto no_signature = boot_sectors(false);
  no_signature[510] = std::byte{0};
  expect_refused(no_signature, "boot signature");
  auto no_extended = boot_sectors(false);
  no_extended[38] = std::byte{0x28}; // the short BPB: no volume ID field
  expect_refused(no_extended, "extended boot signature");
  auto odd_sector = boot_sectors(false);
  odd_sector[11] = std::byte{0x01}; // 513 bytes per sector
  expect_refused(odd_sector, "bytes per sector");
  expect_refused(boot_sectors(true, 1024), "backup boot sector");
  expect_refused(std::vector<std::byte>(100), "100 bytes");
}

manifest::Manifest
with_epoch(std::optional<std::int64_t> v) {
  manifest::Manifest m;
  m.reproducibility.source_date_epoch = v;
  return m;
}

TEST(SourceDateEpoch, ManifestThenEnvironmentThenNone) {
  auto a = resolve_source_date_epoch(with_epoch(100), "200");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->value, 100);
  EXPECT_EQ(a->source, "manifest");
  auto b = resolve_source_date_epoch(with_epoch(std::nullopt), "200");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->value, 200);
  EXPECT_EQ(b->source, "environment");
  EXPECT_FALSE(resolve_source_date_epoch(with_epoch(std::nullopt), nullptr));
  EXPECT_FALSE(resolve_source_date_epoch(with_epoch(std::nullopt), ""));
}

TEST(SourceDateEpoch, AMalformedEnvironmentValueIsAnInputError) {
  for (const char *bad : {"yesterday", "-1", "12abc", " 12", "99999999999999999999", "9007199254740992"}) {
    try {
      (void)resolve_source_date_epoch(with_epoch(std::nullopt), bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error &e) {
      EXPECT_EQ(e.kind(), ErrorKind::input) << bad;
      EXPECT_THAT(e.what(), HasSubstr("SOURCE_DATE_EPOCH")) << bad;
    }
  }
  // The manifest's value wins; a bad environment does not matter then.
  EXPECT_EQ(resolve_source_date_epoch(with_epoch(5), "yesterday")->value, 5);
}

TEST(SourceDateEpoch, BootToolArgv) {
  const std::vector<std::string> tool{"/usr/sbin/update-initramfs", "-u", "-k", "all"};
  EXPECT_EQ(boot_tool_argv(tool, std::nullopt, BootTool::other), tool);
  EXPECT_EQ(boot_tool_argv({"/usr/bin/dracut", "--force"}, std::nullopt, BootTool::dracut),
            (std::vector<std::string>{"/usr/bin/dracut", "--force"}));
  EXPECT_THAT(
      boot_tool_argv(tool, SourceDateEpoch{7, "manifest"}, BootTool::other),
      ElementsAre("/usr/bin/env", "SOURCE_DATE_EPOCH=7", "/usr/sbin/update-initramfs", "-u", "-k", "all"));
  EXPECT_THAT(
      boot_tool_argv({"/usr/bin/dracut", "--force"}, SourceDateEpoch{7, "manifest"}, BootTool::dracut),
      ElementsAre("/usr/bin/env", "SOURCE_DATE_EPOCH=7", "/usr/bin/dracut", "--reproducible", "--force"));
}

TEST(ReproducibilityReport, NamesEveryKnownDifference) {
  manifest::Manifest m;
  auto r = reproducibility_report(m, std::nullopt);
  EXPECT_EQ(r["identifiers"], "random");
  EXPECT_TRUE(r["source_date_epoch"].is_null());
  ASSERT_EQ(r["measured_differences"].size(), 2U);
  EXPECT_THAT(r["measured_differences"][0].get<std::string>(), HasSubstr("GPT"));
  EXPECT_THAT(r["measured_differences"][1].get<std::string>(), HasSubstr("SOURCE_DATE_EPOCH"));

  m.reproducibility.seed = "s";
  r = reproducibility_report(m, SourceDateEpoch{9, "environment"});
  EXPECT_EQ(r["identifiers"], "derived from reproducibility.seed");
  EXPECT_EQ(r["source_date_epoch"], 9);
  EXPECT_EQ(r["source_date_epoch_from"], "environment");
  EXPECT_TRUE(r["measured_differences"].empty());

  m.attestation.enabled = true;
  r = reproducibility_report(m, SourceDateEpoch{9, "manifest"});
  ASSERT_EQ(r["measured_differences"].size(), 1U);
  EXPECT_THAT(r["measured_differences"][0].get<std::string>(), HasSubstr("volume-key digest"));
}

} // namespace
