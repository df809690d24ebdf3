// SPDX-License-Identifier: Apache-2.0
#include "lib/baseimage/inspect.hpp"
#include "lib/util/error.hpp"
#include "tests/unit/fakes/debian_guest.hpp"
#include "tests/unit/fakes/fake_guest.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cvm::baseimage {
namespace {

using guestfs::OsInfo;
using guestfs::test::FakeGuest;
using manifest::InitramfsGenerator;
using ::testing::HasSubstr;

using guestfs::test::debian_guest;
using guestfs::test::k_root_uuid;

TEST(BaseImageInspect, KernelVersionFromFilename) {
  EXPECT_EQ(kernel_version_from_filename("vmlinuz-6.1.0-1-amd64"), "6.1.0-1-amd64");
  EXPECT_EQ(kernel_version_from_filename("vmlinuz-6.8.0-31-generic"), "6.8.0-31-generic");
  EXPECT_EQ(kernel_version_from_filename("vmlinuz"), std::nullopt);
  EXPECT_EQ(kernel_version_from_filename("vmlinuz.old"), std::nullopt);
  EXPECT_EQ(kernel_version_from_filename("vmlinuz-"), std::nullopt);
  EXPECT_EQ(kernel_version_from_filename("vmlinuz-6.1.0-1-amd64.old"), std::nullopt);
  EXPECT_EQ(kernel_version_from_filename("vmlinuz-rescue"), std::nullopt);
  EXPECT_EQ(kernel_version_from_filename("initrd.img-6.1.0-1-amd64"), std::nullopt);
  EXPECT_EQ(kernel_version_from_filename("vmlinuz-6.1/x"), std::nullopt);
}

TEST(BaseImageInspect, CompareVersionsIsNumericPerRun) {
  EXPECT_LT(compare_versions("6.1.0-9-amd64", "6.1.0-10-amd64"), 0);
  EXPECT_GT(compare_versions("6.10.0-1", "6.9.0-1"), 0);
  EXPECT_EQ(compare_versions("6.1.0-1-amd64", "6.1.0-1-amd64"), 0);
  EXPECT_LT(compare_versions("6.1", "6.1.0"), 0);
  EXPECT_EQ(compare_versions("6.01", "6.1"), 0);
}

TEST(BaseImageInspect, InitrdCandidatesPreferDebianNaming) {
  EXPECT_EQ(initrd_candidates("6.1.0-1-amd64"),
            (std::vector<std::string>{
                "initrd.img-6.1.0-1-amd64", "initramfs-6.1.0-1-amd64.img", "initrd-6.1.0-1-amd64"}));
}

TEST(BaseImageInspect, DebianGuestFacts) {
  FakeGuest g = debian_guest();
  const BaseImageFacts f = inspect_base(g);
  EXPECT_EQ(f.distro, "debian");
  EXPECT_EQ(f.major_version, 12);
  EXPECT_EQ(f.root_device, "/dev/sda2");
  EXPECT_EQ(f.root_fs_type, "ext4");
  EXPECT_EQ(f.root_uuid, k_root_uuid);
  EXPECT_EQ(f.disk_device, "/dev/sda");
  EXPECT_EQ(f.root_partnum, 2);
  EXPECT_EQ(f.partition_table, "gpt");
  EXPECT_EQ(f.esp_device, "/dev/sda1");
  EXPECT_EQ(f.esp_uuid, "ABCD-1234");
  EXPECT_EQ(f.esp_mountpoint, "/boot/efi");
  EXPECT_EQ(f.boot_device, std::nullopt);
  EXPECT_EQ(f.root_used_bytes, 60U * 4096U);
  ASSERT_EQ(f.kernels.size(), 2U);
  EXPECT_EQ(f.kernels[0].version, "6.1.0-9-amd64");
  EXPECT_EQ(f.kernels[0].initrd_path, std::nullopt);
  EXPECT_EQ(f.kernels[1].version, "6.1.0-10-amd64");
  EXPECT_EQ(f.kernels[1].kernel_path, "/boot/vmlinuz-6.1.0-10-amd64");
  EXPECT_EQ(f.kernels[1].initrd_path, "/boot/initrd.img-6.1.0-10-amd64");
  EXPECT_EQ(f.initramfs_generator, InitramfsGenerator::initramfs_tools);
  EXPECT_EQ(f.bootloader, Bootloader::grub_efi);
  EXPECT_EQ(f.grub_cfg, "/boot/grub/grub.cfg");
  EXPECT_EQ(f.efi_binaries,
            (std::vector<std::string>{
                "/EFI/BOOT/BOOTX64.EFI", "/EFI/debian/grubx64.efi", "/EFI/debian/shimx64.efi"}));
  EXPECT_TRUE(g.mounts().empty()) << "inspect_base must unmount what it mounted";
  for (const auto &[mountable, mountpoint] : g.mount_log) {
    (void)mountpoint;
    EXPECT_FALSE(mountable.empty());
  }
}

TEST(BaseImageInspect, SeparateBootIsMountedAndReported) {
  FakeGuest g = debian_guest();
  auto &boot = g.add_partition("/dev/sda", 3, "ext4", "b00t");
  for (const char *name : {"/boot/vmlinuz-6.1.0-9-amd64",
                           "/boot/vmlinuz-6.1.0-10-amd64",
                           "/boot/initrd.img-6.1.0-10-amd64",
                           "/boot/grub/grub.cfg"}) {
    g.tree("/dev/sda2").erase_tree(name);
  }
  boot.tree.put_file("/vmlinuz-6.2.0-1-amd64", "k").put_file("/grub/grub.cfg", "x");
  g.oses[0].mountpoints.push_back({"/boot", "/dev/sda3"});
  const BaseImageFacts f = inspect_base(g);
  EXPECT_EQ(f.boot_device, "/dev/sda3");
  EXPECT_EQ(f.boot_fs_type, "ext4");
  ASSERT_EQ(f.kernels.size(), 1U);
  EXPECT_EQ(f.kernels[0].kernel_path, "/boot/vmlinuz-6.2.0-1-amd64");
  EXPECT_EQ(f.grub_cfg, "/boot/grub/grub.cfg");
}

// Every refusal is ErrorKind::input with a message naming the problem.
void
expect_input_error(FakeGuest &g, const std::string &needle) {
  try {
    inspect_base(g);
    FAIL() << "expected cvm::Error(input) containing: " << needle;
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::input) << e.what();
    EXPECT_THAT(e.what(), HasSubstr(needle));
  }
}

TEST(BaseImageInspect, RefusesLuks) {
  FakeGuest g = debian_guest();
  g.add_partition("/dev/sda", 3, "crypto_LUKS", "");
  expect_input_error(g, "already contains a LUKS-encrypted volume (/dev/sda3)");
}

TEST(BaseImageInspect, RefusesNoOsAndSeveralOses) {
  FakeGuest none = debian_guest();
  none.oses.clear();
  expect_input_error(none, "no operating system found");

  FakeGuest two = debian_guest();
  two.add_partition("/dev/sda", 3, "ext4", "x");
  OsInfo second = two.oses[0];
  second.root = "/dev/sda3";
  two.oses.push_back(second);
  expect_input_error(two, "2 operating systems (/dev/sda2 (debian), /dev/sda3 (debian))");
}

TEST(BaseImageInspect, RefusesUnsupportedDistro) {
  FakeGuest g = debian_guest();
  g.oses[0].distro = "fedora";
  expect_input_error(g, "unsupported distribution in the base image: linux fedora");
}

TEST(BaseImageInspect, AcceptsUbuntu) {
  FakeGuest g = debian_guest();
  g.oses[0].distro = "ubuntu";
  EXPECT_EQ(inspect_base(g).distro, "ubuntu");
}

TEST(BaseImageInspect, RefusesLvmAndBtrfsRoots) {
  FakeGuest lvm = debian_guest();
  lvm.devices["/dev/sda2"].lv = true;
  expect_input_error(lvm, "LVM");

  FakeGuest btrfs = debian_guest();
  btrfs.devices["/dev/sda2"].type = "btrfs";
  expect_input_error(btrfs, "btrfs root filesystem (/dev/sda2) is not supported yet");

  FakeGuest subvol = debian_guest();
  subvol.oses[0].root = "btrfsvol:/dev/sda2/@";
  expect_input_error(subvol, "btrfs");
}

TEST(BaseImageInspect, RefusesMissingEsp) {
  FakeGuest g = debian_guest();
  g.devices["/dev/sda1"].gpt_type = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
  expect_input_error(g, "no EFI system partition");

  FakeGuest mbr = debian_guest();
  mbr.part_types["/dev/sda"] = "msdos";
  expect_input_error(mbr, "no EFI system partition");
}

TEST(BaseImageInspect, RefusesMissingKernel) {
  FakeGuest g = debian_guest();
  g.tree("/dev/sda2").erase_tree("/boot/vmlinuz-6.1.0-9-amd64");
  g.tree("/dev/sda2").erase_tree("/boot/vmlinuz-6.1.0-10-amd64");
  expect_input_error(g, "no kernel");
}

TEST(BaseImageInspect, DracutOnlyGuest) {
  FakeGuest g = debian_guest();
  g.tree("/dev/sda2").erase_tree("/usr/sbin/update-initramfs");
  g.tree("/dev/sda2").put_file("/usr/bin/dracut", "#!/bin/bash\n", 0755);
  const BaseImageFacts f = inspect_base(g);
  EXPECT_EQ(f.initramfs_generator, InitramfsGenerator::dracut);
  EXPECT_THAT(f.initramfs_reason, HasSubstr("leftover"));
}

TEST(BaseImageInspect, RefusesUnknownInitramfsGenerator) {
  FakeGuest g = debian_guest();
  g.tree("/dev/sda2").erase_tree("/usr/sbin/update-initramfs");
  expect_input_error(g, "unknown initramfs generator");
}

} // namespace
} // namespace cvm::baseimage

TEST(GptTypeName, NamesTheTypesOfACvmforgeImageInAnyCase) {
  EXPECT_EQ(cvm::baseimage::gpt_type_name("C12A7328-F81F-11D2-BA4B-00A0C93EC93B"),
            "EFI system partition (ESP)");
  EXPECT_EQ(cvm::baseimage::gpt_type_name("0fc63daf-8483-4772-8e79-3d69d8477de4"), "Linux filesystem");
  EXPECT_EQ(cvm::baseimage::gpt_type_name("CA7D7CCB-63ED-4C53-861C-1742536059CC"), "LUKS");
  EXPECT_EQ(cvm::baseimage::gpt_type_name("00000000-1111-2222-3333-444444444444"),
            "00000000-1111-2222-3333-444444444444");
}
