// SPDX-License-Identifier: Apache-2.0
// The rules of lib/baseimage/policy.hpp on their own. How inspect_base()
// applies them to a guest is tested in test_baseimage_inspect.cpp.
#include "lib/baseimage/policy.hpp"
#include "lib/util/error.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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
