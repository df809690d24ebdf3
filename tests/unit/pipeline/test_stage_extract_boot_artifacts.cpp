// SPDX-License-Identifier: Apache-2.0
// Stage extract-boot-artifacts against fakes.
#include "tests/unit/pipeline/stage_fixture.hpp"

#include <gmock/gmock.h>

using namespace cvm;
using namespace cvm::pipeline::test;
using ::testing::HasSubstr;

TEST_F(StageTest, ExtractBootArtifactsTakesTheNewestKernelAndGrubsCommandLine) {
  context("boot: {mode: grub}\n");
  auto &g = root_copied();
  ctx->kernel_parameters = {"root=/dev/mapper/cvmroot", "console=ttyS0"};
  pipeline::stages::mount_output_as_root(*ctx);
  g.write_text(
      "/boot/grub/grub.cfg",
      "menuentry 'Debian' {\n\tlinux\t/vmlinuz-6.1.0-10-amd64 root=/dev/mapper/cvmroot ro quiet\n}\n");
  g.write_text("/boot/initrd.img-6.1.0-10-amd64", "new initrd");
  plan::ExtractBootArtifacts::run(*ctx);

  EXPECT_EQ(fs::read_text(ctx->artifacts_dir / "initrd.img"), "new initrd");
  EXPECT_EQ(fs::read_text(ctx->artifacts_dir / "cmdline"),
            "BOOT_IMAGE=/vmlinuz-6.1.0-10-amd64 root=/dev/mapper/cvmroot ro quiet\n");
  EXPECT_TRUE(std::filesystem::exists(ctx->artifacts_dir / "BOOTX64.EFI"));
  EXPECT_TRUE(std::filesystem::exists(ctx->artifacts_dir / "disk-head.bin"));
  EXPECT_EQ(ctx->kernels_after.back().version, "6.1.0-10-amd64");
  EXPECT_EQ(report()["boot_artifacts"]["kernel_version"], "6.1.0-10-amd64");
  EXPECT_FALSE(report().contains("attestation")); // no agent: no release-barrier note
}

TEST_F(StageTest, ExtractBootArtifactsDirectBootUsesTheBuildsCommandLine) {
  context("boot: {mode: direct}\n");
  root_copied();
  ctx->kernel_parameters = {"root=/dev/mapper/cvmroot", "console=ttyS0"};
  plan::ExtractBootArtifacts::run(*ctx);
  EXPECT_EQ(fs::read_text(ctx->artifacts_dir / "cmdline"), "root=/dev/mapper/cvmroot console=ttyS0\n");
  EXPECT_FALSE(std::filesystem::exists(ctx->artifacts_dir / "disk-head.bin"));
}

TEST_F(StageTest, ExtractBootArtifactsFailsWithoutTheNewInitramfs) {
  context("boot: {mode: direct}\n");
  auto &g = root_copied();
  pipeline::stages::mount_output_as_root(*ctx);
  g.rm("/boot/initrd.img-6.1.0-10-amd64");
  const auto e = error_of([&] { plan::ExtractBootArtifacts::run(*ctx); });
  EXPECT_EQ(e.kind(), ErrorKind::guest);
  EXPECT_THAT(e.what(), HasSubstr("initramfs for kernel 6.1.0-10-amd64 was not generated"));
}
