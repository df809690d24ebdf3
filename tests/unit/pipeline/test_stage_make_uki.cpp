// SPDX-License-Identifier: Apache-2.0
// Stage make-uki against fakes: the guest's systemd stub, newest kernel and
// its new initramfs assembled into the ESP's removable-media loader.
#include "measurement/uki.hpp"
#include "tests/unit/measurement/pe_stub.hpp"
#include "tests/unit/pipeline/stage_fixture.hpp"

#include <gmock/gmock.h>

#include <string>
#include <vector>

using namespace cvm;
using namespace cvm::pipeline::test;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

constexpr const char *k_bootx64 = "/EFI/BOOT/BOOTX64.EFI";

std::vector<std::byte>
bytes(std::string_view s) {
  return measure::test::bytes_of(s);
}

struct MakeUki : StageTest {
  std::vector<std::byte> stub = measure::test::make_stub();

  // The new root as rebuild-initramfs leaves it for boot.mode uki: mounted
  // as the guest sees it, the guest's stub installed, a new initramfs for the
  // newest kernel, and shim's second stage and MOK manager still on the ESP.
  FakeGuest &
  prepare() {
    context("boot: {mode: uki}\n");
    auto &g = root_copied();
    pipeline::stages::mount_output_as_root(*ctx);
    ctx->kernel_parameters = {"root=/dev/mapper/cvmroot", "panic=-1", "console=ttyS0"};
    g.mkdir_p("/usr/lib/systemd/boot/efi");
    g.write(pipeline::k_systemd_efi_stub, stub);
    g.write_text("/boot/initrd.img-6.1.0-10-amd64", "new initrd");
    g.write_text("/boot/efi/EFI/BOOT/grubx64.efi", "MZ grub");
    g.write_text("/boot/efi/EFI/BOOT/mmx64.efi", "MZ mok");
    return g;
  }

  static std::vector<std::byte>
  file_in(const FakeGuest::Device &d, const std::string &path) {
    const auto *n = d.tree.find(path);
    return n == nullptr ? std::vector<std::byte>{} : n->content;
  }
};

} // namespace

TEST_F(MakeUki, PutsTheAssembledUkiAtTheRemovableMediaPath) {
  auto &g = prepare();
  plan::MakeUki::run(*ctx);

  ASSERT_TRUE(ctx->uki);
  EXPECT_EQ(ctx->uki->cmdline, "root=/dev/mapper/cvmroot ro panic=-1 console=ttyS0");
  // What the stage should have assembled from the guest's files.
  measure::UkiSections s;
  s.osrel = "ID=debian\n";
  s.cmdline = ctx->uki->cmdline;
  s.uname = "6.1.0-10-amd64";
  s.kernel = bytes("k");
  s.initrd = bytes("new initrd");
  const auto expected = measure::assemble_uki(stub, s);

  const auto &esp = g.devices[k_out_esp];
  EXPECT_EQ(file_in(esp, k_bootx64), expected);
  EXPECT_EQ(ctx->uki->size, expected.size());
  EXPECT_EQ(esp.tree.find("/EFI/BOOT/grubx64.efi"), nullptr);
  EXPECT_EQ(esp.tree.find("/EFI/BOOT/mmx64.efi"), nullptr);
  EXPECT_NE(esp.tree.find("/EFI/debian/shimx64.efi"), nullptr); // not on the removable path: kept
  EXPECT_THAT(g.journal->calls, Contains("fstrim /boot/efi"));

  const auto uki = report()["boot"]["uki"];
  EXPECT_EQ(uki["path"], std::string("/boot/efi") + k_bootx64);
  EXPECT_EQ(uki["size"], expected.size());
  EXPECT_EQ(uki["kernel_version"], "6.1.0-10-amd64");
  EXPECT_EQ(uki["stub"], "systemd-stub 252.39-1~deb12u2");
  EXPECT_EQ(uki["cmdline"], ctx->uki->cmdline);
  // The temporaries are gone, the UKI stays for extract-boot-artifacts.
  EXPECT_FALSE(std::filesystem::exists(ctx->artifacts_dir / "uki-linux"));
  EXPECT_EQ(fs::read_file(ctx->artifacts_dir / "uki.efi"), expected);
}

TEST_F(MakeUki, NoInitramfsForTheNewestKernelIsAnError) {
  auto &g = prepare();
  g.rm("/boot/initrd.img-6.1.0-10-amd64");
  const auto e = error_of([&] { plan::MakeUki::run(*ctx); });
  EXPECT_EQ(e.kind(), ErrorKind::guest);
  EXPECT_THAT(e.what(), HasSubstr("the initramfs for kernel 6.1.0-10-amd64 was not generated"));
  EXPECT_EQ(file_in(g.devices[k_out_esp], k_bootx64), bytes("MZ")); // the base's loader, untouched
  EXPECT_FALSE(ctx->uki);
}

TEST_F(MakeUki, AStubThatIsNotAPeImageIsNamedInTheError) {
  auto &g = prepare();
  g.write_text(pipeline::k_systemd_efi_stub, "not a PE image");
  const auto e = error_of([&] { plan::MakeUki::run(*ctx); });
  EXPECT_THAT(e.what(), HasSubstr(std::string("the guest's ") + pipeline::k_systemd_efi_stub + ": "));
  EXPECT_EQ(file_in(g.devices[k_out_esp], k_bootx64), bytes("MZ"));
  EXPECT_THAT(g.journal->calls, Not(Contains("fstrim /boot/efi")));
}
