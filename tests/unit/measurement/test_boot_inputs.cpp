// SPDX-License-Identifier: Apache-2.0
// The shared loader of boot artifacts and platform profiles, over an
// in-memory file tree (the library itself does no I/O).
#include "lib/util/error.hpp"
#include "measurement/boot_inputs.hpp"
#include "tests/unit/measurement/test_support.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace {

using namespace cvm::measure;

struct Files {
  std::map<std::string, std::string> tree;

  void
  put(const std::string &path, const std::string &text) {
    tree[path] = text;
  }

  ReadFile
  reader() const {
    return [this](const std::filesystem::path &p) -> std::optional<std::vector<std::byte>> {
      const auto it = tree.find(p.string());
      if (it == tree.end()) {
        return std::nullopt;
      }
      const auto *data = reinterpret_cast<const std::byte *>(it->second.data()); // NOLINT
      return std::vector<std::byte>(data, data + it->second.size());
    };
  }
};

// A `mode` boot whose files are looked for in the directory /a.
BootFiles
in_dir_a(BootMode mode) {
  BootFiles files;
  files.mode = mode;
  files.artifacts_dir = "/a";
  return files;
}

std::size_t
size_of(const std::optional<std::vector<std::byte>> &bytes) {
  return bytes ? bytes->size() : 0;
}

TEST(BootInputs, ArtifactsDirectoryForGrubBootWithEverything) {
  const Files f{{
      {"/a/vmlinuz", "kernel"},
      {"/a/initrd.img", "initrd!"},
      {"/a/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/mapper/r\r\n"},
      {"/a/BOOTX64.EFI", "shim"},
      {"/a/grubx64.efi", "grub."},
      {"/a/fbx64.efi", "fb"},
      {"/a/disk-head.bin", "gpt"},
      {"/a/SbatLevel.txt", "sbat,1,2022052400\n"},
      {"/a/grub-records.json",
       R"([{"kind": "command", "text": "set x=1"}, {"kind": "file", "text": "/g.cfg", "file": "g.cfg"}])"},
      {"/a/g.cfg", "cfg"},
  }};
  const auto a = load_boot_artifacts(in_dir_a(BootMode::grub), f.reader());
  EXPECT_EQ(a.mode, BootMode::grub);
  EXPECT_EQ(a.kernel.size(), 6U);
  EXPECT_EQ(a.kernel_name, "vmlinuz");
  EXPECT_EQ(size_of(a.initrd), 7U);
  EXPECT_EQ(a.initrd_name, "initrd.img");
  EXPECT_EQ(a.cmdline, "BOOT_IMAGE=/vmlinuz root=/dev/mapper/r");
  EXPECT_EQ(size_of(a.shim), 4U) << "BOOTX64.EFI is shim when grubx64.efi is next to it";
  EXPECT_EQ(size_of(a.grub), 5U);
  EXPECT_EQ(size_of(a.fallback), 2U);
  EXPECT_EQ(size_of(a.disk_head), 3U);
  EXPECT_EQ(a.sbat_level, "sbat,1,2022052400\n");
  ASSERT_EQ(a.grub_records.size(), 2U);
  EXPECT_EQ(a.grub_records[0].kind, GrubRecord::Kind::command);
  EXPECT_EQ(a.grub_records[1].kind, GrubRecord::Kind::file);
  EXPECT_EQ(a.grub_records[1].bytes.size(), 3U) << "file records are read relative to the list";
}

TEST(BootInputs, GrubWithoutShimAndGivenFilesOverride) {
  const Files f{{{"/a/vmlinuz", "kernel"},
                 {"/a/cmdline", "c\n"},
                 {"/a/BOOTX64.EFI", "grub"},
                 {"/x/other-kernel", "k2"}}};
  auto files = in_dir_a(BootMode::grub);
  files.kernel = "/x/other-kernel";
  files.cmdline = "given";
  const auto a = load_boot_artifacts(files, f.reader());
  EXPECT_FALSE(a.shim);
  EXPECT_EQ(size_of(a.grub), 4U) << "BOOTX64.EFI is grub itself";
  EXPECT_EQ(a.kernel_name, "other-kernel");
  EXPECT_EQ(a.cmdline, "given");
  EXPECT_FALSE(a.initrd);
}

TEST(BootInputs, DirectBootIgnoresGrubFiles) {
  const Files f{{{"/a/kernel", "kernel"},
                 {"/a/initrd", "i"},
                 {"/a/grubx64.efi", "grub"},
                 {"/a/SbatLevel.txt", "sbat"}}};
  const auto a = load_boot_artifacts(in_dir_a(BootMode::direct), f.reader());
  EXPECT_EQ(a.kernel_name, "kernel") << "the second name of the layout";
  EXPECT_EQ(a.initrd_name, "initrd");
  EXPECT_FALSE(a.grub);
  EXPECT_FALSE(a.sbat_level);
  EXPECT_EQ(a.cmdline, "");
}

TEST(BootInputs, MissingFilesAreErrors) {
  Files f;
  BootFiles files;
  test::expect_error([&] { (void)load_boot_artifacts(files, f.reader()); }, cvm::ErrorKind::usage);
  files.kernel = "/nope";
  test::expect_error([&] { (void)load_boot_artifacts(files, f.reader()); }, cvm::ErrorKind::input, "/nope");
  files = {};
  files.mode = BootMode::uki;
  EXPECT_THROW((void)load_boot_artifacts(files, f.reader()), cvm::Error) << "UKI boot without a UKI";
  f.put("/a/vmlinuz", "k");
  f.put("/a/grub-records.json", R"([{"kind": "menu", "text": "x"}])");
  files = {};
  files.mode = BootMode::grub;
  files.artifacts_dir = "/a";
  EXPECT_THROW((void)load_boot_artifacts(files, f.reader()), cvm::Error) << "unknown grub record kind";
}

TEST(BootInputs, PlatformProfileThatIsNotJsonNamesTheFile) {
  Files f;
  f.put("/p/profile.json", "{ not json");
  test::expect_error([&] { (void)load_platform_profile("/p/profile.json", f.reader()); },
                     cvm::ErrorKind::usage,
                     "/p/profile.json");
  EXPECT_THROW((void)load_platform_profile("/p/absent.json", f.reader()), cvm::Error);
  EXPECT_THROW(
      {
        PlatformProfile p;
        adopt_reference_log_file(p, "/p/ccel.bin", f.reader());
      },
      cvm::Error);
}

} // namespace
