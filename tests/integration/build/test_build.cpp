// SPDX-License-Identifier: Apache-2.0
// `cvmforge build` end to end with real libguestfs and libcryptsetup: build a
// fixture (with every kind of file the copy must preserve added), then take
// the result apart and compare it with the base.
#include "lib/crypto/crypto.hpp"
#include "lib/guestfs/session.hpp"
#include "lib/luks/cryptsetup.hpp"
#include "lib/pipeline/ids.hpp"
#include "lib/util/error.hpp"
#include "lib/util/exec.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/hex.hpp"
#include "measurement/pe.hpp"
#include "measurement/uki.hpp"
#include "tests/integration/build/tree_compare.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>

namespace stdfs = std::filesystem;
using namespace cvm;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

const char *const k_recovery = "correct horse battery staple 42";
const char *const k_seed = "integration-seed";
const char *const k_test_user = "cvmforge-test";

std::string
env(const char *name) {
  const char *v = std::getenv(name);
  return v != nullptr ? v : "";
}

// The manifest's boot.mode for this flavour (tests/integration/CMakeLists.txt).
std::string
boot_mode() {
  const auto mode = env("CVM_BOOT_MODE");
  return mode.empty() ? "grub" : mode;
}

std::string
sha256_of_file(const stdfs::path &p) {
  crypto::Hasher h(crypto::HashAlgorithm::sha256);
  std::ifstream in(p, std::ios::binary);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.update(std::as_bytes(std::span(buf.data(), static_cast<std::size_t>(in.gcount()))));
  }
  return to_hex(h.final());
}

// The unprivileged user the build runs as when the tests run as root.
std::optional<std::string>
unprivileged_user() {
  if (::geteuid() != 0) {
    return std::nullopt; // already unprivileged
  }
  if (::getpwnam(k_test_user) == nullptr) {
    const auto r =
        exec::run({"useradd", "--system", "--create-home", "--shell", "/usr/sbin/nologin", k_test_user});
    if (r.exit_status != 0) {
      throw std::runtime_error("useradd failed: " + r.err);
    }
  }
  return std::string(k_test_user);
}

exec::Result
run_cvmforge(const std::vector<std::string> &args, const std::optional<std::string> &as_user = std::nullopt) {
  std::vector<std::string> argv;
  if (as_user) {
    argv = {"runuser", "-u", *as_user, "--", "env", "LIBGUESTFS_BACKEND=direct", "TMPDIR=/var/tmp"};
    if (!env("CVM_ACCEL").empty()) {
      argv.push_back("CVM_ACCEL=" + env("CVM_ACCEL"));
    }
  }
  argv.push_back(env("CVM_CLI"));
  argv.insert(argv.end(), args.begin(), args.end());
  return exec::run(argv, {std::nullopt, std::chrono::seconds(2400), {}});
}

// Files the build rewrites on purpose; everything else must be identical.
bool
changed_on_purpose(const std::string &path) {
  static const std::vector<std::string> k_prefixes{
      "etc/fstab",
      "etc/crypttab",
      "etc/default/grub.d/90-cvmforge.cfg",
      "etc/cryptsetup-initramfs",
      "etc/dracut.conf.d/90-cvmforge.conf",
      "boot/",
      "var/lib/initramfs-tools",
      "var/lib/dracut",
      "lost+found",
      "etc/default/grub.d",
      "var/log",
      "var/cache/debconf",
      "var/lib/grub",
      "etc/kernel/cmdline",
  };
  for (const auto &p : k_prefixes) {
    if (path.starts_with(p)) {
      return true;
    }
  }
  return path == "boot" || path == "etc/cryptsetup-initramfs" || path == "etc/dracut.conf.d" || path == "etc";
}

struct Built {
  stdfs::path dir;
  stdfs::path base; // the derived base (fixture + special files)
  stdfs::path output;
  std::string base_sha256_before;
  exec::Result result;
  nlohmann::json report;
};

Built *g_built = nullptr;

// Adds to a copy of the fixture every kind of file the copy must preserve.
void
make_derived_base(const stdfs::path &fixture, const stdfs::path &derived) {
  guestfs::Session g;
  g.disk_create(derived, "qcow2", -1, {guestfs::Preallocation::off, fixture, std::string("qcow2")});
  g.add_drive(derived, "qcow2", guestfs::ReadOnly::no);
  g.launch();
  const auto oses = g.inspect_os();
  if (oses.size() != 1) {
    throw std::runtime_error("fixture has no single OS");
  }
  for (const auto &mp : oses[0].mountpoints) { // "/" first
    if (mp.mountpoint == "/" || mp.mountpoint == "/boot") {
      g.mount(mp.mountable, mp.mountpoint);
    }
  }
  const std::string d = "/srv/cvmforge-test";
  g.mkdir_p(d);
  g.write_text(d + "/plain", "plain file\n");
  g.ln(d + "/plain", d + "/hardlink");
  g.ln_s("plain", d + "/symlink");
  g.mknod_c(0620, 4, 64, d + "/ttyS0-node");
  g.mknod_b(0660, 7, 0, d + "/loop0-node");
  g.mkfifo(0640, d + "/fifo");
  g.write_text(d + "/sparse", "");
  g.truncate_size(d + "/sparse", 64LL << 20);
  g.pwrite(d + "/sparse", "data in the middle", 32LL << 20);
  g.write_text(d + "/xattr", "x\n");
  g.setxattr("user.cvmforge", "value-\x01-binary", d + "/xattr");
  g.setxattr("security.selinux", std::string("system_u:object_r:bin_t:s0\0", 27), d + "/xattr");
  g.write_text(d + "/acl", "a\n");
  g.acl_set_file(d + "/acl", "access", "user::rw-,user:1234:r--,group::r--,mask::r--,other::---");
  g.mkdir_p(d + "/acl-dir");
  g.acl_set_file(d + "/acl-dir", "default", "user::rwx,user:1234:r-x,group::r-x,mask::r-x,other::---");
  g.write_text(d + "/cap", "#!/bin/sh\n");
  g.chmod(0755, d + "/cap");
  g.cap_set_file(d + "/cap", "cap_net_raw=ep");
  g.write_text(d + "/setuid", "s\n");
  g.chown(1234, 5678, d + "/setuid");
  g.chmod(04750, d + "/setuid");
  g.utimens(d + "/plain", 1000000000, 123456789, 1000000000, 123456789);
  g.sync();
  g.umount_all();
  g.shutdown();
}

class Build : public ::testing::Test {
protected:
  static void
  SetUpTestSuite() {
    const std::string fixture = env("CVM_FIXTURE");
    const std::string dir = env("CVM_TEST_IMAGE_DIR");
    if (fixture.empty() || dir.empty() || !stdfs::exists(fixture)) {
      return; // each test skips with the reason
    }
    auto *b = new Built; // lives for the process
    b->dir = dir;
    b->base = b->dir / "base.qcow2";
    b->output = b->dir / "out" / "cvm.qcow2";
    // For iterating on the checks by hand: CVM_TEST_REUSE_BUILD=1 reuses the
    // image an earlier run left in CVM_TEST_IMAGE_DIR (filter to the checks
    // that read the image; the build's own output is not kept).
    if (env("CVM_TEST_REUSE_BUILD") == "1" && stdfs::exists(b->output.string() + ".report.json")) {
      b->report = nlohmann::json::parse(fs::read_text(b->output.string() + ".report.json"));
      b->result.exit_status = 0;
      b->base_sha256_before = sha256_of_file(b->base);
      g_built = b;
      return;
    }
    stdfs::remove_all(b->dir);
    stdfs::create_directories(b->dir / "out");
    make_derived_base(fixture, b->base);
    const std::string passfile = (b->dir / "recovery.txt").string();
    std::ofstream(passfile) << k_recovery << "\n";
    std::ofstream(b->dir / "manifest.yaml") << fmt::format(R"(version: 1
name: integration
base: {{path: base.qcow2}}
output: {{path: out/cvm.qcow2}}
luks:
  label: integration-root
  recovery:
    enabled: true
    passphrase_file: recovery.txt
    pbkdf: {{type: argon2id, memory_kib: 65536, parallel: 1, iterations: 4}}
boot:
  mode: {}
  cmdline_add: [console=ttyS0]
measurement:
  profile: small
  profiles:
    small: {{vcpus: 2, memory: 2G, qemu_version: "9.2", ovmf_version: edk2-stable202211,
             firmware: /usr/share/ovmf/OVMF.fd}}
reproducibility: {{seed: {}, source_date_epoch: 1735689600}}
)",
                                                           boot_mode(),
                                                           k_seed);
    const auto user = unprivileged_user();
    if (user) {
      // The unprivileged user owns the scratch tree (and nothing else).
      exec::run({"chown", "-R", *user, b->dir.string()});
      // It must reach the tree through its parent: add search permission
      // there, never take any away (the parent may be a shared directory).
      stdfs::permissions(b->dir.parent_path(), stdfs::perms::others_exec, stdfs::perm_options::add);
    }
    b->base_sha256_before = sha256_of_file(b->base);
    b->result = run_cvmforge({"--json", "build", (b->dir / "manifest.yaml").string()}, user);
    if (stdfs::exists(b->output.string() + ".report.json")) {
      b->report = nlohmann::json::parse(fs::read_text(b->output.string() + ".report.json"));
    }
    g_built = b;
  }

  void
  SetUp() override {
    if (g_built == nullptr) {
      GTEST_SKIP() << "skipped: CVM_FIXTURE / CVM_TEST_IMAGE_DIR not set or fixture missing (run via ctest)";
    }
  }
};

} // namespace

TEST_F(Build, Succeeds) {
  const auto &b = *g_built;
  ASSERT_EQ(b.result.exit_status, 0) << b.result.err;
  EXPECT_TRUE(stdfs::exists(b.output));
  const auto key = b.output.string() + ".key";
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  EXPECT_EQ(st.st_size, 64);
  EXPECT_FALSE(stdfs::exists(b.output.string() + ".recovery")) << "the passphrase came from a file";
  // JSON progress events on stdout, one per line, ending with the result.
  EXPECT_THAT(b.result.out, HasSubstr("\"event\":\"stage\""));
  EXPECT_THAT(b.result.out, HasSubstr("\"event\":\"result\""));
  // A stock base has nothing to warn about; a warning here is a degraded
  // build (e.g. /boot left untrimmed) that would otherwise pass silently.
  EXPECT_THAT(b.result.err, Not(HasSubstr("warning:")));
  // Nothing else was left next to the output or in the scratch space.
  for (const auto &e : stdfs::directory_iterator(b.output.parent_path())) {
    const auto name = e.path().filename().string();
    EXPECT_TRUE(name == "cvm.qcow2" || name == "cvm.qcow2.key" || name == "cvm.qcow2.report.json" ||
                name == "cvm.qcow2.reference.json")
        << name;
  }
}

TEST_F(Build, InputIsUntouched) {
  EXPECT_EQ(sha256_of_file(g_built->base), g_built->base_sha256_before);
}

TEST_F(Build, SecretsAreNotInLogsOrReport) {
  const auto &b = *g_built;
  const auto key = fs::read_file(b.output.string() + ".key");
  const std::string key_hex = to_hex(key);
  const std::string key_raw(reinterpret_cast<const char *>(key.data()), key.size());
  for (const std::string *text : {&b.result.out, &b.result.err}) {
    EXPECT_EQ(text->find(k_recovery), std::string::npos);
    EXPECT_EQ(text->find(key_hex), std::string::npos);
    EXPECT_EQ(text->find(key_raw.substr(0, 16)), std::string::npos);
  }
  const std::string report = b.report.dump();
  EXPECT_EQ(report.find(k_recovery), std::string::npos);
  EXPECT_EQ(report.find(key_hex), std::string::npos);
}

TEST_F(Build, ReportDescribesTheImage) {
  const auto &r = g_built->report;
  ASSERT_FALSE(r.is_null());
  EXPECT_EQ(r["luks"]["uuid"], pipeline::uuid_from_seed(k_seed, "luks"));
  EXPECT_EQ(r["luks"]["cipher"], "aes-xts-plain64");
  EXPECT_EQ(r["partitions"].size(), 3U);
  EXPECT_FALSE(r["kernels"].empty());
  EXPECT_GT(r["output"]["virtual_size"].get<std::uint64_t>(), 0U);
  EXPECT_GT(r["output"]["allocated_bytes"].get<std::uint64_t>(), 0U);
  std::vector<std::string> stages;
  for (const auto &s : r["stages"]) {
    stages.push_back(s["name"]);
  }
  EXPECT_THAT(stages, ::testing::Contains("copy-root"));
  // Issue 17: what a rebuild needs, and no known measured difference.
  EXPECT_EQ(r["base"]["sha256"], g_built->base_sha256_before);
  EXPECT_EQ(r["reproducibility"]["identifiers"], "derived from reproducibility.seed");
  EXPECT_EQ(r["reproducibility"]["source_date_epoch"], 1735689600);
  EXPECT_EQ(r["reproducibility"]["source_date_epoch_from"], "manifest");
  EXPECT_TRUE(r["reproducibility"]["measured_differences"].empty()) << r["reproducibility"].dump(2);
}

TEST_F(Build, ReferenceValuesAreWrittenNextToTheImage) {
  const auto &b = *g_built;
  const auto path = b.output.string() + ".reference.json";
  ASSERT_TRUE(stdfs::exists(path));
  const auto j = nlohmann::json::parse(fs::read_text(path));
  EXPECT_EQ(j.value("schema", ""), "cvmforge.tdx-measurement/v1");
  EXPECT_EQ(b.report["measurement"]["profile"], "small");
  EXPECT_EQ(b.report["measurement"]["mrtd"]["single_pass"].get<std::string>().size(), 96U);
}

TEST_F(Build, LuksHeaderMatchesTheManifest) {
  const auto &b = *g_built;
  fs::TempDir tmp("cvm-it-header");
  const auto header = tmp.path() / "h";
  {
    guestfs::Session g;
    g.add_drive(b.output, "qcow2", guestfs::ReadOnly::yes);
    g.launch();
    const auto parts = g.list_partitions();
    ASSERT_EQ(parts.size(), 3U);
    EXPECT_EQ(g.vfs_type(parts[2]), "crypto_LUKS");
    EXPECT_EQ(g.part_get_gpt_type(g.part_to_dev(parts[2]), 3), "CA7D7CCB-63ED-4C53-861C-1742536059CC");
    g.download_offset(parts[2], header, 0, 16LL << 20);
    g.shutdown();
  }
  const auto info = luks::read_header_info(header);
  EXPECT_EQ(info.cipher, "aes");
  EXPECT_EQ(info.cipher_mode, "xts-plain64");
  EXPECT_EQ(info.key_size_bits, 512U);
  EXPECT_EQ(info.sector_size, 4096U);
  EXPECT_EQ(info.uuid, pipeline::uuid_from_seed(k_seed, "luks"));
  EXPECT_EQ(info.label, "integration-root");
  ASSERT_EQ(info.keyslots.size(), 2U) << "the build-only keyslot must be gone";
  EXPECT_EQ(info.keyslots[0].pbkdf.type, luks::PbkdfType::pbkdf2);
  EXPECT_EQ(info.keyslots[0].pbkdf.iterations, 1000U);
  EXPECT_EQ(info.keyslots[1].pbkdf.type, luks::PbkdfType::argon2id);
  EXPECT_EQ(info.keyslots[1].pbkdf.memory_kib, 65536U);
  EXPECT_TRUE(info.metadata.tokens.empty());

  const auto key = fs::read_file(b.output.string() + ".key");
  EXPECT_EQ(luks::unlock_keyslot(header, SecretBytes::copy_of(key), 0), 0);
  EXPECT_EQ(luks::unlock_keyslot(header, SecretBytes::copy_of(as_bytes(k_recovery)), 1), 1);
  EXPECT_THROW(
      luks::unlock_keyslot(header, SecretBytes::copy_of(as_bytes("wrong passphrase")), luks::k_any_keyslot),
      Error);
}

// The trees are archived by the base's own GNU tar inside the appliance,
// straight onto scratch disks that the host then reads with libarchive. (The
// libguestfs download channel, tar_out, moved the two trees at a few MB/s
// under TCG: most of this test's six minutes.) Mountpoints can only be made
// in the read-only base, so the output's tree is mounted on the base's
// /boot/efi, a directory the comparison skips; --one-file-system keeps each
// tar inside its own tree.
TEST_F(Build, TreeAndBootConfigurationArePreserved) {
  const auto &b = *g_built;
  fs::TempDir tmp("cvm-it-tree");
  constexpr std::int64_t k_scratch_size = std::int64_t{8} << 30; // sparse
  guestfs::Session g;
  g.add_drive(b.base, "qcow2", guestfs::ReadOnly::yes);
  g.add_drive(b.output, "qcow2", guestfs::ReadOnly::yes);
  for (const char *label : {"tara", "tarb"}) {
    const auto path = tmp.path() / (std::string(label) + ".raw");
    g.disk_create(path, "raw", k_scratch_size);
    g.add_drive(path, {"raw", guestfs::ReadOnly::no, guestfs::CacheMode::unsafe, label});
  }
  g.launch();
  const auto devices = g.list_devices();
  ASSERT_EQ(devices.size(), 4U);
  const auto oses = g.inspect_os();
  ASSERT_EQ(oses.size(), 1U) << "only the base's root is visible: the output's is encrypted";
  std::string out_root;
  std::string out_boot;
  std::string out_esp;
  for (const auto &p : g.list_partitions()) {
    if (g.part_to_dev(p) == devices[1]) {
      const int n = g.part_to_partnum(p);
      (n == 1 ? out_esp : n == 2 ? out_boot : out_root) = p;
    }
  }
  g.cryptsetup_open(out_root, SecretBytes::copy_of(as_bytes(k_recovery)), "it", guestfs::ReadOnly::yes);
  // The base is mounted twice: at "/" for its tools (command() binds the
  // appliance's /dev, /proc and /sys there), and at /mnt for the archive
  // (a second mount shows the base's own /dev, and no mountpoints).
  bool separate_boot = false;
  for (const std::string prefix : {"", "/mnt"}) {
    for (const char *where : {"/", "/boot"}) {
      for (const auto &mp : oses[0].mountpoints) {
        if (mp.mountpoint == where) {
          const std::string at = mp.mountpoint == "/" ? (prefix.empty() ? "/" : prefix) : prefix + where;
          g.mount(mp.mountable, at, guestfs::ReadOnly::yes);
          separate_boot = separate_boot || mp.mountpoint == "/boot";
        }
      }
    }
    if (prefix.empty()) {
      ASSERT_TRUE(g.is_dir("/mnt")) << "the base has no /mnt to mount its tree again on";
    }
  }
  const std::string A = "/mnt";      // the base's tree
  const std::string B = "/boot/efi"; // the output's tree
  ASSERT_TRUE(g.is_dir(B)) << "the base has no /boot/efi to mount the output's tree on";
  g.mount("/dev/mapper/it", B, guestfs::ReadOnly::yes);
  g.mount(out_boot, B + "/boot", guestfs::ReadOnly::yes);

  const std::string tar = g.exists("/usr/bin/tar") ? "/usr/bin/tar" : "/bin/tar";
  auto archive = [&](const std::string &dir, const std::string &label, bool with_boot) {
    std::vector<std::string> argv{tar,
                                  "--create",
                                  "--file=/dev/disk/guestfs/" + label,
                                  "--numeric-owner",
                                  "--xattrs",
                                  "--xattrs-include=*",
                                  "--acls",
                                  "--selinux",
                                  "--one-file-system",
                                  "--directory=" + dir,
                                  "."};
    if (with_boot) {
      argv.emplace_back("./boot"); // a filesystem of its own
    }
    g.command(argv);
  };
  archive(A, "tara", separate_boot);
  archive(B, "tarb", true);
  const auto a = test::read_tar_tree(tmp.path() / "tara.raw");
  const auto bt = test::read_tar_tree(tmp.path() / "tarb.raw");
  ASSERT_GT(a.size(), 1000U);

  std::size_t compared = 0;
  for (const auto &[path, entry] : a) {
    if (changed_on_purpose(path)) {
      continue;
    }
    const auto it = bt.find(path);
    if (it == bt.end()) {
      ADD_FAILURE() << "missing in the output: " << path;
      continue;
    }
    const auto diff = test::describe_difference(entry, it->second);
    EXPECT_TRUE(diff.empty()) << path << ":" << diff;
    ++compared;
  }
  for (const auto &[path, entry] : bt) {
    if (!changed_on_purpose(path) && a.count(path) == 0) {
      ADD_FAILURE() << "new in the output: " << path;
    }
  }
  RecordProperty("entries_compared", std::to_string(compared));

  // The special files, through the kernel's view rather than tar's.
  const std::string d = "/srv/cvmforge-test";
  for (const char *f : {"/xattr", "/cap", "/acl"}) {
    EXPECT_EQ(g.lgetxattrs(A + d + f).size(), g.lgetxattrs(B + d + f).size()) << f;
  }
  EXPECT_EQ(g.cap_get_file(B + d + "/cap"), g.cap_get_file(A + d + "/cap"));
  const auto sa = g.lstatns(A + d + "/sparse");
  const auto sb = g.lstatns(B + d + "/sparse");
  EXPECT_EQ(sb.size, 64LL << 20);
  EXPECT_LT(sb.blocks, 64) << "the sparse file was filled in";
  EXPECT_EQ(sa.blocks, sb.blocks);
  EXPECT_EQ(g.lstatns(B + d + "/hardlink").ino, g.lstatns(B + d + "/plain").ino);
  EXPECT_EQ(g.lstatns(B + d + "/plain").nlink, 2);

  // Boot configuration.
  const auto fstab = g.read_text(B + "/etc/fstab");
  EXPECT_THAT(fstab, HasSubstr("/dev/mapper/cvmroot / ext4"));
  EXPECT_THAT(fstab,
              HasSubstr(fmt::format("UUID={} /boot ext4", pipeline::uuid_from_seed(k_seed, "boot-fs"))));
  EXPECT_THAT(g.read_text(B + "/etc/crypttab"),
              HasSubstr(fmt::format("cvmroot UUID={} none luks", pipeline::uuid_from_seed(k_seed, "luks"))));
  // The kernel command line: in grub.cfg (grub) or the UKI's .cmdline (uki).
  const std::string E = B + "/boot/efi";
  g.mount(out_esp, E, guestfs::ReadOnly::yes);
  EXPECT_TRUE(g.exists(E + "/EFI/BOOT/BOOTX64.EFI"));
  std::string cmdline;
  if (boot_mode() == "uki") {
    const auto host_uki = b.dir / "uki.efi";
    g.download(E + "/EFI/BOOT/BOOTX64.EFI", host_uki);
    const auto uki_bytes = fs::read_file(host_uki);
    const auto uki = measure::parse_uki(uki_bytes);
    const auto &c = uki.sections.at(".cmdline");
    cmdline.assign(reinterpret_cast<const char *>(c.data()), c.size()); // NOLINT
    // The UKI carries the guest's own newest kernel and the initramfs its
    // generator made, byte for byte, and its stub is the guest's.
    const auto report = nlohmann::json::parse(fs::read_text(b.output.string() + ".report.json"));
    const std::string kver = report["boot"]["uki"]["kernel_version"];
    const auto kernel = b.dir / "vmlinuz";
    const auto initrd = b.dir / "initrd.img";
    g.download(B + "/boot/vmlinuz-" + kver, kernel);
    g.download(B + "/boot/initrd.img-" + kver, initrd);
    EXPECT_TRUE(uki.sections.at(".linux") == fs::read_file(kernel)) << ".linux is not /boot/vmlinuz-" << kver;
    EXPECT_TRUE(uki.sections.at(".initrd") == fs::read_file(initrd))
        << ".initrd is not /boot/initrd.img-" << kver;
    if (env("CVM_FLAVOUR") == "debian12") {
      EXPECT_EQ(measure::systemd_stub_major(uki), 252) << uki.stub_version;
    }
    EXPECT_FALSE(g.exists(E + "/EFI/BOOT/grubx64.efi"));
    // The report names exactly this file's Authenticode digest. (The
    // profile's Debian 12 OVMF predates RTMR measurement, so reference.json
    // has no events to compare here; e2e.tpm_oracle.debian12 checks the
    // predicted uki and uki.kernel events against a measured boot.)
    EXPECT_EQ(report["boot"]["uki"]["authenticode_sha384"], to_hex(measure::authenticode_sha384(uki_bytes)));
  } else {
    cmdline = g.read_text(B + "/boot/grub/grub.cfg");
  }
  EXPECT_THAT(cmdline, HasSubstr("root=/dev/mapper/cvmroot"));
  EXPECT_THAT(cmdline, HasSubstr("console=ttyS0"));
  if (env("CVM_FLAVOUR") == "debian13") {
    EXPECT_THAT(cmdline, HasSubstr("rd.shell=0 rd.emergency=poweroff"));
  } else {
    EXPECT_THAT(cmdline, HasSubstr("panic=-1"));
  }
  EXPECT_EQ(g.vfs_uuid(out_boot), pipeline::uuid_from_seed(k_seed, "boot-fs"));
  EXPECT_EQ(g.vfs_uuid("/dev/mapper/it"), pipeline::uuid_from_seed(k_seed, "root-fs"));
  // Issue 17: the GPT the firmware measures and the ESP follow the seed too.
  auto upper = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
    return s;
  };
  EXPECT_EQ(upper(g.part_get_disk_guid(devices[1])), upper(pipeline::uuid_from_seed(k_seed, "gpt-disk")));
  for (const auto &[n, role] : {std::pair{1, "esp"}, std::pair{2, "boot"}, std::pair{3, "root"}}) {
    EXPECT_EQ(upper(g.part_get_gpt_guid(devices[1], n)),
              upper(pipeline::uuid_from_seed(k_seed, pipeline::gpt_partition_purpose(role))))
        << "partition " << n;
  }
  EXPECT_EQ(g.vfs_uuid(out_esp), pipeline::format_fat_volume_id(pipeline::fat_volume_id_from_seed(k_seed)));
  g.umount_all();
  g.cryptsetup_close("/dev/mapper/it");
  g.shutdown();
}

// Issue 3's size goal, as its own ctest entry (build.<flavour>.size_goal) on
// the report build.<flavour> left behind: allocated bytes of the output at
// most 1.10 x the base's content (root plus /boot). Kept apart from Build.*
// because it does not hold yet on the cloud-kernel fixtures (1.107 and
// 1.128 measured), which must not hide the other checks.
TEST(BuildSizeGoal, AllocatedAtMostTenPercentOverBaseContent) {
  const std::string report = env("CVM_BUILT_REPORT");
  if (report.empty() || !stdfs::exists(report)) {
    GTEST_SKIP() << "skipped: no build report (run via ctest after build.<flavour>)";
  }
  const auto r = nlohmann::json::parse(fs::read_text(report));
  const double ratio = r["output"]["allocated_to_base_used"].get<double>();
  RecordProperty("allocated_to_base_used", std::to_string(ratio));
  EXPECT_LE(ratio, 1.10) << "allocated " << r["output"]["allocated_bytes"] << " for base content "
                         << r["output"]["base_used_bytes"] << " + the UKI's "
                         << r["output"]["added_content_bytes"];
}

// Issue 17: the manifest build.<flavour> built (same base, seed and
// source_date_epoch) built again, back to back: the measured bytes must be
// the same. Extended (tests/integration/CMakeLists.txt): a second full build
// per flavour does not fit .ci/run's budget yet.
class BuildReproducible : public ::testing::Test {
protected:
  // Every regular file below `mountpoint`, path -> sha256.
  static std::map<std::string, std::string>
  file_digests(guestfs::Session &g, const std::string &mountpoint) {
    std::map<std::string, std::string> out;
    for (const auto &rel : g.find(mountpoint)) {
      const std::string p = mountpoint + rel;
      if (g.is_file(p)) {
        out[rel] = g.checksum("sha256", p);
      }
    }
    return out;
  }
};

TEST_F(BuildReproducible, SecondBuildGivesTheSameMeasuredBytes) {
  const stdfs::path first = env("CVM_TEST_IMAGE_DIR");
  if (first.empty() || !stdfs::exists(first / "out" / "cvm.qcow2.report.json")) {
    GTEST_SKIP() << "skipped: no build of this flavour (run via ctest after build.<flavour>)";
  }
  const stdfs::path again = first.string() + "-again";
  stdfs::remove_all(again);
  stdfs::create_directories(again / "out");
  // The first build's manifest, with the first build's base.
  std::string manifest = fs::read_text(first / "manifest.yaml");
  const std::string rel_base = "base: {path: base.qcow2}";
  ASSERT_NE(manifest.find(rel_base), std::string::npos);
  manifest.replace(
      manifest.find(rel_base), rel_base.size(), "base: {path: " + (first / "base.qcow2").string() + "}");
  std::ofstream(again / "manifest.yaml") << manifest;
  stdfs::copy_file(first / "recovery.txt", again / "recovery.txt");
  const auto user = unprivileged_user();
  if (user) {
    exec::run({"chown", "-R", *user, again.string()});
  }
  const auto r = run_cvmforge({"--json", "build", (again / "manifest.yaml").string()}, user);
  ASSERT_EQ(r.exit_status, 0) << r.err;

  const auto out1 = first / "out" / "cvm.qcow2";
  const auto out2 = again / "out" / "cvm.qcow2";
  const auto report1 = nlohmann::json::parse(fs::read_text(out1.string() + ".report.json"));
  const auto report2 = nlohmann::json::parse(fs::read_text(out2.string() + ".report.json"));
  EXPECT_TRUE(report2["reproducibility"]["measured_differences"].empty())
      << report2["reproducibility"].dump(2);
  EXPECT_EQ(report1["reproducibility"], report2["reproducibility"]);
  // The reference values, with every image input they were computed from
  // (disk head, kernel, initramfs or UKI, command line), byte for byte.
  EXPECT_EQ(fs::read_text(out1.string() + ".reference.json"),
            fs::read_text(out2.string() + ".reference.json"));
  if (report1["boot"].contains("uki")) {
    EXPECT_EQ(report1["boot"]["uki"], report2["boot"]["uki"]);
  }
  EXPECT_EQ(report1["luks"]["uuid"], report2["luks"]["uuid"]);

  guestfs::Session g;
  g.add_drive(out1, {"qcow2", guestfs::ReadOnly::yes, guestfs::CacheMode::writeback, "one"});
  g.add_drive(out2, {"qcow2", guestfs::ReadOnly::yes, guestfs::CacheMode::writeback, "two"});
  g.launch();
  const auto devices = g.list_devices();
  ASSERT_EQ(devices.size(), 2U);
  // The GPT event: protective MBR, header and entry array.
  const auto head1 = again / "gpt-head-1.bin";
  const auto head2 = again / "gpt-head-2.bin";
  g.download_offset(devices[0], head1, 0, 34 * 512);
  g.download_offset(devices[1], head2, 0, 34 * 512);
  EXPECT_TRUE(fs::read_file(head1) == fs::read_file(head2)) << "the GPT differs";
  std::map<int, std::string> part1;
  std::map<int, std::string> part2;
  for (const auto &p : g.list_partitions()) {
    (g.part_to_dev(p) == devices[0] ? part1 : part2)[g.part_to_partnum(p)] = p;
  }
  ASSERT_EQ(part1.size(), 3U);
  ASSERT_EQ(part2.size(), 3U);
  // The ESP and /boot: every file (the boot loader or UKI, kernels, initramfs
  // images, grub.cfg) and the filesystem identifiers. Their metadata
  // (timestamps, ext4's hash seed) is not measured and not compared.
  g.mkmountpoint("/one");
  g.mkmountpoint("/two");
  for (const int n : {1, 2}) {
    EXPECT_EQ(g.vfs_uuid(part1[n]), g.vfs_uuid(part2[n])) << "partition " << n;
    g.mount(part1[n], "/one", guestfs::ReadOnly::yes);
    g.mount(part2[n], "/two", guestfs::ReadOnly::yes);
    const auto files1 = file_digests(g, "/one");
    const auto files2 = file_digests(g, "/two");
    EXPECT_FALSE(files1.empty()) << "partition " << n; // a UKI's ESP holds one file
    for (const auto &[path, digest] : files1) {
      const auto it = files2.find(path);
      EXPECT_TRUE(it != files2.end()) << "partition " << n << ": only the first build has " << path;
      if (it != files2.end()) {
        EXPECT_EQ(digest, it->second) << "partition " << n << ": " << path << " differs";
      }
    }
    EXPECT_EQ(files1.size(), files2.size()) << "partition " << n;
    g.umount("/one");
    g.umount("/two");
  }
  g.shutdown();
  stdfs::remove_all(again);
}
