// SPDX-License-Identifier: Apache-2.0
// cvm_guestfs against the real appliance, on phony guests built with the
// Session API itself (after guestfs-tools' test-data/phony-guests idea: just
// enough files to satisfy libguestfs's inspection heuristics, which want /etc,
// /bin (or a /bin -> usr/bin symlink) and /etc/fstab or /etc/hosts, then read
// /etc/os-release).
//
// Fixture images are built once, in one appliance launch, into
// $CVM_GUESTFS_FIXTURE_DIR if set (kept across runs, so ctest's one process
// per test does not rebuild them; guarded by a lock file) or else into a
// temporary directory for this process.
#include "lib/baseimage/inspect.hpp"
#include "lib/guestfs/session.hpp"
#include "lib/host/accel.hpp"
#include "lib/util/error.hpp"
#include "lib/util/exec.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/log.hpp"
#include "lib/util/secret.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>

namespace cvm::guestfs {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using baseimage::BaseImageFacts;
using baseimage::Bootloader;
using baseimage::inspect_base_image;
using baseimage::k_esp_type_guid;
using manifest::InitramfsGenerator;

constexpr std::int64_t k_mib = 1024 * 1024;
constexpr const char *k_fixture_version = "phony-v1";
constexpr const char *k_root_uuid = "5d0e7c3a-6a55-4b1e-9c1f-0123456789ab";
constexpr const char *k_root2_uuid = "5d0e7c3a-6a55-4b1e-9c1f-0123456789ac";
constexpr const char *k_kernel_version = "6.1.0-1-amd64";
constexpr const char *k_phony_key = "phony-passphrase-0123";

// Why the appliance cannot run here at all, or nullopt if it should.
std::optional<std::string>
appliance_unavailable_reason() {
  bool readable_kernel = false;
  std::error_code ec;
  for (const auto &entry : std::filesystem::directory_iterator("/boot", ec)) {
    if (entry.path().filename().string().rfind("vmlinuz-", 0) == 0 &&
        ::access(entry.path().c_str(), R_OK) == 0) {
      readable_kernel = true;
    }
  }
  if (!readable_kernel) {
    return "no readable /boot/vmlinuz-* for the libguestfs appliance";
  }
  if (!exec::find_program("qemu-system-x86_64")) {
    return "qemu-system-x86_64 not installed";
  }
  return std::nullopt;
}

SecretBytes
secret(std::string_view text) {
  return SecretBytes::copy_of(std::as_bytes(std::span(text.data(), text.size())));
}

// GPT with an ESP (vfat) as partition 1 spanning `esp_sectors`, then the
// given partitions; returns their API device names.
std::vector<std::string>
partition_disk(Session &s,
               const std::string &disk,
               std::int64_t esp_sectors,
               const std::vector<std::int64_t> &more_sizes_sectors) {
  s.part_init(disk, "gpt");
  std::int64_t start = 2048;
  s.part_add(disk, "p", start, start + esp_sectors - 1);
  start += esp_sectors;
  for (std::size_t i = 0; i < more_sizes_sectors.size(); ++i) {
    const bool last = i + 1 == more_sizes_sectors.size();
    s.part_add(disk, "p", start, last ? -34 : start + more_sizes_sectors[i] - 1);
    start += more_sizes_sectors[i];
  }
  s.part_set_gpt_type(disk, 1, std::string(k_esp_type_guid));
  s.part_set_name(disk, 1, "EFI System");
  std::vector<std::string> parts;
  for (const auto &p : s.list_partitions()) {
    if (s.part_to_dev(p) == disk) {
      parts.push_back(p);
    }
  }
  return parts;
}

void
populate_esp(Session &s, const std::string &esp) {
  s.mkfs("vfat", esp);
  s.mount(esp, "/");
  s.mkdir_p("/EFI/BOOT");
  s.mkdir_p("/EFI/debian");
  s.write_text("/EFI/BOOT/BOOTX64.EFI", "MZ phony shim");
  s.write_text("/EFI/debian/shimx64.efi", "MZ phony shim");
  s.write_text("/EFI/debian/grubx64.efi", "MZ phony grub");
  s.umount_all();
}

// A Debian 12 root: enough for inspection and for inspect_base.
void
populate_debian_root(Session &s,
                     const std::string &root,
                     const std::string &uuid,
                     const std::string &esp_uuid) {
  Mke2fsOptions o;
  o.fs_type = "ext4";
  o.uuid = uuid;
  o.label = "root";
  s.mke2fs(root, o);
  s.mount(root, "/");
  for (const char *dir :
       {"/etc/initramfs-tools", "/etc/kernel/postinst.d", "/bin", "/usr/sbin", "/boot/grub", "/boot/efi"}) {
    s.mkdir_p(dir);
  }
  s.write_text("/etc/os-release",
               "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n"
               "VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\n"
               "ID=debian\n");
  s.write_text("/etc/debian_version", "12.5\n");
  s.write_text("/etc/hostname", "phony-debian\n");
  s.write_text("/etc/fstab",
               fmt::format("UUID={} / ext4 errors=remount-ro 0 1\n"
                           "UUID={} /boot/efi vfat umask=0077 0 1\n",
                           uuid,
                           esp_uuid));
  s.write_text("/usr/sbin/update-initramfs", "#!/bin/sh\nexit 0\n");
  s.chmod(0755, "/usr/sbin/update-initramfs");
  s.write_text("/etc/kernel/postinst.d/initramfs-tools", "#!/bin/sh\n");
  s.write_text(fmt::format("/boot/vmlinuz-{}", k_kernel_version), "phony kernel");
  s.write_text(fmt::format("/boot/initrd.img-{}", k_kernel_version), "phony initrd");
  s.write_text("/boot/grub/grub.cfg", "set default=0\n");
  s.umount_all();
}

struct Fixtures {
  std::filesystem::path dir;
  std::filesystem::path debian;
  std::filesystem::path luks;
  std::filesystem::path two_roots;
  std::filesystem::path not_an_image;
};

void
build_fixtures(const Fixtures &f) {
  const auto start = std::chrono::steady_clock::now();
  Session s;
  for (const auto &[path, size] : {std::pair{f.debian, 256 * k_mib},
                                   std::pair{f.luks, 128 * k_mib},
                                   std::pair{f.two_roots, 256 * k_mib}}) {
    s.disk_create(path, "qcow2", size);
    AddDriveOptions o;
    o.read_only = ReadOnly::no;
    // Safe here: we sync() and shutdown() below and discard the images on error.
    o.cache_mode = CacheMode::unsafe;
    s.add_drive(path, o);
  }
  s.launch();
  const std::vector<std::string> disks = s.list_devices();
  ASSERT_EQ(disks.size(), 3U);

  // debian: ESP 64 MiB + ext4 root.
  auto parts = partition_disk(s, disks[0], 64 * 2048, {0});
  ASSERT_EQ(parts.size(), 2U);
  populate_esp(s, parts[0]);
  populate_debian_root(s, parts[1], k_root_uuid, s.vfs_uuid(parts[0]));

  // luks: ESP + a LUKS volume where the root would be.
  parts = partition_disk(s, disks[1], 32 * 2048, {0});
  ASSERT_EQ(parts.size(), 2U);
  populate_esp(s, parts[0]);
  s.luks_format(parts[1], secret(k_phony_key), 0);

  // two roots: ESP + two Debian roots.
  parts = partition_disk(s, disks[2], 32 * 2048, {100 * 2048, 0});
  ASSERT_EQ(parts.size(), 3U);
  populate_esp(s, parts[0]);
  const std::string esp_uuid = s.vfs_uuid(parts[0]);
  populate_debian_root(s, parts[1], k_root_uuid, esp_uuid);
  populate_debian_root(s, parts[2], k_root2_uuid, esp_uuid);

  s.sync();
  s.shutdown();
  fs::write_file_atomic(f.not_an_image, std::string_view("this is not a disk image\n"));
  fs::write_file_atomic(f.dir / "stamp", std::string_view(k_fixture_version));
  log::info(
      "guestfs fixtures built in {} s ({})",
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count(),
      host::describe_accel());
}

class GuestfsIntegration : public ::testing::Test {
protected:
  static void
  SetUpTestSuite() {
    // The tests are specified against the direct backend (no libvirtd).
    ::setenv("LIBGUESTFS_BACKEND", "direct", 1);      // NOLINT(concurrency-mt-unsafe)
    if (std::getenv("CVM_TEST_VERBOSE") != nullptr) { // NOLINT(concurrency-mt-unsafe)
      log::set_level(log::Level::debug);
    }
    log::info("accelerator: {}", host::describe_accel());
    const char *env_dir = std::getenv("CVM_GUESTFS_FIXTURE_DIR"); // NOLINT
    std::filesystem::path dir;
    if (env_dir != nullptr && *env_dir != '\0') {
      dir = env_dir;
      std::filesystem::create_directories(dir);
    } else {
      s_tmp.emplace("cvm-guestfs-fixtures");
      dir = s_tmp->path();
    }
    s_fixtures = Fixtures{
        dir, dir / "debian.qcow2", dir / "luks.qcow2", dir / "two-roots.qcow2", dir / "not-an-image.qcow2"};

    // One builder at a time (ctest -j); the others wait and reuse.
    const fs::Fd lock(::open((dir / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock || ::flock(lock.get(), LOCK_EX) != 0) {
      s_setup_error = "cannot lock the fixture directory " + dir.native();
      return;
    }
    std::error_code ec;
    if (std::filesystem::exists(dir / "stamp", ec) && fs::read_text(dir / "stamp") == k_fixture_version) {
      return;
    }
    std::filesystem::remove(dir / "stamp", ec);
    try {
      build_fixtures(s_fixtures);
      if (::testing::Test::HasFatalFailure()) {
        s_setup_error = "building the fixture images failed (see above)";
      }
    } catch (const Error &e) {
      if (const auto reason = appliance_unavailable_reason()) {
        s_skip_reason = *reason + " (" + e.what() + ")";
      } else {
        s_setup_error = std::string("building the fixture images failed: ") + e.what();
      }
    }
  }

  static void
  TearDownTestSuite() {
    s_tmp.reset();
  }

  void
  SetUp() override {
    if (s_skip_reason) {
      GTEST_SKIP() << "skipped: " << *s_skip_reason;
    }
    if (s_setup_error) {
      FAIL() << *s_setup_error;
    }
  }

  static inline Fixtures s_fixtures;
  static inline std::optional<fs::TempDir> s_tmp;
  static inline std::optional<std::string> s_skip_reason;
  static inline std::optional<std::string> s_setup_error;
};

template<typename F>
std::string
input_error_of(F &&f) {
  try {
    f();
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::input) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected cvm::Error(input)";
  return {};
}

TEST_F(GuestfsIntegration, InspectsPhonyDebian12) {
  const BaseImageFacts f = inspect_base_image(s_fixtures.debian);
  EXPECT_EQ(f.os_type, "linux");
  EXPECT_EQ(f.distro, "debian");
  EXPECT_EQ(f.major_version, 12);
  // For Debian, libguestfs takes the version and the product name from
  // /etc/debian_version ("12.5"), not from os-release's PRETTY_NAME.
  EXPECT_EQ(f.minor_version, 5);
  EXPECT_EQ(f.product_name, "12.5");
  EXPECT_EQ(f.root_device, "/dev/sda2");
  EXPECT_EQ(f.root_fs_type, "ext4");
  EXPECT_EQ(f.root_uuid, k_root_uuid);
  EXPECT_EQ(f.disk_device, "/dev/sda");
  EXPECT_EQ(f.root_partnum, 2);
  EXPECT_EQ(f.partition_table, "gpt");
  EXPECT_EQ(f.esp_device, "/dev/sda1");
  EXPECT_EQ(f.esp_partnum, 1);
  EXPECT_FALSE(f.esp_uuid.empty());
  EXPECT_EQ(f.esp_mountpoint, "/boot/efi");
  EXPECT_EQ(f.boot_device, std::nullopt);
  EXPECT_EQ(f.mountpoints, (std::vector<MountpointEntry>{{"/", "/dev/sda2"}, {"/boot/efi", "/dev/sda1"}}));
  ASSERT_EQ(f.kernels.size(), 1U);
  EXPECT_EQ(f.kernels[0].version, k_kernel_version);
  EXPECT_EQ(f.kernels[0].kernel_path, fmt::format("/boot/vmlinuz-{}", k_kernel_version));
  EXPECT_EQ(f.kernels[0].initrd_path, fmt::format("/boot/initrd.img-{}", k_kernel_version));
  EXPECT_EQ(f.initramfs_generator, InitramfsGenerator::initramfs_tools);
  EXPECT_EQ(f.bootloader, Bootloader::grub_efi);
  EXPECT_EQ(f.grub_cfg, "/boot/grub/grub.cfg");
  EXPECT_EQ(f.efi_binaries,
            (std::vector<std::string>{
                "/EFI/BOOT/BOOTX64.EFI", "/EFI/debian/grubx64.efi", "/EFI/debian/shimx64.efi"}));
  EXPECT_GT(f.root_used_bytes, 0U);
  EXPECT_GT(f.root_total_bytes, f.root_used_bytes);
  RecordProperty("root_used_bytes", std::to_string(f.root_used_bytes));
}

TEST_F(GuestfsIntegration, RefusesLuksRoot) {
  const std::string msg = input_error_of([] { inspect_base_image(s_fixtures.luks); });
  EXPECT_THAT(msg, HasSubstr("already contains a LUKS-encrypted volume (/dev/sda2)"));
}

TEST_F(GuestfsIntegration, RefusesTwoRoots) {
  const std::string msg = input_error_of([] { inspect_base_image(s_fixtures.two_roots); });
  EXPECT_THAT(msg, HasSubstr("2 operating systems (/dev/sda2 (debian), /dev/sda3 (debian))"));
}

TEST_F(GuestfsIntegration, RefusesNonImageWithoutLaunching) {
  std::string msg = input_error_of([] { inspect_base_image(s_fixtures.not_an_image); });
  EXPECT_THAT(msg, HasSubstr("is not a qcow2 disk image (detected format: raw)"));
  msg = input_error_of([] { inspect_base_image(s_fixtures.dir / "missing.qcow2"); });
  EXPECT_THAT(msg, HasSubstr("no such disk image"));
}

// Launches `s` on a new, empty qcow2 of `size` bytes at `path`; returns the
// disk's device name.
std::string
launch_on_new_disk(Session &s, const std::filesystem::path &path, std::int64_t size) {
  s.disk_create(path, "qcow2", size);
  s.add_drive(path, "qcow2", ReadOnly::no);
  s.launch();
  return s.list_devices().at(0);
}

// Session calls on a scratch disk, and what libguestfs does with keys.
TEST_F(GuestfsIntegration, SessionRoundTripAndKeyHandling) {
  const fs::TempDir tmp("cvm-guestfs-scratch");
  Session s;
  const auto disk_path = tmp.path() / "scratch.qcow2";
  const std::string disk = launch_on_new_disk(s, disk_path, 128 * k_mib);
  EXPECT_EQ(s.blockdev_getsize64(disk), 128 * k_mib);
  s.part_init(disk, "gpt");
  s.part_add(disk, "p", 2048, 2048 + 64 * 2048 - 1);
  s.part_add(disk, "p", 2048 + 64 * 2048, -34);
  const auto parts = s.part_list(disk);
  ASSERT_EQ(parts.size(), 2U);
  EXPECT_EQ(parts[0].start, 2048U * 512U);
  const std::string p1 = disk + "1";
  const std::string p2 = disk + "2";
  EXPECT_EQ(s.part_to_partnum(p2), 2);

  MkfsOptions mo;
  mo.label = "scratch";
  s.mkfs("ext4", p1, mo);
  EXPECT_EQ(s.vfs_type(p1), "ext4");
  EXPECT_EQ(s.vfs_label(p1), "scratch");
  s.set_uuid(p1, k_root_uuid);
  EXPECT_EQ(s.vfs_uuid(p1), k_root_uuid);
  s.mount(p1, "/");

  // Binary-safe both ways, including a write over the 1 MiB guestfs_write limit.
  std::vector<std::byte> small{std::byte{0}, std::byte{'a'}, std::byte{0}, std::byte{0xff}};
  s.write("/bin.dat", small);
  EXPECT_EQ(s.read_file("/bin.dat"), small);
  std::vector<std::byte> big(3 * k_mib);
  for (std::size_t i = 0; i < big.size(); ++i) {
    big[i] = static_cast<std::byte>(i * 7U);
  }
  s.write("/big.dat", big);
  EXPECT_EQ(s.read_file("/big.dat"), big);
  EXPECT_EQ(s.lstatns("/big.dat").size, 3 * k_mib);

  s.mkdir_p("/a/b/c");
  s.touch("/a/b/c/f");
  s.chmod(0600, "/a/b/c/f");
  EXPECT_EQ(s.lstatns("/a/b/c/f").mode & 0777, 0600);
  s.ln_s("b/c/f", "/a/link");
  EXPECT_TRUE(s.is_symlink("/a/link"));
  EXPECT_EQ(s.readlink("/a/link"), "b/c/f");
  EXPECT_EQ(s.realpath("/a/link"), "/a/b/c/f");
  EXPECT_EQ(s.ls("/a"), (std::vector<std::string>{"b", "link"}));
  EXPECT_EQ(s.find("/a"), (std::vector<std::string>{"/b", "/b/c", "/b/c/f", "/link"}));
  s.cp_a("/a", "/a2");
  EXPECT_TRUE(s.is_file("/a2/b/c/f"));
  EXPECT_GT(s.du("/big.dat"), 3 * k_mib - 1);
  const FsUsage usage = s.statvfs("/");
  EXPECT_GT(usage.used_bytes, static_cast<std::uint64_t>(3 * k_mib));

  // Host <-> guest transfers.
  const auto host_out = tmp.path() / "out.dat";
  s.download("/bin.dat", host_out);
  EXPECT_EQ(fs::read_file(host_out), small);
  s.upload(host_out, "/up.dat");
  EXPECT_EQ(s.read_file("/up.dat"), small);
  const auto tarball = tmp.path() / "a.tar";
  s.tar_out("/a", tarball);
  s.mkdir_p("/untar");
  s.tar_in(tarball, "/untar");
  EXPECT_TRUE(s.is_file("/untar/b/c/f"));

  // Errors name the call and its arguments.
  try {
    s.read_file("/does/not/exist");
    ADD_FAILURE() << "expected an error";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::guest);
    EXPECT_THAT(e.what(), HasSubstr("read_file /does/not/exist: "));
  }
  // command() runs the GUEST's programs: this scratch root has none.
  try {
    s.command({"/usr/bin/true"});
    ADD_FAILURE() << "expected an error";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::guest);
    EXPECT_THAT(e.what(), HasSubstr("command /usr/bin/true: "));
  }
  s.umount_all();

  // Keys: capture everything libguestfs traces and logs at trace level.
  std::vector<std::string> lines;
  std::mutex lines_mutex;
  const log::Level old_level = log::level();
  log::set_level(log::Level::trace);
  log::set_sink([&](log::Level, std::string_view m) {
    const std::lock_guard lock(lines_mutex);
    lines.emplace_back(m);
  });
  s.set_trace(true);
  s.luks_format(p2, secret(k_phony_key), 0);
  s.cryptsetup_open(p2, secret(k_phony_key), "scratchroot");
  EXPECT_TRUE(s.get_trace()) << "cryptsetup_open must restore trace mode";
  s.set_trace(false);
  log::set_sink({});
  log::set_level(old_level);
  bool saw_masked_key = false;
  for (const auto &l : lines) {
    EXPECT_THAT(l, Not(HasSubstr(k_phony_key)));
    if (l.find("luks_format") != std::string::npos && l.find("\"***\"") != std::string::npos) {
      saw_masked_key = true;
    }
  }
  EXPECT_TRUE(saw_masked_key) << "libguestfs no longer traces keys as \"***\"?";
  // libguestfs leaves LUKS volumes out of list_filesystems(); vfs_type sees them.
  EXPECT_EQ(s.vfs_type(p2), "crypto_LUKS");
  for (const auto &entry : s.list_filesystems()) {
    EXPECT_NE(entry.mountable, p2) << entry.type;
  }
  s.mkfs("ext4", "/dev/mapper/scratchroot");
  s.mount("/dev/mapper/scratchroot", "/");
  s.write_text("/inside", "encrypted");
  s.umount_all();
  s.cryptsetup_close("/dev/mapper/scratchroot");

  // Keys libguestfs cannot pass on are refused before any call.
  EXPECT_THROW(s.cryptsetup_open(p2, secret(std::string_view("a\0b", 3)), "x"), Error);
  EXPECT_THROW(s.cryptsetup_open(p2, SecretBytes(), "x"), Error);

  s.sync();
  s.shutdown();
  s.shutdown(); // idempotent
}

// The output filesystems sit on dm-crypt, where every block mke2fs zeroes
// becomes allocated ciphertext in the qcow2. Lazy journal init must reach
// mke2fs through guestfs_mke2fs (it did not while copy-root also asked for
// nodiscard: mke2fs keeps only the last -E). The control, a second mke2fs
// over the same volume without the option, shows what zeroing the 16 MiB
// journal costs, so the check measures what it claims to.
TEST_F(GuestfsIntegration, LazyJournalInitLeavesTheJournalUnwrittenThroughDmCrypt) {
  const fs::TempDir tmp("cvm-guestfs-mke2fs");
  Session s;
  const auto disk_path = tmp.path() / "mke2fs.qcow2";
  const std::string disk = launch_on_new_disk(s, disk_path, 160 * k_mib);
  s.luks_format(disk, secret(k_phony_key), 0);
  s.cryptsetup_open(disk, secret(k_phony_key), "lazyvol");
  const std::string volume = "/dev/mapper/lazyvol";
  const auto allocated = [&] {
    s.sync();
    return static_cast<std::int64_t>(std::filesystem::file_size(disk_path));
  };

  Mke2fsOptions o;
  o.fs_type = "ext4";
  o.block_size = 4096;
  o.journal_size = 16;
  o.force_create = true;
  o.extended = Mke2fsExtended::lazy_journal_init;
  const std::int64_t before = allocated();
  s.mke2fs(volume, o);
  const std::int64_t after_lazy = allocated();
  EXPECT_EQ(s.vfs_type(volume), "ext4");
  o.extended.reset();
  s.mke2fs(volume, o);
  const std::int64_t after_control = allocated();

  EXPECT_LT(after_lazy - before, 4 * k_mib) << "lazy_journal_init did not reach mke2fs";
  EXPECT_GE(after_control - after_lazy, 16 * k_mib) << "the control no longer zeroes its journal";
  s.cryptsetup_close(volume);
  s.shutdown();
}

} // namespace
} // namespace cvm::guestfs
