// SPDX-License-Identifier: Apache-2.0
// The rules of lib/baseimage/policy.hpp on their own. How inspect_base()
// applies them to a guest is tested in test_baseimage_inspect.cpp.
#include "lib/baseimage/policy.hpp"
#include "lib/util/error.hpp"
#include "tests/unit/fakes/fake_guest.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <initializer_list>
#include <string>

namespace cvm::baseimage {
namespace {

using guestfs::OsInfo;
using manifest::InitramfsGenerator;
using ::testing::HasSubstr;

TEST(BaseImagePolicy, InitramfsGeneratorDecision) {
  InitramfsEvidence e;
  e.update_initramfs = true;
  EXPECT_EQ(decide_initramfs_generator(e).generator, InitramfsGenerator::initramfs_tools);

  // Debian 13 after installing dracut: initramfs-tools removed, its config left behind.
  e = {};
  e.dracut = true;
  e.initramfs_tools_conf = true;
  const auto d = decide_initramfs_generator(e);
  EXPECT_EQ(d.generator, InitramfsGenerator::dracut);
  EXPECT_THAT(d.reason, HasSubstr("leftover"));

  e = {};
  e.dracut = true;
  e.update_initramfs = true;
  e.dracut_hook = true;
  EXPECT_EQ(decide_initramfs_generator(e).generator, InitramfsGenerator::dracut);
  e.dracut_hook = false;
  e.initramfs_tools_hook = true;
  EXPECT_EQ(decide_initramfs_generator(e).generator, InitramfsGenerator::initramfs_tools);
  e.dracut_hook = true;
  EXPECT_THROW(decide_initramfs_generator(e), Error);

  e = {};
  e.initramfs_tools_conf = true;
  try {
    decide_initramfs_generator(e);
    FAIL() << "expected an error";
  } catch (const Error &err) {
    EXPECT_EQ(err.kind(), ErrorKind::input);
    EXPECT_THAT(err.what(), HasSubstr("unknown initramfs generator"));
  }
}

OsInfo
linux_os(std::string distro) {
  OsInfo os;
  os.root = "/dev/sda2";
  os.type = "linux";
  os.distro = std::move(distro);
  return os;
}

TEST(BaseImagePolicy, OneDebianOrUbuntuOs) {
  const std::vector<OsInfo> debian{linux_os("debian")};
  EXPECT_EQ(&require_one_supported_os(debian, "none"), &debian.front());
  EXPECT_NO_THROW(require_one_supported_os({linux_os("ubuntu")}, "none"));
  EXPECT_THROW(require_one_supported_os({}, "none"), Error);
  EXPECT_THROW(require_one_supported_os({linux_os("debian"), linux_os("debian")}, "none"), Error);
  try {
    require_one_supported_os({linux_os("fedora")}, "none");
    FAIL() << "expected an error";
  } catch (const Error &err) {
    EXPECT_EQ(err.kind(), ErrorKind::input);
    EXPECT_THAT(err.what(), HasSubstr("supported: debian, ubuntu"));
  }
}

TEST(BaseImagePolicy, RootLayout) {
  const std::vector<std::string> partitions{"/dev/sda1", "/dev/sda2"};
  EXPECT_NO_THROW(require_supported_root({"/dev/sda2", "ext4", false}, partitions));
  EXPECT_THROW(require_supported_root({"/dev/sda2", "btrfs", false}, partitions), Error);
  EXPECT_THROW(require_supported_root({"/dev/sda2", "ext4", true}, partitions), Error);
  EXPECT_THROW(require_supported_root({"/dev/sda", "ext4", false}, partitions), Error);
  EXPECT_THROW(refuse_btrfs_subvolume_root("btrfsvol:/dev/sda2/@"), Error);
  EXPECT_NO_THROW(refuse_btrfs_subvolume_root("/dev/sda2"));
  EXPECT_THROW(refuse_encrypted_partition("/dev/sda3", "crypto_LUKS"), Error);
  EXPECT_NO_THROW(refuse_encrypted_partition("/dev/sda2", "ext4"));
  EXPECT_THROW(require_esp(0), Error);
  EXPECT_NO_THROW(require_esp(1));
  EXPECT_THROW(require_kernel({}), Error);
}

} // namespace
} // namespace cvm::baseimage

// ---- What a manifest needs of the image, on a root with only the files a
// test puts there.
namespace cvm::baseimage {
namespace {

using guestfs::test::FakeGuest;
using manifest::BootMode;
using manifest::InitramfsGenerator;
using ::testing::HasSubstr;

struct ImageNeeds : ::testing::Test {
  FakeGuest g;
  void
  SetUp() override {
    g.add_partition("/dev/sda", 1, "ext4", "root");
  }
  // The root with `files`, mounted read-only as inspect-base mounts it.
  FakeGuest &
  root(std::initializer_list<const char *> files) {
    for (const char *f : files) {
      g.tree("/dev/sda1").put_file(f, "x");
    }
    g.mount("/dev/sda1", "/", guestfs::ReadOnly::yes);
    return g;
  }
  static std::string
  error_of(const std::function<void()> &f) {
    try {
      f();
    } catch (const Error &e) {
      EXPECT_EQ(e.kind(), ErrorKind::input);
      return e.what();
    }
    return "(no error)";
  }
};

TEST_F(ImageNeeds, InitramfsToolsNeedsCryptsetupInitramfs) {
  auto &r = root({"/usr/sbin/cryptsetup"});
  EXPECT_THAT(error_of([&] { require_unlock_tools(r, InitramfsGenerator::initramfs_tools, false); }),
              HasSubstr("apt-get install cryptsetup-initramfs"));
}

TEST_F(ImageNeeds, InitramfsToolsWithItsCryptrootHookIsEnoughEvenAttested) {
  auto &r = root({"/usr/share/initramfs-tools/hooks/cryptroot"});
  EXPECT_NO_THROW(require_unlock_tools(r, InitramfsGenerator::initramfs_tools, true));
}

TEST_F(ImageNeeds, DracutNeedsItsCryptModuleAndCryptsetup) {
  auto &r = root({"/usr/lib/dracut/modules.d/90crypt/module-setup.sh"});
  EXPECT_THAT(error_of([&] { require_unlock_tools(r, InitramfsGenerator::dracut, false); }),
              HasSubstr("no 90crypt module or no cryptsetup"));
}

TEST_F(ImageNeeds, DracutNeedsItsNetworkModuleOnlyForAttestation) {
  auto &r = root({"/usr/lib/dracut/modules.d/90crypt/module-setup.sh", "/sbin/cryptsetup"});
  EXPECT_NO_THROW(require_unlock_tools(r, InitramfsGenerator::dracut, false));
  EXPECT_THAT(error_of([&] { require_unlock_tools(r, InitramfsGenerator::dracut, true); }),
              HasSubstr("install dracut-network"));
}

TEST_F(ImageNeeds, GrubModeNeedsGrubEfiToReinstall) {
  auto &r = root({"/usr/sbin/grub-install", "/usr/lib/grub/x86_64-efi/grub.efi"});
  EXPECT_NO_THROW(require_boot_tools(r, BootMode::grub, Bootloader::grub_efi));
  EXPECT_THAT(error_of([&] { require_boot_tools(r, BootMode::grub, Bootloader::unknown); }),
              HasSubstr("no GRUB for x86_64 EFI"));
  EXPECT_NO_THROW(require_boot_tools(r, BootMode::direct, Bootloader::unknown));
}

TEST_F(ImageNeeds, UkiModeNeedsTheSystemdStub) {
  auto &r = root({"/usr/sbin/grub-install"});
  EXPECT_THAT(error_of([&] { require_boot_tools(r, BootMode::uki, Bootloader::grub_efi); }),
              HasSubstr(k_systemd_efi_stub));
  r.umount_all();
  r.tree("/dev/sda1").put_file(k_systemd_efi_stub, "MZ");
  r.mount("/dev/sda1", "/", guestfs::ReadOnly::yes);
  EXPECT_NO_THROW(require_boot_tools(r, BootMode::uki, Bootloader::grub_efi));
}

} // namespace
} // namespace cvm::baseimage
