// SPDX-License-Identifier: Apache-2.0
// The fake itself must behave like libguestfs where stages rely on it.
#include "lib/util/error.hpp"
#include "tests/unit/fakes/fake_guest.hpp"

#include <gtest/gtest.h>

namespace cvm::guestfs {
namespace {

using test::FakeGuest;

TEST(GuestfsFakeGuest, FilesNeedAMountedRoot) {
  FakeGuest g;
  g.add_partition("/dev/sda", 1, "ext4", "u");
  EXPECT_THROW(g.exists("/etc"), Error);
  g.mount("/dev/sda1", "/", ReadOnly::no);
  EXPECT_TRUE(g.exists("/"));
  EXPECT_FALSE(g.exists("/etc"));
  g.mkdir_p("/etc/default");
  g.write_text("/etc/default/grub", "GRUB_CMDLINE_LINUX=\"\"\n");
  EXPECT_EQ(g.read_text("/etc/default/grub"), "GRUB_CMDLINE_LINUX=\"\"\n");
  EXPECT_EQ(g.ls("/etc"), std::vector<std::string>{"default"});
  EXPECT_TRUE(g.is_dir("/etc/default"));
  EXPECT_TRUE(g.is_file("/etc/default/grub"));
  EXPECT_THROW(g.write_text("/nope/x", "x"), Error);
  g.ln_s("grub", "/etc/default/link");
  EXPECT_TRUE(g.is_symlink("/etc/default/link"));
  EXPECT_EQ(g.readlink("/etc/default/link"), "grub");
  g.rm_rf("/etc");
  EXPECT_FALSE(g.exists("/etc/default/grub"));
}

TEST(GuestfsFakeGuest, ReadOnlyMountsRefuseWrites) {
  FakeGuest g;
  g.add_partition("/dev/sda", 1, "ext4", "u");
  g.mount("/dev/sda1", "/", ReadOnly::yes);
  EXPECT_THROW(g.write_text("/x", "x"), Error);
  g.umount_all();
  EXPECT_TRUE(g.mounts().empty());
}

TEST(GuestfsFakeGuest, NestedMountsResolveToTheirDevice) {
  FakeGuest g;
  g.add_partition("/dev/sda", 1, "vfat", "E");
  g.add_partition("/dev/sda", 2, "ext4", "R");
  g.tree("/dev/sda2").put_dir("/boot/efi");
  g.tree("/dev/sda1").put_file("/EFI/BOOT/BOOTX64.EFI", "MZ");
  g.mount("/dev/sda2", "/", ReadOnly::no);
  g.mount("/dev/sda1", "/boot/efi", ReadOnly::no);
  EXPECT_TRUE(g.is_file("/boot/efi/EFI/BOOT/BOOTX64.EFI"));
  g.write_text("/boot/efi/EFI/x", "y");
  EXPECT_NE(g.tree("/dev/sda1").find("/EFI/x"), nullptr);
  EXPECT_EQ(g.tree("/dev/sda2").find("/boot/efi/EFI/x"), nullptr);
}

TEST(GuestfsFakeGuest, CommandsAreRecordedAndScripted) {
  FakeGuest g;
  g.add_partition("/dev/sda", 1, "ext4", "u");
  g.mount("/dev/sda1", "/", ReadOnly::no);
  g.on_command = [](const std::vector<std::string> &argv) { return argv.back() + "\n"; };
  EXPECT_EQ(g.command({"/usr/sbin/update-initramfs", "-u", "-k", "6.1.0-1-amd64"}), "6.1.0-1-amd64\n");
  ASSERT_EQ(g.commands_run.size(), 1U);
  EXPECT_EQ(g.commands_run[0][0], "/usr/sbin/update-initramfs");
}

} // namespace
} // namespace cvm::guestfs
