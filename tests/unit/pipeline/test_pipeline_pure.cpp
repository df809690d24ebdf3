// SPDX-License-Identifier: Apache-2.0
// Pure parts of the build pipeline: identifiers, layout arithmetic, boot
// configuration rewriting.
#include "lib/manifest/manifest.hpp"
#include "lib/pipeline/bootcfg.hpp"
#include "lib/pipeline/ids.hpp"
#include "lib/pipeline/layout.hpp"
#include "lib/util/error.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

using namespace cvm::pipeline;
using ::testing::HasSubstr;

TEST(PipelineIds, SeededUuidsAreStableAndDistinctPerPurpose) {
  const auto a = uuid_from_seed("web-01", "luks");
  EXPECT_EQ(a, uuid_from_seed("web-01", "luks"));
  EXPECT_NE(a, uuid_from_seed("web-01", "boot-fs"));
  EXPECT_NE(a, uuid_from_seed("web-02", "luks"));
  EXPECT_TRUE(is_canonical_uuid(a)) << a;
  EXPECT_EQ(a[14], '8') << "RFC 9562 version 8";
  EXPECT_TRUE(a[19] == '8' || a[19] == '9' || a[19] == 'a' || a[19] == 'b') << "RFC 9562 variant";
  // Purpose and seed are separated, so ("ab","c") and ("a","bc") differ.
  EXPECT_NE(uuid_from_seed("c", "ab"), uuid_from_seed("bc", "a"));
}

TEST(PipelineIds, RandomUuidsAreVersion4AndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const auto u = random_uuid();
    EXPECT_TRUE(is_canonical_uuid(u));
    EXPECT_EQ(u[14], '4');
    seen.insert(u);
  }
  EXPECT_EQ(seen.size(), 100U);
  EXPECT_EQ(make_uuid("s", "luks"), uuid_from_seed("s", "luks"));
  EXPECT_NE(make_uuid("", "luks"), make_uuid("", "luks"));
}

TEST(PipelineIds, RecoveryPassphraseShape) {
  const auto p = generate_recovery_passphrase();
  const std::string s(p.chars(), p.size());
  ASSERT_EQ(s.size(), 47U);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i % 6 == 5) {
      EXPECT_EQ(s[i], '-');
    } else {
      EXPECT_NE(std::string_view("abcdefghjkmnpqrstvwxyz23456789AB").find(s[i]), std::string_view::npos)
          << s[i];
    }
  }
  const auto q = generate_recovery_passphrase();
  EXPECT_FALSE(p.equals(q.span()));
}

TEST(PipelineIds, BuildPassphraseIsPrintableWithoutNul) {
  const auto p = generate_build_passphrase();
  ASSERT_EQ(p.size(), 64U);
  for (std::size_t i = 0; i < p.size(); ++i) {
    const char c = p.chars()[i];
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_');
  }
}

namespace {
cvm::manifest::Manifest
manifest_with(cvm::manifest::SizePolicy policy, std::uint64_t size = 0) {
  cvm::manifest::Manifest m;
  m.manifest_path = "/m.yaml";
  m.output.size_policy = policy;
  m.output.size_bytes = size;
  return m;
}
} // namespace

TEST(PipelineLayout, FitPolicyAddsHeadroomAndAligns) {
  const auto m = manifest_with(cvm::manifest::SizePolicy::fit);
  const ContentSizes c{1000 * k_mib, 80 * k_mib, 5 * k_mib};
  const auto l = compute_layout(m, c, 16 * k_mib);
  EXPECT_EQ(l.esp.start, k_mib);
  EXPECT_EQ(l.esp.size, 256 * k_mib);
  EXPECT_EQ(l.boot.start, l.esp.start + l.esp.size);
  EXPECT_EQ(l.root.start, l.boot.start + l.boot.size);
  EXPECT_EQ(l.root.size, l.root_fs_size + 16 * k_mib);
  EXPECT_EQ(l.disk_size, l.root.start + l.root.size + k_mib);
  // 20% headroom of 1000 MiB (> 256 MiB minimum? no: 200 < 256, so 256).
  EXPECT_GE(l.root_fs_size, (1000 + 256) * k_mib);
  EXPECT_EQ(l.root_fs_size % (4 * k_mib), 0U);
  EXPECT_EQ(l.root.type_guid, k_gpt_type_luks);
  EXPECT_EQ(l.esp.end_sector_inclusive(), (257 * k_mib) / 512 - 1);
}

TEST(PipelineLayout, FixedPolicyGivesRootTheRest) {
  const auto m = manifest_with(cvm::manifest::SizePolicy::fixed, 8ULL << 30U);
  const auto l = compute_layout(m, {1000 * k_mib, 80 * k_mib, 5 * k_mib}, 16 * k_mib);
  EXPECT_EQ(l.disk_size, 8ULL << 30U);
  EXPECT_EQ(l.root.start + l.root.size + k_mib, l.disk_size);
}

TEST(PipelineLayout, ContentThatDoesNotFitIsAnInputError) {
  const auto small = manifest_with(cvm::manifest::SizePolicy::fixed, 1ULL << 30U);
  try {
    compute_layout(small, {2000 * k_mib, 80 * k_mib, 5 * k_mib}, 16 * k_mib);
    FAIL() << "expected an error";
  } catch (const cvm::Error &e) {
    EXPECT_EQ(e.kind(), cvm::ErrorKind::input);
    EXPECT_THAT(e.what(), HasSubstr("output.size.size 1G leaves"));
  }
  auto m = manifest_with(cvm::manifest::SizePolicy::fit);
  EXPECT_THROW(compute_layout(m, {100 * k_mib, 400 * k_mib, 5 * k_mib}, 16 * k_mib), cvm::Error);
  EXPECT_THROW(compute_layout(m, {100 * k_mib, 40 * k_mib, 300 * k_mib}, 16 * k_mib), cvm::Error);
}

TEST(PipelineBootcfg, MountUnitNamesAreSystemdEscapedPaths) {
  // As `systemd-escape --path --suffix=mount` prints them.
  EXPECT_EQ(bootcfg::mount_unit_name("/srv/data"), "srv-data.mount");
  EXPECT_EQ(bootcfg::mount_unit_name("/srv/my-data"), "srv-my\\x2ddata.mount");
  EXPECT_EQ(bootcfg::mount_unit_name("/var/lib/.hidden"), "var-lib-.hidden.mount");
  EXPECT_EQ(bootcfg::mount_unit_name("/.dot"), "\\x2edot.mount");
  EXPECT_EQ(bootcfg::mount_unit_name("/a b/c:d_e"), "a\\x20b-c:d_e.mount");
  EXPECT_EQ(bootcfg::mount_unit_name("/"), "-.mount");
}

TEST(PipelineBootcfg, FstabRewrite) {
  const std::string old = "# /etc/fstab: static file system information.\n"
                          "UUID=1111 / ext4 errors=remount-ro 0 1\n"
                          "UUID=AAAA-BBBB /boot/efi vfat umask=0077 0 1\n"
                          "UUID=2222 none swap sw 0 0\n"
                          "tmpfs /tmp tmpfs defaults 0 0\n"
                          "/swapfile none swap sw 0 0\n";
  EXPECT_EQ(bootcfg::esp_mountpoint(old), "/boot/efi");
  const auto out = bootcfg::rewrite_fstab(old, {"cvmroot", "ext4", "3333", "CCCC-DDDD"});
  EXPECT_THAT(out, HasSubstr("# replaced by cvmforge: UUID=1111 / ext4"));
  EXPECT_THAT(out,
              HasSubstr("# disabled by cvmforge (the device is not part of the converted image): UUID=2222"));
  EXPECT_THAT(out, HasSubstr("\ntmpfs /tmp tmpfs defaults 0 0\n"));
  EXPECT_THAT(out, HasSubstr("\n/swapfile none swap sw 0 0\n"));
  EXPECT_THAT(out, HasSubstr("/dev/mapper/cvmroot / ext4 errors=remount-ro 0 1\n"));
  EXPECT_THAT(out, HasSubstr("UUID=3333 /boot ext4 defaults,nodev,nosuid 0 2\n"));
  EXPECT_THAT(out, HasSubstr("UUID=CCCC-DDDD /boot/efi vfat umask=0077 0 1\n"));
  // Data volumes: their lines after the image's, the base's entry for a
  // volume's mount point replaced; an optional one does not hold up the boot.
  bootcfg::FstabInput with_volumes{"cvmroot", "ext4", "3333", "CCCC-DDDD"};
  with_volumes.volumes = {{"cvmvol-data", "/srv/data", "ext4", {"noatime"}, true},
                          {"cvmvol-cache", "/tmp", "xfs", {}, false}};
  const auto vout = bootcfg::rewrite_fstab(old, with_volumes);
  EXPECT_THAT(vout, HasSubstr("# replaced by cvmforge: tmpfs /tmp tmpfs defaults 0 0\n"));
  EXPECT_THAT(vout, HasSubstr("\n/dev/mapper/cvmvol-data /srv/data ext4 noatime 0 2\n"));
  EXPECT_THAT(vout, HasSubstr("\n/dev/mapper/cvmvol-cache /tmp xfs defaults,nofail 0 2\n"));
  EXPECT_LT(vout.find("/boot/efi vfat"), vout.find("cvmvol-data"));
  // Idempotent: rewriting the result again changes nothing but the notes.
  const auto again = bootcfg::rewrite_fstab(out, {"cvmroot", "ext4", "3333", "CCCC-DDDD"});
  EXPECT_EQ(std::count(again.begin(), again.end(), '\n'), std::count(out.begin(), out.end(), '\n') + 3);
}

TEST(PipelineBootcfg, Crypttab) {
  const auto line = bootcfg::crypttab_line("cvmroot", "u-u-i-d", "luks,discard");
  EXPECT_EQ(line, "cvmroot UUID=u-u-i-d none luks,discard\n");
  EXPECT_EQ(bootcfg::rewrite_crypttab(
                "# comment\ncvmroot UUID=old none luks\nswap /dev/x /dev/urandom swap\n", line, "cvmroot"),
            "# comment\nswap /dev/x /dev/urandom swap\n" + line);
}

TEST(PipelineBootcfg, ShellVariableIsSetWhereItIsAssigned) {
  const auto set = [](std::string_view conf) {
    return bootcfg::set_shell_variable(conf, "CRYPTSETUP", "y", "why");
  };
  // Debian's conf-hook: the setting only as a commented example.
  const std::string debian =
      "#\n# CRYPTSETUP: [ y | n ]\n#CRYPTSETUP=\n\n# KEYFILE_PATTERN=\nKEYFILE_PATTERN=/k/*\n";
  EXPECT_EQ(set(debian), debian + "# why\nCRYPTSETUP=y\n") << "comments kept, setting appended";
  // Present: replaced in place, the rest kept.
  EXPECT_EQ(set("A=1\nCRYPTSETUP=n\nB=2\n"), "A=1\nCRYPTSETUP=y\nB=2\n");
  EXPECT_EQ(set("  CRYPTSETUP=\"n\"\n"), "CRYPTSETUP=y\n");
  // Duplicated: the shell takes the last one, so every one is set.
  EXPECT_EQ(set("CRYPTSETUP=n\n#CRYPTSETUP=n\nCRYPTSETUP=\n"), "CRYPTSETUP=y\n#CRYPTSETUP=n\nCRYPTSETUP=y\n");
  // Absent, or no file at all; a last line without its newline gets one.
  EXPECT_EQ(set(""), "# why\nCRYPTSETUP=y\n");
  EXPECT_EQ(set("A=1"), "A=1\n# why\nCRYPTSETUP=y\n");
  // Only that name: a longer name that starts with it is another variable.
  EXPECT_EQ(set("CRYPTSETUP_X=n\n"), "CRYPTSETUP_X=n\n# why\nCRYPTSETUP=y\n");
  // Idempotent.
  EXPECT_EQ(set(set(debian)), set(debian));
}

TEST(PipelineBootcfg, KernelParametersAreFailClosed) {
  EXPECT_THAT(bootcfg::kernel_parameters(
                  cvm::manifest::InitramfsGenerator::initramfs_tools, "cvmroot", "u", {"console=ttyS0"}),
              ::testing::ElementsAre("root=/dev/mapper/cvmroot", "panic=-1", "console=ttyS0"));
  EXPECT_THAT(
      bootcfg::kernel_parameters(cvm::manifest::InitramfsGenerator::dracut, "cvmroot", "u", {}),
      ::testing::ElementsAre(
          "root=/dev/mapper/cvmroot", "rd.luks.name=u=cvmroot", "rd.shell=0", "rd.emergency=poweroff"));
}
