// SPDX-License-Identifier: Apache-2.0
// Stage rebuild-initramfs (the chrooted guest tools) against an in-memory
// guest: which commands run, in which order, and that the scratch tmpfs
// mounts are undone on every way out.
#include "lib/pipeline/stages.hpp"
#include "lib/util/error.hpp"
#include "tests/unit/fakes/fake_guest.hpp"
#include "tests/unit/pipeline/stage_fixture.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace cvm;
using cvm::pipeline::test::error_of;
using cvm::pipeline::test::k_out_boot;
using cvm::pipeline::test::k_out_esp;
using cvm::pipeline::test::StageTest;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

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

// The stage itself, from where copy-root leaves the appliance: the guest's
// tools run in the new root mounted as the guest sees it, then /boot is
// trimmed with its journal loaded and mounted back as the build had it.
TEST_F(StageTest, RebuildInitramfsRunsTheGuestsToolsInTheNewRootAndTrimsBoot) {
  context();
  auto &g = root_copied();
  const auto journal = g.journal;
  g.on_command = [&g](const Argv &argv) -> std::string {
    // What the guest's grub-mkconfig writes (the root is not at "/" unless
    // the stage mounted the new tree there).
    if (argv.front() == "/usr/sbin/grub-mkconfig") {
      g.write_text("/boot/grub/grub.cfg", "linux /vmlinuz-6.1.0-10-amd64 root=/dev/mapper/cvmroot ro\n");
    }
    return {};
  };
  plan::RebuildInitramfs::run(*ctx);

  EXPECT_EQ(ctx->mounts, pipeline::OutputMounts::root);
  ASSERT_EQ(g.commands_run.size(), 8U);
  EXPECT_EQ(g.commands_run[0], k_mount_run);
  EXPECT_EQ(g.commands_run[1], k_mount_var_tmp);
  EXPECT_EQ(g.commands_run[2], k_update_initramfs);
  EXPECT_EQ(g.commands_run[3], k_umount_var_tmp);
  EXPECT_EQ(g.commands_run[4], k_umount_run);
  // debian_guest() has a vendor directory (EFI/debian): grub-install twice.
  EXPECT_EQ(g.commands_run[5].back(), "--removable");
  EXPECT_EQ(g.commands_run[6][0], "/usr/sbin/grub-install");
  EXPECT_EQ(g.commands_run[7], (Argv{"/usr/sbin/grub-mkconfig", "-o", "/boot/grub/grub.cfg"}));
  // The new grub.cfg is in the new /boot partition.
  const auto *cfg = g.devices[k_out_boot].tree.find("/grub/grub.cfg");
  ASSERT_NE(cfg, nullptr);
  EXPECT_THAT(std::string(reinterpret_cast<const char *>(cfg->content.data()), cfg->content.size()),
              HasSubstr("root=/dev/mapper/cvmroot"));

  EXPECT_THAT(journal->calls, Contains("fstrim /boot"));
  EXPECT_EQ(g.mounted_at("/"), "/dev/mapper/cvmroot");
  EXPECT_EQ(g.mounted_at("/boot"), k_out_boot);
  EXPECT_EQ(g.mounted_at("/boot/efi"), k_out_esp);
  EXPECT_THAT(journal->calls,
              Contains("mount -o noinit_itable,noload " + std::string(k_out_boot) + " /boot"));
}

TEST_F(StageTest, RebuildInitramfsUnmountsItsScratchWhenTheGeneratorFails) {
  context("boot: {mode: direct}\n");
  auto &g = root_copied();
  g.on_command = [](const Argv &argv) -> std::string {
    if (argv.front() == "/usr/sbin/update-initramfs") {
      throw Error(ErrorKind::guest, "command: update-initramfs: E: mkinitramfs failure cpio 141");
    }
    return {};
  };
  const auto e = error_of([&] { plan::RebuildInitramfs::run(*ctx); });
  EXPECT_EQ(e.kind(), ErrorKind::guest);
  EXPECT_THAT(e.what(), HasSubstr("mkinitramfs failure"));
  EXPECT_THAT(g.commands_run,
              ElementsAre(k_mount_run, k_mount_var_tmp, k_update_initramfs, k_umount_var_tmp, k_umount_run));
  EXPECT_THAT(g.journal->calls, Not(Contains("fstrim /boot")));
}
