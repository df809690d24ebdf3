// SPDX-License-Identifier: Apache-2.0
#include "lib/manifest/manifest.hpp"
#include "lib/manifest/to_json.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace m = cvm::manifest;
namespace stdfs = std::filesystem;
using ::testing::HasSubstr;

namespace {

// A scratch directory with a fake base image and a CA file, removed afterwards.
class ManifestTest : public ::testing::Test {
protected:
  void
  SetUp() override {
    std::string templ = (stdfs::temp_directory_path() / "cvm-manifest-test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    m_dir = templ;
    write("base.qcow2", "QFI\xfb");
    write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
    write("motd", "hello\n");
  }
  void
  TearDown() override {
    stdfs::remove_all(m_dir);
  }
  void
  write(const std::string &name, const std::string &text) {
    std::ofstream(m_dir / name) << text;
  }
  m::LoadResult
  load(const std::string &yaml) {
    return m::load_from_string(yaml, m_dir / "manifest.yaml");
  }
  // The diagnostics as "line:col: message" for compact assertions.
  static std::vector<std::string>
  lines(const m::LoadResult &r) {
    std::vector<std::string> out;
    for (const auto &d : r.diagnostics.all()) {
      out.push_back(std::to_string(d.location.line) + ":" + std::to_string(d.location.column) + ": " +
                    d.message);
    }
    return out;
  }

  stdfs::path m_dir;
};

const char *const k_minimal = "version: 1\n"
                              "base:\n"
                              "  path: base.qcow2\n"
                              "output:\n"
                              "  path: out/cvm.qcow2\n"
                              "luks:\n"
                              "  recovery:\n"
                              "    enabled: true\n";

} // namespace

TEST_F(ManifestTest, MinimalManifestGetsDefaults) {
  const auto r = load(k_minimal);
  ASSERT_TRUE(r.manifest) << (r.diagnostics.all().empty() ? "" : r.diagnostics.all()[0].format());
  const auto &man = *r.manifest;
  EXPECT_EQ(man.base.path, m_dir / "base.qcow2");
  EXPECT_EQ(man.output.path, m_dir / "out/cvm.qcow2");
  EXPECT_EQ(man.output.key_file, m_dir / "out/cvm.qcow2.key");
  EXPECT_EQ(man.output.report, m_dir / "out/cvm.qcow2.report.json");
  EXPECT_EQ(man.name, "cvm");
  EXPECT_EQ(man.luks.cipher, "aes-xts-plain64");
  EXPECT_EQ(man.luks.key_size_bits, 512U);
  EXPECT_EQ(man.luks.sector_size, 4096U);
  EXPECT_EQ(man.luks.pbkdf.type, m::PbkdfType::pbkdf2);
  EXPECT_EQ(man.luks.pbkdf.iterations, 1000U);
  EXPECT_EQ(man.luks.recovery.pbkdf.type, m::PbkdfType::argon2id);
  EXPECT_EQ(man.key.bytes, 64U);
  EXPECT_EQ(man.boot.mode, m::BootMode::grub);
  EXPECT_EQ(man.initramfs, std::nullopt);
  EXPECT_FALSE(man.attestation.enabled);
}

TEST_F(ManifestTest, FullManifestParses) {
  const auto r = load(R"(version: 1
name: web-01
base: {path: base.qcow2, format: qcow2}
output:
  path: /tmp/x/web.qcow2
  size: {policy: fixed, size: 8G}
partitions:
  esp: {size: 128M}
  boot: {size: 768M, label: bootfs}
  root: {label: rootfs, filesystem: ext4}
luks:
  cipher: aes-xts-plain64
  key_size: 256
  sector_size: 512
  pbkdf: {type: pbkdf2, hash: sha512, iterations: 2000}
  label: web-root
  mapper_name: web_root
  integrity: none
  recovery:
    enabled: true
    pbkdf: {type: argon2id, memory_kib: 65536, parallel: 2, iterations: 3}
key: {source: generate, bytes: 64}
initramfs: {backend: dracut}
attestation:
  kbs_urls: [https://kbs.example.com:8080, https://kbs2.example.com]
  ca_cert: ca.pem
  resource_path: default/disk/web-01
  tee: tdx
  timeouts: {connect_s: 5, request_s: 20, total_s: 120}
  retries: {attempts: 3, backoff_initial_ms: 500, backoff_max_ms: 8000}
boot:
  mode: direct
  cmdline_add: [console=ttyS0, quiet]
files:
  - {source: motd, dest: /etc/motd, mode: "0640", uid: 0, gid: 4}
measurement:
  profile: small
  profiles:
    small: {vcpus: 4, memory: 8G, qemu_version: "8.2", ovmf_version: edk2-stable202211, firmware: ca.pem}
reproducibility: {source_date_epoch: 1700000000, seed: web-01-v1}
)");
  ASSERT_TRUE(r.manifest) << (r.diagnostics.all().empty() ? "" : r.diagnostics.all()[0].format());
  const auto &man = *r.manifest;
  EXPECT_EQ(man.output.size_policy, m::SizePolicy::fixed);
  EXPECT_EQ(man.output.size_bytes, 8ULL << 30U);
  EXPECT_EQ(man.partitions.esp.size_bytes, 128ULL << 20U);
  EXPECT_EQ(man.partitions.boot.label, "bootfs");
  EXPECT_EQ(man.luks.pbkdf.hash, "sha512");
  EXPECT_EQ(man.luks.recovery.pbkdf.memory_kib, 65536U);
  EXPECT_EQ(man.initramfs, m::InitramfsGenerator::dracut);
  ASSERT_EQ(man.attestation.kbs_urls.size(), 2U);
  EXPECT_EQ(man.attestation.ca_cert, m_dir / "ca.pem");
  EXPECT_EQ(man.attestation.retries.attempts, 3U);
  EXPECT_EQ(man.boot.mode, m::BootMode::direct);
  ASSERT_EQ(man.files.size(), 1U);
  EXPECT_EQ(man.files[0].mode, 0640U);
  EXPECT_EQ(man.files[0].gid, 4U);
  EXPECT_EQ(man.measurement.profiles.at("small").memory_bytes, 8ULL << 30U);
  EXPECT_EQ(man.measurement.profiles.at("small").ovmf_version, "edk2-stable202211");
  EXPECT_EQ(man.measurement.profiles.at("small").firmware, m_dir / "ca.pem");
  EXPECT_EQ(man.reproducibility.source_date_epoch, 1700000000);
  const auto j = m::to_json(man);
  EXPECT_EQ(j["luks"]["key_size"], 256);
  EXPECT_EQ(j["files"][0]["mode"], "0640");
  EXPECT_EQ(j["attestation"]["tee"], "tdx");
}

TEST_F(ManifestTest, UnknownKeysGetLocationAndHint) {
  const auto r = load("version: 1\n"
                      "base: {path: base.qcow2}\n"
                      "output: {path: o.qcow2}\n"
                      "luks:\n"
                      "  cypher: aes-xts-plain64\n"
                      "  recovery: {enabled: true}\n"
                      "colour: blue\n");
  ASSERT_FALSE(r.manifest);
  ASSERT_EQ(r.diagnostics.all().size(), 2U);
  const auto &d0 = r.diagnostics.all()[0];
  EXPECT_EQ(d0.location.line, 5);
  EXPECT_EQ(d0.location.column, 3);
  EXPECT_EQ(d0.message, "unknown key 'cypher' in luks");
  EXPECT_EQ(d0.hint, "did you mean 'cipher'?");
  EXPECT_EQ(d0.format(),
            (m_dir / "manifest.yaml").string() +
                ":5:3: error: unknown key 'cypher' in luks (hint: did you mean 'cipher'?)");
  EXPECT_EQ(r.diagnostics.all()[1].location.line, 7);
  EXPECT_THAT(r.diagnostics.all()[1].hint, HasSubstr("allowed keys: version, name, base"));
}

TEST_F(ManifestTest, WrongTypesAreReported) {
  const auto r = load("version: 1\n"
                      "base: {path: base.qcow2}\n"
                      "output: {path: o.qcow2}\n"
                      "luks:\n"
                      "  key_size: big\n"
                      "  sector_size: [4096]\n"
                      "  recovery: {enabled: yes}\n"
                      "boot: [grub]\n");
  EXPECT_THAT(lines(r),
              ::testing::ElementsAre("5:13: luks.key_size: expected a non-negative integer, got 'big'",
                                     "6:16: luks.sector_size: expected an integer, got a list",
                                     "7:23: luks.recovery.enabled: expected true or false, got 'yes'",
                                     // No cascade: recovery.enabled could not be read, so
                                     // the "never unlocked" rule stays quiet.
                                     "8:7: boot: expected a mapping, got a list"));
}

TEST_F(ManifestTest, QuotedNumberIsNotAnInteger) {
  const auto r = load(std::string(k_minimal) + "key: {bytes: \"64\"}\n");
  EXPECT_THAT(lines(r), ::testing::ElementsAre("9:14: key.bytes: expected an integer, got '64'"));
}

TEST_F(ManifestTest, RangesAreChecked) {
  const auto r = load(std::string(k_minimal) + "key: {bytes: 16}\n"
                                               "partitions: {esp: {size: 1M}}\n"
                                               "attestation: {enabled: false}\n"
                                               "output2: 1\n");
  const auto l = lines(r);
  ASSERT_EQ(l.size(), 3U);
  EXPECT_EQ(l[0], "9:14: key.bytes: 16 is out of range");
  EXPECT_EQ(r.diagnostics.all()[0].hint, "allowed: 32 to 512");
  EXPECT_EQ(l[1], "10:26: partitions.esp.size: 1M is out of range");
  EXPECT_EQ(l[2], "12:1: unknown key 'output2' in the top level");
}

TEST_F(ManifestTest, MultipleErrorsAreAllReportedInFileOrder) {
  const auto r = load("version: 2\n"
                      "base: {path: missing.qcow2}\n"
                      "output: {path: o.qcow2, format: vmdk}\n"
                      "luks: {cipher: cipher_null, key_size: 384}\n");
  const auto l = lines(r);
  ASSERT_GE(l.size(), 4U);
  EXPECT_EQ(l[0], "1:10: version: manifest schema 2 is not supported");
  EXPECT_THAT(l[1], HasSubstr("2:14: base.path: "));
  EXPECT_THAT(l[1], HasSubstr("missing.qcow2 does not exist"));
  EXPECT_EQ(l[2], "3:33: output.format: 'vmdk' is not supported");
  EXPECT_EQ(l[3], "4:16: luks.cipher: 'cipher_null' does not encrypt anything");
}

TEST_F(ManifestTest, RelativePathsResolveAgainstManifestDirectory) {
  stdfs::create_directories(m_dir / "sub");
  const auto r = m::load_from_string("version: 1\nbase: {path: ../base.qcow2}\noutput: {path: out.qcow2}\n"
                                     "luks: {recovery: {enabled: true}}\n",
                                     m_dir / "sub" / "m.yaml");
  ASSERT_TRUE(r.manifest);
  EXPECT_EQ(r.manifest->base.path, m_dir / "base.qcow2");
  EXPECT_EQ(r.manifest->output.path, m_dir / "sub" / "out.qcow2");
}

TEST_F(ManifestTest, EnvironmentVariablesInPaths) {
  ::setenv("CVM_TEST_IMAGES", m_dir.c_str(), 1);
  auto r = load("version: 1\nbase: {path: \"${CVM_TEST_IMAGES}/base.qcow2\"}\noutput: {path: o.qcow2}\n"
                "luks: {recovery: {enabled: true}}\n");
  ASSERT_TRUE(r.manifest);
  EXPECT_EQ(r.manifest->base.path, m_dir / "base.qcow2");
  ::unsetenv("CVM_TEST_IMAGES");
  r = load("version: 1\nbase: {path: \"${CVM_TEST_IMAGES}/base.qcow2\"}\noutput: {path: o.qcow2}\n"
           "luks: {recovery: {enabled: true}}\n");
  EXPECT_THAT(lines(r),
              ::testing::ElementsAre("2:14: base.path: environment variable CVM_TEST_IMAGES is not set"));
}

TEST_F(ManifestTest, FileChecksCanBeTurnedOff) {
  const std::string yaml =
      "version: 1\nbase: {path: nope.qcow2}\noutput: {path: o.qcow2}\nluks: {recovery: {enabled: true}}\n";
  EXPECT_FALSE(load(yaml).manifest);
  m::LoadOptions lo;
  lo.check_files = false;
  EXPECT_TRUE(m::load_from_string(yaml, m_dir / "m.yaml", lo).manifest);
}

TEST_F(ManifestTest, BaseMustBeAFile) {
  stdfs::create_directories(m_dir / "adir");
  const auto r =
      load("version: 1\nbase: {path: adir}\noutput: {path: o.qcow2}\nluks: {recovery: {enabled: true}}\n");
  ASSERT_EQ(r.diagnostics.all().size(), 1U);
  EXPECT_THAT(r.diagnostics.all()[0].message, HasSubstr("is not a regular file"));
}

TEST_F(ManifestTest, MissingRequiredKeys) {
  const auto r = load("name: x\n");
  const auto l = lines(r);
  ASSERT_EQ(l.size(), 3U);
  EXPECT_EQ(l[0], "1:1: missing required key 'version' in the manifest");
  EXPECT_EQ(l[1], "1:1: missing required key 'base' in the manifest");
  EXPECT_EQ(l[2], "1:1: missing required key 'output' in the manifest");
}

TEST_F(ManifestTest, EmptyAndNonMappingDocuments) {
  EXPECT_THAT(lines(load("")), ::testing::ElementsAre("1:1: the manifest is empty"));
  EXPECT_THAT(lines(load("- a\n- b\n")),
              ::testing::ElementsAre(
                  "1:1: a manifest is a YAML mapping with at least 'version', 'base' and 'output'"));
}

TEST_F(ManifestTest, YamlSyntaxErrorHasPosition) {
  const auto r = load("version: 1\nbase: {path: base.qcow2\noutput: x\n");
  ASSERT_EQ(r.diagnostics.all().size(), 1U);
  EXPECT_THAT(r.diagnostics.all()[0].message, HasSubstr("not valid YAML"));
  EXPECT_GE(r.diagnostics.all()[0].location.line, 2);
}

TEST_F(ManifestTest, DuplicateKeysAreErrors) {
  const auto r = load(std::string(k_minimal) + "version: 1\n");
  EXPECT_THAT(lines(r), ::testing::ElementsAre("9:1: duplicate key 'version' in the top level"));
}

TEST_F(ManifestTest, Contradictions) {
  struct Case {
    std::string yaml;
    std::string expected;
  };
  const std::vector<Case> cases{
      {"output: {path: base.qcow2}\nluks: {recovery: {enabled: true}}\n",
       "3:16: output.path: " + (m_dir / "base.qcow2").string() +
           " is also an input; cvmforge never writes over its inputs"},
      {"output: {path: o.qcow2}\n",
       "3:16: the image could never be unlocked: attestation is off and there is no recovery keyslot"},
      {"output: {path: o.qcow2, size: {size: 4G}}\nluks: {recovery: {enabled: true}}\n",
       "3:38: output.size.size: only used with policy: fixed"},
      {"output: {path: o.qcow2, size: {policy: fixed}}\nluks: {recovery: {enabled: true}}\n",
       "3:40: output.size: policy 'fixed' needs a size"},
      {"output: {path: o.qcow2}\nluks: {key_size: 384, recovery: {enabled: true}}\n",
       "4:18: luks.key_size: 384 bits does not work with aes-xts-plain64"},
      {"output: {path: o.qcow2}\nluks: {recovery: {enabled: true}}\nkey: {source: file}\n",
       "5:15: key: source 'file' needs key.file"},
      {"output: {path: o.qcow2}\nluks: {recovery: {enabled: true}}\nkey: {file: ca.pem}\n",
       "5:13: key.file: only used with source: file"},
      {"output: {path: o.qcow2}\nattestation: {kbs_urls: [\"http://127.0.0.1:8080\"]}\n",
       "4:26: attestation.kbs_urls[0]: plain http is only allowed for the test flavour (tee: sample)"},
      {"output: {path: o.qcow2}\nattestation: {kbs_urls: [\"https://kbs\"]}\n",
       "4:25: attestation: https KBS URLs need ca_cert"},
      {"output: {path: o.qcow2}\nattestation: {kbs_urls: []}\nluks: {recovery: {enabled: true}}\n",
       "4:25: attestation: at least one KBS URL is needed in kbs_urls"},
      {"output: {path: o.qcow2}\nluks: {recovery: {enabled: true}}\nboot: {cmdline_add: [root=/dev/sda1]}\n",
       "5:22: boot.cmdline_add[0]: 'root=/dev/sda1' is set by cvmforge (root unlock and fail-closed boot)"},
      {"output: {path: o.qcow2}\nluks: {recovery: {enabled: true}}\nfiles: [{source: motd, dest: "
       "etc/motd}]\n",
       "5:30: files[0].dest: 'etc/motd' must be an absolute file path without '..'"},
      {"output: {path: o.qcow2}\nluks: {recovery: {enabled: true}}\nfiles: [{source: motd, dest: /boot/x}]\n",
       "5:30: files[0].dest: '/boot/x' is outside the encrypted root filesystem"},
      {"output: {path: o.qcow2}\nluks: {recovery: {enabled: true}}\nmeasurement: {profile: smal, profiles: "
       "{small: {}}}\n",
       "5:24: measurement.profile: no profile named 'smal'"},
      {"output: {path: o.qcow2}\nluks: {recovery: {enabled: true}}\nmeasurement: {profile: p, profiles: {p: "
       "{firmware: ca.pem}}}\n",
       "5:38: measurement.profiles.p: the build's profile needs ovmf_version (the event layout depends on "
       "it)"},
      {"output: {path: o.qcow2}\nluks: {recovery: {enabled: true}}\nmeasurement: {profile: p, profiles: {p: "
       "{ovmf_version: edk2-stable202211}}}\n",
       "5:38: measurement.profiles.p: the build's profile needs firmware (the TDVF/OVMF file the TD boots)"},
      {"output: {path: o.qcow2}\nluks: {recovery: {enabled: false, passphrase_file: ca.pem}}\nattestation: "
       "{kbs_urls: "
       "[\"https://k\"], ca_cert: ca.pem}\n",
       "4:52: luks.recovery: settings given but the recovery keyslot is not enabled"},
      {"output: {path: o.qcow2}\nluks: {pbkdf: {type: pbkdf2, memory_kib: 1024}, recovery: {enabled: "
       "true}}\n",
       "4:42: luks.pbkdf: memory_kib and parallel apply to argon2 only"},
  };
  for (const auto &c : cases) {
    const auto r = load("version: 1\nbase: {path: base.qcow2}\n" + c.yaml);
    EXPECT_THAT(lines(r), ::testing::ElementsAre(c.expected)) << c.yaml;
  }
}

TEST_F(ManifestTest, FileModesMustBeQuotedOctal) {
  const auto r = load(std::string(k_minimal) + "files: [{source: motd, dest: /etc/motd, mode: 644}]\n");
  ASSERT_EQ(r.diagnostics.all().size(), 1U);
  EXPECT_EQ(r.diagnostics.all()[0].message, "files[0].mode: expected a quoted octal mode, got '644'");
  EXPECT_EQ(r.diagnostics.all()[0].hint, "write modes as quoted octal strings, e.g. \"0644\"");
}

TEST_F(ManifestTest, LocationsAreRecordedForLaterStages) {
  const auto r = load(k_minimal);
  ASSERT_TRUE(r.manifest);
  const auto loc = r.manifest->where("base.path");
  EXPECT_EQ(loc.line, 3);
  EXPECT_EQ(loc.column, 9);
  EXPECT_EQ(r.manifest->where("no.such.key").line, 1);
}

namespace {

// Attested (test flavour, so no CA or binding rules) with a volumes list from line 6.
const char *const k_attested = "version: 1\n"
                               "base: {path: base.qcow2}\n"
                               "output: {path: out/cvm.qcow2}\n"
                               "attestation: {kbs_urls: [\"http://127.0.0.1:8080\"], tee: sample}\n"
                               "volumes:\n";

} // namespace

TEST_F(ManifestTest, VolumesGetDefaults) {
  stdfs::create_directories(m_dir / "data-src");
  const auto r = load(std::string(k_attested) + "  - name: data\n"
                                                "    mount: /srv/data\n"
                                                "    size: 10G\n"
                                                "    source: data-src\n"
                                                "  - name: logs\n"
                                                "    kind: built\n"
                                                "    mount: /var/log/app\n"
                                                "    filesystem: xfs\n"
                                                "    size: 1G\n"
                                                "    mount_options: [noatime, \"commit=30\"]\n"
                                                "    required: false\n"
                                                "    resource_path: default/other/logs\n"
                                                "    output: vols/logs.qcow2\n"
                                                "    key_file: keys/logs.key\n");
  ASSERT_TRUE(r.manifest) << (r.diagnostics.all().empty() ? "" : r.diagnostics.all()[0].format());
  const auto &man = *r.manifest;
  ASSERT_EQ(man.volumes.size(), 2U);
  const auto &d = man.volumes[0];
  EXPECT_EQ(d.name, "data");
  EXPECT_EQ(d.kind, m::VolumeKind::built);
  EXPECT_EQ(d.mount, "/srv/data");
  EXPECT_EQ(d.filesystem, m::Filesystem::ext4);
  EXPECT_EQ(d.size_bytes, 10ULL << 30U);
  EXPECT_TRUE(d.mount_options.empty());
  EXPECT_TRUE(d.required);
  EXPECT_EQ(d.source, m_dir / "data-src");
  EXPECT_EQ(d.output, m_dir / "out/cvm.data.qcow2");
  EXPECT_EQ(d.key_file, m_dir / "out/cvm.data.qcow2.key");
  EXPECT_EQ(man.attestation.resource_path, "default/cvmforge/cvm");
  EXPECT_EQ(d.resource_path, "default/cvmforge/cvm-data");
  EXPECT_EQ(d.mapper_name, "cvmvol-data");
  EXPECT_EQ(d.label, "cvmforge-data");
  const auto &l = man.volumes[1];
  EXPECT_EQ(l.filesystem, m::Filesystem::xfs);
  EXPECT_EQ(l.mount_options, (std::vector<std::string>{"noatime", "commit=30"}));
  EXPECT_FALSE(l.required);
  EXPECT_EQ(l.resource_path, "default/other/logs");
  EXPECT_EQ(l.source, std::nullopt);
  EXPECT_EQ(l.output, m_dir / "vols/logs.qcow2");
  EXPECT_EQ(l.key_file, m_dir / "keys/logs.key");
  EXPECT_EQ(man.where("volumes[1].mount").line, 12);

  const auto j = m::to_json(man);
  ASSERT_EQ(j["volumes"].size(), 2U);
  EXPECT_EQ(j["volumes"][0]["name"], "data");
  EXPECT_EQ(j["volumes"][0]["kind"], "built");
  EXPECT_EQ(j["volumes"][0]["filesystem"], "ext4");
  EXPECT_EQ(j["volumes"][0]["size"], 10ULL << 30U);
  EXPECT_EQ(j["volumes"][0]["source"], (m_dir / "data-src").string());
  EXPECT_EQ(j["volumes"][0]["output"], (m_dir / "out/cvm.data.qcow2").string());
  EXPECT_EQ(j["volumes"][0]["key_file"], (m_dir / "out/cvm.data.qcow2.key").string());
  EXPECT_EQ(j["volumes"][0]["resource_path"], "default/cvmforge/cvm-data");
  EXPECT_EQ(j["volumes"][0]["mapper_name"], "cvmvol-data");
  EXPECT_EQ(j["volumes"][0]["label"], "cvmforge-data");
  EXPECT_EQ(j["volumes"][1]["filesystem"], "xfs");
  EXPECT_EQ(j["volumes"][1]["mount_options"][1], "commit=30");
  EXPECT_EQ(j["volumes"][1]["required"], false);
  EXPECT_TRUE(j["volumes"][1]["source"].is_null());
  // Keys in file order after "files".
  std::vector<std::string> keys;
  for (const auto &[k, v] : j.items()) {
    keys.push_back(k);
  }
  const auto files = std::find(keys.begin(), keys.end(), "files");
  ASSERT_NE(files, keys.end());
  EXPECT_EQ(*(files + 1), "volumes");
  EXPECT_TRUE(m::to_json(*load(k_minimal).manifest)["volumes"].empty());
}

TEST_F(ManifestTest, VolumeErrors) {
  write("motd", "hello\n");
  struct Case {
    std::string volumes; // from line 6
    std::vector<std::string> expected;
    std::string hint = {}; // of the first diagnostic, if given
  };
  const std::vector<Case> cases{
      {"  - {name: data, mount: /srv/data, size: 1G, mountoptions: [noatime]}\n",
       {"6:46: unknown key 'mountoptions' in volumes[0]"},
       "did you mean 'mount_options'?"},
      {"  - {name: Data, mount: /srv/data, size: 1G}\n",
       {"6:12: volumes[0].name: 'Data' is not a valid volume name"}},
      {"  - {name: a-very-long-volume-name-123, mount: /srv/data, size: 1G}\n",
       {"6:12: volumes[0].name: 'a-very-long-volume-name-123' is not a valid volume name"}},
      {"  - {name: data}\n",
       {"6:5: missing required key 'mount' in volumes[0]", "6:5: missing required key 'size' in volumes[0]"}},
      {"  - mount: /srv/data\n    size: 1G\n", {"6:5: missing required key 'name' in volumes[0]"}},
      {"  - {name: data, kind: imported, mount: /srv/data, size: 1G}\n",
       {"6:24: volumes[0].kind: 'imported' is not supported"},
       "built is the only kind this version makes (cvmforge build writes the volume's disk)"},
      {"  - {name: data, mount: /, size: 1G}\n", {"6:25: volumes[0].mount: a volume cannot be mounted on /"}},
      {"  - {name: data, mount: /boot/x, size: 1G}\n",
       {"6:25: volumes[0].mount: '/boot/x' is in /boot, which is not the encrypted root's to hand out"},
       "not allowed: /boot, /efi, /proc, /sys, /dev, /run, /tmp and anything below them"},
      {"  - {name: data, mount: /run, size: 1G}\n",
       {"6:25: volumes[0].mount: '/run' is in /run, which is not the encrypted root's to hand out"}},
      {"  - {name: data, mount: /srv/../etc, size: 1G}\n",
       {"6:25: volumes[0].mount: '/srv/../etc' must be an absolute, normalised path"}},
      {"  - {name: data, mount: srv/data/, size: 1G}\n",
       {"6:25: volumes[0].mount: 'srv/data/' must be an absolute, normalised path"}},
      {"  - {name: a, mount: /srv/data, size: 1G}\n  - {name: b, mount: /srv/data, size: 1G}\n",
       {"7:22: volumes[1].mount: '/srv/data' is already the mount point of volumes[0]"}},
      {"  - {name: a, mount: /srv/a, size: 1G}\n  - {name: a, mount: /srv/b, size: 1G}\n",
       {"7:12: volumes[1].name: 'a' is already the name of volumes[0]"}},
      {"  - {name: data, mount: /srv/data, size: 32M}\n",
       {"6:42: volumes[0].size: 32M is out of range"},
       "allowed: 64M to 64T"},
      {"  - {name: data, mount: /srv/data, filesystem: xfs, size: 256M}\n",
       {"6:59: volumes[0].size: 256M is too small for xfs"},
       "mkfs.xfs needs at least 300M; use a larger size or filesystem: ext4"},
      {"  - {name: data, mount: /srv/data, filesystem: btrfs, size: 1G}\n",
       {"6:48: volumes[0].filesystem: 'btrfs' is not supported"}},
      {"  - {name: data, mount: /srv/data, size: 1G, mount_options: [\"noatime nodev\"]}\n",
       {"6:62: volumes[0].mount_options[0]: 'noatime nodev' is not a mount option"}},
      {"  - {name: data, mount: /srv/data, size: 1G, mount_options: [\",\"]}\n",
       {"6:62: volumes[0].mount_options[0]: ',' is not a mount option"}},
      {"  - {name: data, mount: /srv/data, size: 1G, source: motd}\n",
       {"6:54: volumes[0].source: " + (m_dir / "motd").string() + " is not a directory"}},
      {"  - {name: data, mount: /srv/data, size: 1G, source: nowhere}\n",
       {"6:54: volumes[0].source: " + (m_dir / "nowhere").string() + " does not exist"}},
      {"  - {name: data, mount: /srv/data, size: 1G, output: out/cvm.qcow2.key}\n",
       {"6:54: volumes[0].output: " + (m_dir / "out/cvm.qcow2.key").string() + " is also output.key_file"},
       "every file a build writes needs its own path"},
      {"  - {name: data, mount: /srv/data, size: 1G, key_file: base.qcow2}\n",
       {"6:56: volumes[0].key_file: " + (m_dir / "base.qcow2").string() +
        " is also an input (base.path); cvmforge never writes over its inputs"}},
      {"  - {name: a, mount: /srv/a, size: 1G, output: out/cvm.b.qcow2}\n"
       "  - {name: b, mount: /srv/b, size: 1G}\n",
       // b's default output is taken: reported at the item (the name it derives from).
       {"7:5: volumes[1].output: " + (m_dir / "out/cvm.b.qcow2").string() + " is also volumes[0].output"}},
      {"  - {name: a, mount: /srv/a, size: 1G, resource_path: default/x/y}\n"
       "  - {name: b, mount: /srv/b, size: 1G, resource_path: default/x/y}\n",
       {"7:55: volumes[1].resource_path: 'default/x/y' is also volumes[0].resource_path"},
       "each volume's key is its own KBS resource"},
      {"  - {name: a, mount: /srv/a, size: 1G, resource_path: default/cvmforge/cvm}\n",
       {"6:55: volumes[0].resource_path: 'default/cvmforge/cvm' is also attestation.resource_path"}},
      {"  - {name: a, mount: /srv/a, size: 1G, resource_path: cvm-a}\n",
       {"6:55: volumes[0].resource_path: 'cvm-a' is not a KBS resource path"},
       "write repository/type/tag, e.g. default/cvmforge/disk-key"},
      {"  - {name: root, mount: /srv/a, size: 1G}\n",
       {"6:12: volumes[0].name: 'root' gives the LUKS2 label 'cvmforge-root' and mapper name 'cvmvol-root', "
        "which the root volume uses"}},
      {"  - [data]\n", {"6:5: volumes[0]: expected a mapping, got a list"}},
  };
  for (const auto &c : cases) {
    const auto r = load(std::string(k_attested) + c.volumes);
    EXPECT_THAT(lines(r), ::testing::ElementsAreArray(c.expected)) << c.volumes;
    if (!c.hint.empty() && !r.diagnostics.all().empty()) {
      EXPECT_EQ(r.diagnostics.all()[0].hint, c.hint) << c.volumes;
    }
  }
}

TEST_F(ManifestTest, VolumesNeedAttestation) {
  const auto r = load(std::string(k_minimal) + "volumes:\n  - {name: data, mount: /srv/data, size: 1G}\n");
  EXPECT_THAT(lines(r), ::testing::ElementsAre("10:3: volumes: data volumes need attestation"));
  ASSERT_EQ(r.diagnostics.all().size(), 1U);
  EXPECT_THAT(r.diagnostics.all()[0].hint, HasSubstr("released by the KBS"));
}

TEST_F(ManifestTest, VolumeSourceUncheckedWithoutFileChecks) {
  m::LoadOptions lo;
  lo.check_files = false;
  const auto r = m::load_from_string(std::string(k_attested) +
                                         "  - {name: data, mount: /srv/data, size: 1G, source: nowhere}\n",
                                     m_dir / "manifest.yaml",
                                     lo);
  ASSERT_TRUE(r.manifest);
  EXPECT_EQ(r.manifest->volumes[0].source, m_dir / "nowhere");
}
