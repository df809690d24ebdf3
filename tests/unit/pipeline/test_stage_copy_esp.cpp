// SPDX-License-Identifier: Apache-2.0
// Stage copy-esp against fakes.
#include "lib/pipeline/ids.hpp"
#include "tests/unit/pipeline/stage_fixture.hpp"

#include <gmock/gmock.h>

using namespace cvm;
using namespace cvm::pipeline::test;
using ::testing::HasSubstr;

TEST_F(StageTest, CopyEspMakesAFreshFatWithTheBaseFiles) {
  context();
  auto &g = output_created();
  plan::CopyEsp::run(*ctx);
  EXPECT_EQ(g.devices[k_out_esp].type, "vfat");
  EXPECT_EQ(g.devices[k_out_esp].label, "ESP");
  const auto &tree = g.devices[k_out_esp].tree;
  ASSERT_NE(tree.find("/EFI/debian/shimx64.efi"), nullptr);
  ASSERT_NE(tree.find("/EFI/BOOT/BOOTX64.EFI"), nullptr);
  EXPECT_EQ(ctx->esp_fs_uuid, "1234-5678"); // what mkfs.vfat chose
  EXPECT_TRUE(g.mounts().empty());          // nothing left mounted
  EXPECT_GE(g.sync_count, 1);
}

TEST_F(StageTest, CopyEspWritesTheSeedsVolumeIdInBothBootSectors) {
  context("reproducibility: {seed: web-01}\n");
  auto &g = output_created();
  plan::CopyEsp::run(*ctx);
  const auto id = pipeline::fat_volume_id_from_seed("web-01");
  EXPECT_EQ(ctx->esp_fs_uuid, pipeline::format_fat_volume_id(id));
  const auto &raw = g.devices[k_out_esp].raw;
  for (const std::size_t at : {std::size_t{67}, std::size_t{6 * 512 + 67}}) {
    const std::uint32_t stored = std::to_integer<std::uint32_t>(raw[at]) |
                                 std::to_integer<std::uint32_t>(raw[at + 1]) << 8U |
                                 std::to_integer<std::uint32_t>(raw[at + 2]) << 16U |
                                 std::to_integer<std::uint32_t>(raw[at + 3]) << 24U;
    EXPECT_EQ(stored, id) << "at byte " << at;
  }
}

TEST_F(StageTest, CopyEspFailsWhenTheBaseEspCannotBeMounted) {
  context();
  auto &g = output_created();
  // A base ESP that cannot be mounted: the copy fails, and says where.
  g.devices.erase("/dev/sda1");
  const auto e = error_of([&] { plan::CopyEsp::run(*ctx); });
  EXPECT_EQ(e.kind(), ErrorKind::guest);
  EXPECT_THAT(e.what(), HasSubstr("/dev/sda1"));
}
