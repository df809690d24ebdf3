// SPDX-License-Identifier: Apache-2.0
// Stage inspect-base against fakes: the base opened read-only in its own
// appliance, what it contains, and the bases the build refuses.
#include "tests/unit/pipeline/stage_fixture.hpp"

#include <gmock/gmock.h>

#include <memory>

using namespace cvm;
using namespace cvm::pipeline::test;
using ::testing::HasSubstr;

namespace {

struct InspectBase : StageTest {
  std::shared_ptr<FakeGuest::Journal> journal;

  // The Debian 12 base with what a grub build needs (cryptsetup-initramfs,
  // grub-efi-amd64), handed to the next launch; returns it for changes.
  FakeGuest &
  prepare(const std::string &extra = "") {
    context(extra);
    inputs_checked();
    auto g = std::make_unique<FakeGuest>(guestfs::test::debian_guest());
    g->tree("/dev/sda2")
        .put_file("/usr/share/initramfs-tools/hooks/cryptroot", "#!/bin/sh\n", 0755)
        .put_file("/usr/sbin/grub-install", "ELF", 0755)
        .put_dir("/usr/lib/grub/x86_64-efi");
    g->devices["/dev/sda1"].usage.used_bytes = 3 * 4096;
    journal = g->journal;
    auto &ref = *g;
    launcher->appliances.push_back(std::move(g));
    return ref;
  }
};

} // namespace

TEST_F(InspectBase, FindsTheDebianBaseAndMeasuresItsContent) {
  prepare();
  plan::InspectBase::run(*ctx);

  // The base was opened once, read-only, with the manifest's format.
  ASSERT_EQ(launcher->launches.size(), 1U);
  ASSERT_EQ(launcher->launches[0].drives.size(), 1U);
  const auto &drive = launcher->launches[0].drives[0];
  EXPECT_EQ(drive.path, m->base.path);
  EXPECT_EQ(drive.options.format, "qcow2");
  EXPECT_EQ(drive.options.read_only, guestfs::ReadOnly::yes);
  EXPECT_TRUE(journal->shut_down);

  const auto &f = ctx->facts;
  EXPECT_EQ(f.distro, "debian");
  EXPECT_EQ(f.major_version, 12);
  EXPECT_EQ(f.root_device, "/dev/sda2");
  EXPECT_EQ(f.esp_device, "/dev/sda1");
  ASSERT_EQ(f.kernels.size(), 2U);
  EXPECT_EQ(f.kernels.back().version, "6.1.0-10-amd64");
  EXPECT_EQ(ctx->initramfs_backend, manifest::InitramfsGenerator::initramfs_tools);

  // /boot holds vmlinuz-6.1.0-9 "k", vmlinuz-6.1.0-10 "k", its initrd "i"
  // and grub.cfg "menuentry": 12 bytes, counted for /boot, not for the root.
  EXPECT_EQ(ctx->content.boot_used, 12U);
  EXPECT_EQ(f.root_used_bytes, 60U * 4096U); // debian_guest()'s statvfs
  EXPECT_EQ(ctx->content.root_used, 60U * 4096U - 12U);
  EXPECT_EQ(ctx->content.esp_used, 3U * 4096U);

  const auto base = report()["base"];
  EXPECT_EQ(base["os"]["distro"], "debian");
  EXPECT_EQ(base["os"]["product_name"], "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(base["root"]["device"], "/dev/sda2");
  EXPECT_EQ(base["root"]["uuid"], guestfs::test::k_root_uuid);
  EXPECT_EQ(base["separate_boot"], false);
  EXPECT_EQ(base["content_bytes"]["boot"], 12U);
  EXPECT_EQ(base["kernels"], nlohmann::ordered_json({"6.1.0-9-amd64", "6.1.0-10-amd64"}));
  EXPECT_EQ(base["initramfs"]["generator"], "initramfs-tools");
  EXPECT_EQ(base["bootloader"], "grub-efi");
}

TEST_F(InspectBase, ARawBaseIsOpenedAsRaw) {
  prepare("boot: {mode: direct}\n");
  // The manifest's format, not a probed one.
  m->base.format = manifest::ImageFormat::raw;
  plan::InspectBase::run(*ctx);
  ASSERT_EQ(launcher->launches.size(), 1U);
  EXPECT_EQ(launcher->launches[0].drives.at(0).options.format, "raw");
}

TEST_F(InspectBase, ABaseThatDoesNotOpenIsAnInputError) {
  prepare();
  launcher->fail_launch = Error(ErrorKind::guest, "qemu-img: Image is not in qcow2 format");
  const auto e = error_of([&] { plan::InspectBase::run(*ctx); });
  EXPECT_EQ(e.kind(), ErrorKind::input);
  EXPECT_THAT(e.what(), HasSubstr("cannot open " + m->base.path.string() + " as a qcow2 disk image"));
  EXPECT_THAT(e.what(), HasSubstr("Image is not in qcow2 format"));
}

TEST_F(InspectBase, ALaunchTimeoutPassesThroughUnchanged) {
  prepare();
  launcher->fail_launch = Error(ErrorKind::guest, "the appliance did not start within 600 s");
  launcher->timed_out = true;
  const auto e = error_of([&] { plan::InspectBase::run(*ctx); });
  EXPECT_EQ(e.kind(), ErrorKind::guest);
  EXPECT_STREQ(e.what(), "the appliance did not start within 600 s");
}

TEST_F(InspectBase, ABaseWithoutCryptsetupInitramfsIsRefused) {
  auto &g = prepare();
  g.tree("/dev/sda2").erase_tree("/usr/share/initramfs-tools/hooks/cryptroot");
  const auto e = error_of([&] { plan::InspectBase::run(*ctx); });
  EXPECT_EQ(e.kind(), ErrorKind::input);
  EXPECT_THAT(e.what(), HasSubstr("the base image has no cryptsetup-initramfs"));
  EXPECT_THAT(e.what(), HasSubstr("apt-get install cryptsetup-initramfs"));
}

TEST_F(InspectBase, UkiBootWithoutTheSystemdStubIsRefused) {
  prepare("boot: {mode: uki}\n");
  const auto e = error_of([&] { plan::InspectBase::run(*ctx); });
  EXPECT_EQ(e.kind(), ErrorKind::input);
  EXPECT_THAT(e.what(), HasSubstr("boot.mode is uki, but the base image has no systemd EFI stub"));
  EXPECT_THAT(e.what(), HasSubstr(pipeline::k_systemd_efi_stub));
}

TEST_F(InspectBase, UkiBootWithTheSystemdStubIsAccepted) {
  auto &g = prepare("boot: {mode: uki}\n");
  g.tree("/dev/sda2").put_file(pipeline::k_systemd_efi_stub, "MZ");
  plan::InspectBase::run(*ctx);
  EXPECT_TRUE(journal->shut_down);
}
