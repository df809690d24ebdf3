// SPDX-License-Identifier: Apache-2.0
// Stage configure-boot against an in-memory guest.
#include "lib/pipeline/stages.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "tests/unit/fakes/fake_guest.hpp"
#include "tests/unit/pipeline/stage_fixture.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace cvm;
using cvm::pipeline::test::error_of;
using cvm::pipeline::test::k_out_boot;
using cvm::pipeline::test::k_out_esp;
using cvm::pipeline::test::StageTest;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

struct StageFixture : ::testing::Test {
  manifest::Manifest m;
  pipeline::BuildOptions options;
  guestfs::test::FakeGuest g;

  void
  SetUp() override {
    g.add_partition("/dev/sda", 1, "ext4", "root-uuid");
    g.mount("/dev/sda1", "/", guestfs::ReadOnly::no);
    g.mkdir_p("/etc/default");
  }

  pipeline::BuildContext
  context() {
    pipeline::BuildContext ctx(m, options);
    ctx.luks_uuid = "11111111-2222-8333-8444-555555555555";
    ctx.boot_fs_uuid = "boot-uuid";
    ctx.esp_fs_uuid = "ABCD-1234";
    ctx.facts.esp_mountpoint = "/boot/efi";
    return ctx;
  }

  // The context after write_boot_config for a guest with `generator`.
  pipeline::BuildContext
  write_boot_config(manifest::InitramfsGenerator generator) {
    auto ctx = context();
    ctx.initramfs_backend = generator;
    pipeline::stages::write_boot_config(ctx, g);
    return ctx;
  }
};

} // namespace

TEST_F(StageFixture, InitramfsToolsGetsCrypttabFstabAndGrubDefaults) {
  m.boot.cmdline_add = {"console=ttyS0"};
  g.write_text("/etc/fstab",
               "UUID=old / ext4 errors=remount-ro 0 1\nUUID=AAAA-BBBB /boot/efi vfat umask=0077 0 1\n");
  auto ctx = write_boot_config(cvm::manifest::InitramfsGenerator::initramfs_tools);

  const auto fstab = g.read_text("/etc/fstab");
  EXPECT_THAT(fstab, HasSubstr("/dev/mapper/cvmroot / ext4 errors=remount-ro 0 1\n"));
  EXPECT_THAT(fstab, HasSubstr("UUID=boot-uuid /boot ext4"));
  EXPECT_THAT(fstab, HasSubstr("UUID=ABCD-1234 /boot/efi vfat"));
  EXPECT_THAT(fstab, HasSubstr("# replaced by cvmforge: UUID=old / ext4"));
  EXPECT_EQ(g.read_text("/etc/crypttab"),
            "cvmroot UUID=11111111-2222-8333-8444-555555555555 none luks,discard,initramfs\n");
  EXPECT_EQ(g.read_text("/etc/cryptsetup-initramfs/conf-hook").find("CRYPTSETUP=y") != std::string::npos,
            true);
  const auto grub = g.read_text("/etc/default/grub.d/90-cvmforge.cfg");
  EXPECT_THAT(grub, HasSubstr("GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX panic=-1 console=ttyS0\""));
  EXPECT_THAT(grub, HasSubstr("GRUB_DISABLE_LINUX_UUID=true"));
  EXPECT_THAT(grub, HasSubstr("GRUB_DISABLE_RECOVERY=true"));
  EXPECT_FALSE(g.exists("/etc/dracut.conf.d/90-cvmforge.conf"));
  EXPECT_EQ(pipeline::build_report(ctx)["boot"]["kernel_parameters"][0], "root=/dev/mapper/cvmroot");
}

TEST_F(StageFixture, ConfHookKeepsWhatTheBaseSet) {
  g.mkdir_p("/etc/cryptsetup-initramfs");
  g.write_text("/etc/cryptsetup-initramfs/conf-hook", "#CRYPTSETUP=\nKEYFILE_PATTERN=\"/etc/keys/*.key\"\n");
  (void)write_boot_config(cvm::manifest::InitramfsGenerator::initramfs_tools);
  const auto conf = g.read_text("/etc/cryptsetup-initramfs/conf-hook");
  EXPECT_THAT(conf, HasSubstr("#CRYPTSETUP=\nKEYFILE_PATTERN=\"/etc/keys/*.key\"\n"));
  EXPECT_THAT(conf, HasSubstr("\nCRYPTSETUP=y\n"));
}

TEST_F(StageFixture, DracutGetsItsConfigAndFailClosedParameters) {
  (void)write_boot_config(cvm::manifest::InitramfsGenerator::dracut);
  EXPECT_THAT(g.read_text("/etc/dracut.conf.d/90-cvmforge.conf"),
              HasSubstr("add_dracutmodules+=\" crypt \""));
  EXPECT_EQ(g.read_text("/etc/crypttab"),
            "cvmroot UUID=11111111-2222-8333-8444-555555555555 none luks,discard\n");
  const auto grub = g.read_text("/etc/default/grub.d/90-cvmforge.cfg");
  EXPECT_THAT(
      grub,
      HasSubstr(
          "rd.luks.name=11111111-2222-8333-8444-555555555555=cvmroot rd.shell=0 rd.emergency=poweroff"));
  EXPECT_THAT(grub, Not(HasSubstr("panic=")));
  EXPECT_FALSE(g.exists("/etc/cryptsetup-initramfs/conf-hook"));
}

TEST_F(StageFixture, DirectBootWritesNoGrubDefaults) {
  m.boot.mode = manifest::BootMode::direct;
  auto ctx = write_boot_config(cvm::manifest::InitramfsGenerator::initramfs_tools);
  EXPECT_FALSE(g.exists("/etc/default/grub.d/90-cvmforge.cfg"));
  EXPECT_EQ(pipeline::stages::kernel_parameters_string(ctx), "root=/dev/mapper/cvmroot panic=-1");
}

TEST_F(StageFixture, ExistingCrypttabLinesAreKept) {
  g.write_text("/etc/crypttab", "# <target> <source> <key> <options>\nswap /dev/vdb /dev/urandom swap\n");
  (void)write_boot_config(cvm::manifest::InitramfsGenerator::initramfs_tools);
  EXPECT_EQ(g.read_text("/etc/crypttab"),
            "# <target> <source> <key> <options>\nswap /dev/vdb /dev/urandom swap\n"
            "cvmroot UUID=11111111-2222-8333-8444-555555555555 none luks,discard,initramfs\n");
}

TEST(GrubCmdline, FirstLinuxLineWithBootImage) {
  const std::string cfg =
      "menuentry 'Debian' {\n"
      "\tinsmod ext2\n"
      "\tlinux\t/vmlinuz-6.1.0-50-amd64 root=/dev/mapper/cvmroot ro  panic=-1 console=ttyS0\n"
      "\tinitrd\t/initrd.img-6.1.0-50-amd64\n}\n"
      "menuentry 'other' {\n\tlinux /vmlinuz-old root=x\n}\n";
  EXPECT_EQ(pipeline::stages::grub_kernel_cmdline(cfg),
            "BOOT_IMAGE=/vmlinuz-6.1.0-50-amd64 root=/dev/mapper/cvmroot ro  panic=-1 console=ttyS0");
  EXPECT_THROW(pipeline::stages::grub_kernel_cmdline("set timeout=5\n"), cvm::Error);
}

TEST(BootArtifacts, ShimLayoutAndGrubOnlyLayout) {
  cvm::fs::TempDir dir("cvm-artifacts");
  auto put = [&](const char *name, std::string_view text) {
    cvm::fs::write_file_atomic(dir.path() / name, text);
  };
  put("vmlinuz", "kernel");
  put("initrd.img", "initrd");
  put("cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/mapper/cvmroot\n");
  put("BOOTX64.EFI", "shim");
  put("grubx64.efi", "grub");
  put("disk-head.bin", "gpt");
  auto a = pipeline::stages::boot_artifacts(dir.path(), manifest::BootMode::grub);
  EXPECT_EQ(a.cmdline, "BOOT_IMAGE=/vmlinuz root=/dev/mapper/cvmroot");
  ASSERT_TRUE(a.shim && a.grub && a.disk_head);
  EXPECT_EQ(a.shim->size(), 4U);
  EXPECT_EQ(a.grub->size(), 4U);
  std::filesystem::remove(dir.path() / "grubx64.efi");
  a = pipeline::stages::boot_artifacts(dir.path(), manifest::BootMode::grub);
  EXPECT_FALSE(a.shim);
  ASSERT_TRUE(a.grub);
  EXPECT_EQ(a.grub->size(), 4U) << "BOOTX64.EFI is grub itself";
  a = pipeline::stages::boot_artifacts(dir.path(), manifest::BootMode::direct);
  EXPECT_EQ(a.mode, measure::BootMode::direct);
  EXPECT_FALSE(a.grub);
}

// The stage itself, from where copy-root leaves the appliance: it switches
// to the layout the guest boots with before it edits anything.
TEST_F(StageTest, ConfigureBootMountsTheNewRootAsTheGuestSeesItAndEditsIt) {
  context();
  auto &g = root_copied();
  plan::ConfigureBoot::run(*ctx);

  EXPECT_EQ(ctx->mounts, pipeline::OutputMounts::root);
  EXPECT_EQ(g.mounted_at("/"), "/dev/mapper/cvmroot");
  EXPECT_EQ(g.mounted_at("/boot"), k_out_boot);
  EXPECT_EQ(g.mounted_at("/boot/efi"), k_out_esp);
  EXPECT_EQ(g.mounted_at(pipeline::k_src), "");
  EXPECT_EQ(g.mounted_at(pipeline::k_dst), "");
  EXPECT_EQ(g.mounts().size(), 3U);
  // The scratch mountpoints are gone (removing them again fails).
  EXPECT_THROW(g.rmmountpoint(pipeline::k_src), Error);
  EXPECT_THROW(g.rmmountpoint(pipeline::k_dst), Error);

  // The edits went into the encrypted root, not into the base.
  const auto &root = g.devices["/dev/mapper/cvmroot"].tree;
  ASSERT_NE(root.find("/etc/crypttab"), nullptr);
  EXPECT_THAT(g.read_text("/etc/crypttab"),
              HasSubstr("cvmroot UUID=" + ctx->luks_uuid + " none luks,discard,initramfs\n"));
  EXPECT_THAT(g.read_text("/etc/fstab"), HasSubstr("UUID=" + ctx->boot_fs_uuid + " /boot ext4"));
  EXPECT_TRUE(g.is_file("/etc/default/grub.d/90-cvmforge.cfg"));
  EXPECT_EQ(g.devices["/dev/sda2"].tree.find("/etc/crypttab"), nullptr);
  EXPECT_EQ(report()["boot"]["mode"], "grub");
  EXPECT_EQ(report()["boot"]["kernel_parameters"][0], "root=/dev/mapper/cvmroot");
}

TEST_F(StageTest, ConfigureBootStopsWhenTheVolumeIsNotOpen) {
  context();
  auto &g = root_copied();
  ctx->mapper_device = "/dev/mapper/not-open";
  const auto e = error_of([&] { plan::ConfigureBoot::run(*ctx); });
  EXPECT_EQ(e.kind(), ErrorKind::guest);
  EXPECT_THAT(e.what(), HasSubstr("/dev/mapper/not-open"));
  EXPECT_NE(ctx->mounts, pipeline::OutputMounts::root);
  EXPECT_FALSE(report().contains("boot"));
  EXPECT_EQ(g.mounted_at("/"), "");
}
