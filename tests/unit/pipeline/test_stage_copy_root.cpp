// SPDX-License-Identifier: Apache-2.0
// Stage copy-root against fakes: the encryption happens here, through the
// LUKS2 volume opened in the appliance with the build header.
#include "tests/unit/pipeline/stage_fixture.hpp"

#include <gmock/gmock.h>

using namespace cvm;
using namespace cvm::pipeline::test;
using ::testing::HasSubstr;

namespace {

constexpr const char *k_mapper = "/dev/mapper/cvmroot";

} // namespace

TEST_F(StageTest, CopyRootFillsTheOpenedVolumeAndTheBootPartition) {
  context();
  auto &g = output_created();
  g.luks_keys[k_out_root] = "build-passphrase";
  plan::CopyRoot::run(*ctx);

  EXPECT_EQ(g.devices[k_out_root].opened_as, "cvmroot");
  EXPECT_EQ(ctx->mapper_device, k_mapper);
  EXPECT_EQ(ctx->mounts, pipeline::OutputMounts::copy);
  const auto &root = g.devices[k_mapper];
  const auto &boot = g.devices[k_out_boot];
  EXPECT_EQ(root.type, "ext4");
  EXPECT_EQ(root.uuid, ctx->root_fs_uuid);
  EXPECT_EQ(boot.uuid, ctx->boot_fs_uuid);
  EXPECT_THAT(root.mkfs_options, HasSubstr("-J size=16"));
  EXPECT_THAT(boot.mkfs_options, HasSubstr("-J size=4"));
  // The root tree went into the encrypted volume, /boot's content to /boot.
  EXPECT_NE(root.tree.find("/etc/os-release"), nullptr);
  EXPECT_EQ(root.tree.find("/boot/vmlinuz-6.1.0-10-amd64"), nullptr);
  EXPECT_NE(boot.tree.find("/vmlinuz-6.1.0-10-amd64"), nullptr);
  EXPECT_NE(boot.tree.find("/grub/grub.cfg"), nullptr);
  // The new tree stays mounted for the stages that write into it.
  EXPECT_EQ(g.mounted_at(pipeline::k_dst), k_mapper);
  EXPECT_EQ(g.mounted_at(std::string(pipeline::k_dst) + "/boot"), k_out_boot);
  EXPECT_EQ(report()["root_filesystem"]["uuid"], ctx->root_fs_uuid);
}

TEST_F(StageTest, CopyRootStopsWhenTheVolumeDoesNotOpen) {
  context();
  auto &g = output_created();
  g.luks_keys[k_out_root] = "another passphrase";
  const auto e = error_of([&] { plan::CopyRoot::run(*ctx); });
  EXPECT_EQ(e.kind(), ErrorKind::guest);
  EXPECT_THAT(e.what(), HasSubstr("No key available"));
  EXPECT_TRUE(ctx->mapper_device.empty());
  EXPECT_EQ(ctx->mounts, pipeline::OutputMounts::none);
  EXPECT_EQ(g.devices.count(k_mapper), 0U);
}
