// SPDX-License-Identifier: Apache-2.0
// Stage rebuild-initramfs (the chrooted guest tools) against an in-memory
// guest: which commands run, in which order, and that the scratch tmpfs
// mounts are undone on every way out.
#include "lib/pipeline/stages.hpp"
#include "lib/util/error.hpp"
#include "tests/unit/fakes/fake_guest.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace cvm;
using ::testing::ElementsAre;

namespace {

using Argv = std::vector<std::string>;

struct RebuildFixture : ::testing::Test {
  manifest::Manifest m;
  pipeline::BuildOptions options;
  guestfs::test::FakeGuest g;

  void
  SetUp() override {
    g.add_partition("/dev/sda", 1, "ext4", "root-uuid");
    g.mount("/dev/sda1", "/", guestfs::ReadOnly::no);
    g.mkdir_p("/usr/sbin");
    g.write_text("/usr/sbin/update-initramfs", "");
    g.write_text("/usr/sbin/grub-install", "");
    g.write_text("/usr/sbin/update-grub", "");
    g.mkdir_p("/boot/grub");
    g.write_text("/boot/grub/grub.cfg", "linux /vmlinuz root=/dev/mapper/cvmroot ro\n");
  }

  pipeline::BuildContext
  context() {
    pipeline::BuildContext ctx(m, options);
    ctx.initramfs_backend = cvm::manifest::InitramfsGenerator::initramfs_tools;
    ctx.facts.esp_mountpoint = "/boot/efi";
    ctx.facts.efi_binaries = {"/EFI/BOOT/BOOTX64.EFI"};
    ctx.facts.kernels = {{"6.1.0-1-amd64", "/boot/vmlinuz-6.1.0-1-amd64", std::nullopt}};
    return ctx;
  }
};

const Argv k_mount_run = {"/bin/mount", "-n", "-t", "tmpfs", "-o", "mode=0755,size=25%", "tmpfs", "/run"};
const Argv k_mount_var_tmp = {
    "/bin/mount", "-n", "-t", "tmpfs", "-o", "mode=1777,size=75%", "tmpfs", "/var/tmp"};
const Argv k_umount_run = {"/bin/umount", "-n", "/run"};
const Argv k_umount_var_tmp = {"/bin/umount", "-n", "/var/tmp"};
const Argv k_update_initramfs = {"/usr/sbin/update-initramfs", "-u", "-k", "all"};

} // namespace

TEST_F(RebuildFixture, InitramfsRunsOnScratchTmpfsThenGrub) {
  auto ctx = context();
  pipeline::stages::run_guest_boot_tools(ctx, g);
  EXPECT_THAT(g.commands_run,
              ElementsAre(k_mount_run,
                          k_mount_var_tmp,
                          k_update_initramfs,
                          k_umount_var_tmp,
                          k_umount_run,
                          Argv{"/usr/sbin/grub-install",
                               "--target=x86_64-efi",
                               "--efi-directory=/boot/efi",
                               "--no-nvram",
                               "--removable"},
                          Argv{"/usr/sbin/update-grub"}));
}

TEST_F(RebuildFixture, DracutRunsPerKernel) {
  g.mkdir_p("/usr/bin");
  g.write_text("/usr/bin/dracut", "");
  auto ctx = context();
  ctx.initramfs_backend = cvm::manifest::InitramfsGenerator::dracut;
  ctx.facts.kernels.push_back(
      {"6.12.0-1-amd64", "/boot/vmlinuz-6.12.0-1-amd64", "/boot/initrd.img-6.12.0-1-amd64"});
  pipeline::stages::run_guest_boot_tools(ctx, g);
  ASSERT_GE(g.commands_run.size(), 6U);
  EXPECT_EQ(g.commands_run[2],
            (Argv{"/usr/bin/dracut", "--force", "/boot/initrd.img-6.1.0-1-amd64", "6.1.0-1-amd64"}));
  EXPECT_EQ(g.commands_run[3],
            (Argv{"/usr/bin/dracut", "--force", "/boot/initrd.img-6.12.0-1-amd64", "6.12.0-1-amd64"}));
  EXPECT_EQ(g.commands_run[4], k_umount_var_tmp);
  EXPECT_EQ(g.commands_run[5], k_umount_run);
}

TEST_F(RebuildFixture, WithSourceDateEpochEveryBootToolSeesIt) {
  auto ctx = context();
  ctx.source_date_epoch = pipeline::SourceDateEpoch{1735689600, "manifest"};
  pipeline::stages::run_guest_boot_tools(ctx, g);
  const Argv env = {"/usr/bin/env", "SOURCE_DATE_EPOCH=1735689600"};
  auto with_env = [&](const Argv &a) {
    Argv out = env;
    out.insert(out.end(), a.begin(), a.end());
    return out;
  };
  EXPECT_THAT(g.commands_run,
              ElementsAre(k_mount_run,
                          k_mount_var_tmp,
                          with_env(k_update_initramfs),
                          k_umount_var_tmp,
                          k_umount_run,
                          with_env({"/usr/sbin/grub-install",
                                    "--target=x86_64-efi",
                                    "--efi-directory=/boot/efi",
                                    "--no-nvram",
                                    "--removable"}),
                          with_env({"/usr/sbin/update-grub"})));
}

TEST_F(RebuildFixture, ReproducibleDracutGetsItsFlagAndTheEpoch) {
  g.mkdir_p("/usr/bin");
  g.write_text("/usr/bin/dracut", "");
  auto ctx = context();
  ctx.initramfs_backend = cvm::manifest::InitramfsGenerator::dracut;
  ctx.source_date_epoch = pipeline::SourceDateEpoch{42, "environment"};
  pipeline::stages::run_guest_boot_tools(ctx, g);
  ASSERT_GE(g.commands_run.size(), 3U);
  EXPECT_EQ(g.commands_run[2],
            (Argv{"/usr/bin/env",
                  "SOURCE_DATE_EPOCH=42",
                  "/usr/bin/dracut",
                  "--reproducible",
                  "--force",
                  "/boot/initrd.img-6.1.0-1-amd64",
                  "6.1.0-1-amd64"}));
}

TEST_F(RebuildFixture, AFailingGeneratorStillUnmountsInReverseOrder) {
  g.on_command = [](const Argv &argv) -> std::string {
    if (argv.front() == "/usr/sbin/update-initramfs") {
      throw Error(ErrorKind::guest, "update-initramfs: exit status 1");
    }
    return {};
  };
  auto ctx = context();
  EXPECT_THROW(pipeline::stages::run_guest_boot_tools(ctx, g), Error);
  EXPECT_THAT(g.commands_run,
              ElementsAre(k_mount_run, k_mount_var_tmp, k_update_initramfs, k_umount_var_tmp, k_umount_run));
}

TEST_F(RebuildFixture, AFailedSecondMountUndoesTheFirst) {
  g.on_command = [](const Argv &argv) -> std::string {
    if (argv.back() == "/var/tmp" && argv.front() == "/bin/mount") {
      throw Error(ErrorKind::guest, "mount: /var/tmp: permission denied");
    }
    return {};
  };
  auto ctx = context();
  EXPECT_THROW(pipeline::stages::run_guest_boot_tools(ctx, g), Error);
  EXPECT_THAT(g.commands_run, ElementsAre(k_mount_run, k_mount_var_tmp, k_umount_run));
}

TEST_F(RebuildFixture, AGrubCfgWithoutTheMappedRootIsAnError) {
  g.write_text("/boot/grub/grub.cfg", "linux /vmlinuz root=UUID=1234 ro\n");
  auto ctx = context();
  EXPECT_THROW(pipeline::stages::run_guest_boot_tools(ctx, g), Error);
}
