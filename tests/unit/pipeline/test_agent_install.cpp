// SPDX-License-Identifier: Apache-2.0
// inject-agent's pieces (lib/pipeline/agent_install.hpp) and configure-boot's
// attestation case against an in-memory guest; every initramfs template
// renders with exactly its documented variables.
#include "lib/pipeline/agent_install.hpp"
#include "lib/pipeline/stages.hpp"
#include "lib/template/template.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "tests/unit/fakes/fake_guest.hpp"
#include "tests/unit/pipeline/fake_bundle.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

using namespace cvm;
using cvm::pipeline::test::FakeBundle;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

constexpr const char *k_uuid = "11111111-2222-8333-8444-555555555555";

// The generator a backend name (as the tests loop over them) stands for.
cvm::manifest::InitramfsGenerator
generator(std::string_view name) {
  return name == "dracut" ? cvm::manifest::InitramfsGenerator::dracut
                          : cvm::manifest::InitramfsGenerator::initramfs_tools;
}

manifest::Manifest
sample_manifest() {
  manifest::Manifest m;
  m.attestation.enabled = true;
  m.attestation.tee = manifest::Tee::sample;
  m.attestation.kbs_urls = {"http://10.0.2.100:8080"};
  m.attestation.resource_path = "default/cvmforge/test-sample";
  m.attestation.timeouts.connect_s = 5;
  m.attestation.timeouts.request_s = 10;
  m.attestation.timeouts.total_s = 60;
  m.attestation.retries.attempts = 3;
  m.attestation.retries.backoff_initial_ms = 200;
  m.attestation.retries.backoff_max_ms = 2000;
  m.output.key_file = "/out/test-sample.qcow2.key";
  return m;
}

} // namespace

TEST(AgentInstall, FlavourFollowsTee) {
  auto m = sample_manifest();
  EXPECT_EQ(pipeline::agent::flavour_for(m.attestation).name, "cvmforge-agent-test");
  EXPECT_TRUE(pipeline::agent::flavour_for(m.attestation).insecure_test);
  m.attestation.tee = manifest::Tee::tdx;
  EXPECT_EQ(pipeline::agent::flavour_for(m.attestation).name, "cvmforge-agent");
  EXPECT_FALSE(pipeline::agent::flavour_for(m.attestation).insecure_test);
  EXPECT_EQ(pipeline::agent::flavour_for(m.attestation).guest_binary(),
            "/usr/lib/cvmforge-agent/cvmforge-agent/cvmforge-agent");
}

TEST(AgentInstall, FindBundleUsesConfiguredDirAndFailsClearly) {
  FakeBundle fb;
  const auto m = sample_manifest();
  const auto flavour = pipeline::agent::flavour_for(m.attestation);
  try {
    (void)pipeline::agent::find_bundle(fb.dir.path(), flavour);
    ADD_FAILURE() << "missing bundle accepted";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::input);
    EXPECT_THAT(e.what(), HasSubstr("cvmforge-agent-test"));
    EXPECT_THAT(e.what(), HasSubstr("CVMFORGE_AGENT_DIR"));
  }
  fb.make("cvmforge-agent-test");
  EXPECT_EQ(pipeline::agent::find_bundle(fb.dir.path(), flavour).filename(), "cvmforge-agent-test");
  // The production flavour is never replaced by the test one.
  EXPECT_THROW((void)pipeline::agent::find_bundle(fb.dir.path(), {"cvmforge-agent", false}), Error);
  ::setenv("CVMFORGE_AGENT_DIR", fb.dir.path().c_str(), 1);
  EXPECT_NO_THROW((void)pipeline::agent::find_bundle({}, flavour));
  ::unsetenv("CVMFORGE_AGENT_DIR");
}

TEST(AgentInstall, RtmrExtensionNeedsLinux616) {
  EXPECT_EQ(pipeline::agent::kernel_can_extend_rtmr("6.1.0-50-cloud-amd64"), false); // Debian 12
  EXPECT_EQ(pipeline::agent::kernel_can_extend_rtmr("6.12.57+deb13-cloud-amd64"), false);
  EXPECT_EQ(pipeline::agent::kernel_can_extend_rtmr("5.10.0-35-cloud-amd64"), false);
  EXPECT_EQ(pipeline::agent::kernel_can_extend_rtmr("6.16.0"), true);
  EXPECT_EQ(pipeline::agent::kernel_can_extend_rtmr("6.17.8+deb14-amd64"), true);
  EXPECT_EQ(pipeline::agent::kernel_can_extend_rtmr("7.0"), true);
  EXPECT_EQ(pipeline::agent::kernel_can_extend_rtmr("vmlinuz"), std::nullopt);
  EXPECT_EQ(pipeline::agent::kernel_can_extend_rtmr("6"), std::nullopt);
  EXPECT_EQ(pipeline::agent::kernel_can_extend_rtmr(""), std::nullopt);
}

TEST(AgentInstall, ConfigJsonComesFromTheManifest) {
  auto m = sample_manifest();
  m.luks.mapper_name = "cvmroot";
  const auto j = nlohmann::json::parse(pipeline::agent::agent_config_json(m, k_uuid, 64));
  EXPECT_EQ(j["kbs_urls"][0], "http://10.0.2.100:8080");
  EXPECT_EQ(j["resource"], "default/cvmforge/test-sample");
  EXPECT_EQ(j["tee"], "sample");
  EXPECT_EQ(j["key_size"], 64);
  EXPECT_EQ(j["timeouts"]["connect_ms"], 5000);
  EXPECT_EQ(j["timeouts"]["io_ms"], 10000);
  EXPECT_EQ(j["retries"]["attempts"], 3);
  EXPECT_EQ(j["retries"]["initial_backoff_ms"], 200);
  EXPECT_EQ(j["retries"]["max_backoff_ms"], 2000);
  EXPECT_EQ(j["luks"]["device"], std::string("/dev/disk/by-uuid/") + k_uuid);
  EXPECT_EQ(j["luks"]["name"], "cvmroot");
  EXPECT_EQ(j["luks"]["header_policy"], "/etc/cvmforge/luks-header-policy.json");
  EXPECT_EQ(j["luks"]["header_copy"], "/run/cvmforge/header.luks2");
  EXPECT_FALSE(j.contains("ca_cert"));
  m.attestation.ca_cert = "/host/ca.pem";
  EXPECT_EQ(nlohmann::json::parse(pipeline::agent::agent_config_json(m, k_uuid, 64))["ca_cert"],
            "/etc/cvmforge/kbs-ca.pem");
}

TEST(AgentInstall, KernelParametersPerBackend) {
  const std::vector<std::string> dracut = {"root=/dev/mapper/cvmroot",
                                           std::string("rd.luks.name=") + k_uuid + "=cvmroot",
                                           "rd.shell=0",
                                           "rd.emergency=poweroff",
                                           "console=ttyS0"};
  const auto d = pipeline::agent::attestation_kernel_parameters(generator("dracut"), dracut);
  EXPECT_THAT(d, Contains("rd.luks=0"));
  EXPECT_THAT(d, Contains("rd.neednet=1"));
  EXPECT_THAT(d, Contains("ip=dhcp"));
  EXPECT_THAT(d, Contains("rd.shell=0"));
  EXPECT_THAT(d, Contains("rd.emergency=poweroff"));
  for (const auto &p : d) {
    EXPECT_FALSE(p.starts_with("rd.luks.name=")) << p;
  }
  const auto i = pipeline::agent::attestation_kernel_parameters(
      generator("initramfs-tools"), {"root=/dev/mapper/cvmroot", "panic=-1", "console=ttyS0"});
  EXPECT_EQ(i,
            (std::vector<std::string>{"root=/dev/mapper/cvmroot", "panic=-1", "console=ttyS0", "ip=dhcp"}));
}

TEST(AgentInstall, KbsInfoNamesResourceAndKeyFile) {
  const auto m = sample_manifest();
  const auto j = pipeline::agent::kbs_info(m, pipeline::agent::flavour_for(m.attestation));
  EXPECT_EQ(j["resource_path"], "default/cvmforge/test-sample");
  EXPECT_EQ(j["key_file"], "/out/test-sample.qcow2.key");
  EXPECT_EQ(j["insecure_test"], true);
  EXPECT_THAT(j["upload"].get<std::string>(), HasSubstr("set-resource --path default/cvmforge/test-sample"));
  EXPECT_THAT(
      j["set_resource_policy"].get<std::string>(),
      HasSubstr("set-resource-policy --policy-file " + pipeline::agent::resource_policy_path(m).string()));
}

// Every file under templates/initramfs is used by exactly one backend, and
// renders with exactly the variables templates_for() gives it.
TEST(AgentTemplates, EveryTemplateRendersWithItsVariables) {
  auto m = sample_manifest();
  m.luks.mapper_name = "cvmroot";
  const auto flavour = pipeline::agent::flavour_for(m.attestation);
  std::set<std::string> used;
  for (const char *backend : {"initramfs-tools", "dracut"}) {
    for (const auto &t : pipeline::agent::templates_for(generator(backend), m, flavour, k_uuid)) {
      EXPECT_TRUE(used.insert(t.source).second) << t.source;
      const auto path = tmpl::templates_dir() / "initramfs" / t.source;
      std::string text;
      ASSERT_NO_THROW(text = tmpl::render_file(path, t.variables)) << t.source;
      EXPECT_THAT(text, Not(HasSubstr("{{"))) << t.source;
      EXPECT_THAT(text, Not(HasSubstr("set -x"))) << t.source;
      // An unknown variable is an error.
      auto extra = t.variables;
      extra["no_such_variable"] = "x";
      EXPECT_THROW((void)tmpl::render_file(path, extra), Error) << t.source;
      // A missing one too.
      if (!t.variables.empty()) {
        auto fewer = t.variables;
        fewer.erase(fewer.begin());
        EXPECT_THROW((void)tmpl::render_file(path, fewer), Error) << t.source;
      }
      if (t.mode == 0755) {
        // Shell syntax of the rendered script.
        fs::TempDir dir("cvm-tmpl");
        const auto out = dir.path() / "script";
        std::ofstream(out) << text;
        const std::string shell = text.starts_with("#!/bin/bash") ? "bash" : "sh";
        EXPECT_EQ(std::system((shell + " -n " + out.string()).c_str()), 0) << t.source; // NOLINT
      }
    }
  }
  std::set<std::string> on_disk;
  for (const auto &e : std::filesystem::recursive_directory_iterator(tmpl::templates_dir() / "initramfs")) {
    if (e.is_regular_file() && e.path().extension() == ".in") {
      on_disk.insert(e.path().lexically_relative(tmpl::templates_dir() / "initramfs").generic_string());
    }
  }
  EXPECT_EQ(on_disk, used);
}

TEST(AgentTemplates, ScriptsRunTheAgentThroughAPipeAndPowerOff) {
  auto m = sample_manifest();
  m.luks.mapper_name = "cvmroot";
  const auto flavour = pipeline::agent::flavour_for(m.attestation);
  for (const auto &t : pipeline::agent::templates_for(generator("initramfs-tools"), m, flavour, k_uuid)) {
    if (t.source != "initramfs-tools/local-top.in") {
      continue;
    }
    const auto text = tmpl::render_file(tmpl::templates_dir() / "initramfs" / t.source, t.variables);
    EXPECT_THAT(text,
                HasSubstr("CVM_AGENT='/usr/lib/cvmforge-agent/cvmforge-agent-test/cvmforge-agent-test'"));
    EXPECT_THAT(text, HasSubstr(std::string("CVM_DEVICE='/dev/disk/by-uuid/") + k_uuid + "'"));
    EXPECT_THAT(text, HasSubstr("--key-stdout"));
    EXPECT_THAT(text, HasSubstr("--key-file=-"));
    EXPECT_THAT(text, HasSubstr("--header \"$CVM_HEADER\""));
    EXPECT_THAT(text, HasSubstr("poweroff -f"));
    EXPECT_THAT(text, Not(HasSubstr(". /run/net-")));
  }
}

// initramfs-tools' /scripts/functions reads DEVICE, IP, ROOT ... from the
// caller's shell, and configure_networking sources the DHCP lease into it. A
// script variable named DEVICE once made configure_networking wait 180 s for
// a network interface called "/dev/disk/by-uuid/...". So: the scripts assign
// only their own names, and configure_networking runs in a subshell.
TEST(AgentTemplates, ScriptsKeepTheirStateOutOfInitramfsToolsNames) {
  const auto m = sample_manifest();
  const auto flavour = pipeline::agent::flavour_for(m.attestation);
  const std::set<std::string> allowed = {"PREREQ", "i"};
  const std::regex assignment(R"(^\s*([A-Za-z_][A-Za-z0-9_]*)=[^)\s]*(\s|$))");
  for (const std::string backend : {"initramfs-tools", "dracut"}) {
    for (const auto &t : pipeline::agent::templates_for(generator(backend), m, flavour, k_uuid)) {
      if (t.source.find("local-top") == std::string::npos &&
          t.source.find("unlock.sh") == std::string::npos) {
        continue;
      }
      SCOPED_TRACE(t.source);
      const auto text = tmpl::render_file(tmpl::templates_dir() / "initramfs" / t.source, t.variables);
      std::istringstream lines(text);
      for (std::string line; std::getline(lines, line);) {
        std::smatch match;
        if (std::regex_search(line, match, assignment)) {
          const auto name = match[1].str();
          EXPECT_TRUE(name.starts_with("CVM_") || allowed.contains(name))
              << "assigns " << name << ": " << line;
        }
        const auto first = line.find_first_not_of(" \t");
        const bool comment = first != std::string::npos && line[first] == '#';
        if (!comment && line.find("configure_networking") != std::string::npos) {
          EXPECT_THAT(line, HasSubstr("(configure_networking)")) << line;
        }
      }
    }
  }
}

TEST(AgentInstall, InstallWritesBundleConfigPolicyTemplatesAndMarker) {
  guestfs::test::FakeGuest g;
  g.add_partition("/dev/sda", 1, "ext4", "root-uuid");
  g.mount("/dev/sda1", "/", guestfs::ReadOnly::no);
  g.mkdir_p("/cvmforge-dst/etc");
  FakeBundle fb;
  const auto bundle = fb.make("cvmforge-agent-test");
  fs::TempDir dir("cvm-ca");
  std::ofstream(dir.path() / "ca.pem") << "-----BEGIN CERTIFICATE-----\n";

  auto m = sample_manifest();
  m.luks.mapper_name = "cvmroot";
  m.attestation.ca_cert = dir.path() / "ca.pem";
  const auto flavour = pipeline::agent::flavour_for(m.attestation);
  const auto templates = pipeline::agent::templates_for(generator("initramfs-tools"), m, flavour, k_uuid);
  pipeline::agent::install(g,
                           "/cvmforge-dst",
                           bundle,
                           flavour,
                           templates,
                           "{\"config\":1}\n",
                           "{\"policy\":1}\n",
                           m.attestation.ca_cert);

  const std::string b = "/cvmforge-dst/usr/lib/cvmforge-agent/cvmforge-agent-test/";
  EXPECT_EQ(g.read_text(b + "cvmforge-agent-test"), "ELF");
  EXPECT_EQ(g.read_text(b + "lib/libc.so.6"), "libc");
  EXPECT_EQ(g.read_text(b + "MANIFEST"), "cvmforge-agent-test\n");
  EXPECT_EQ(g.read_text("/cvmforge-dst/etc/cvmforge/agent.json"), "{\"config\":1}\n");
  EXPECT_EQ(g.read_text("/cvmforge-dst/etc/cvmforge/luks-header-policy.json"), "{\"policy\":1}\n");
  EXPECT_EQ(g.read_text("/cvmforge-dst/etc/cvmforge/kbs-ca.pem"), "-----BEGIN CERTIFICATE-----\n");
  EXPECT_THAT(g.read_text("/cvmforge-dst/etc/cvmforge/INSECURE-TEST"), HasSubstr("INSECURE-TEST"));
  EXPECT_THAT(g.read_text("/cvmforge-dst/etc/initramfs-tools/hooks/cvmforge"), HasSubstr("cp -a"));
  EXPECT_THAT(g.read_text("/cvmforge-dst/etc/initramfs-tools/scripts/local-top/cvmforge"),
              HasSubstr("cryptsetup open"));

  // Production flavour: no marker (and a stale one is removed).
  m.attestation.tee = manifest::Tee::tdx;
  const auto prod = pipeline::agent::flavour_for(m.attestation);
  pipeline::agent::install(g,
                           "/cvmforge-dst",
                           fb.make("cvmforge-agent"),
                           prod,
                           pipeline::agent::templates_for(generator("dracut"), m, prod, k_uuid),
                           "{}\n",
                           "{}\n",
                           std::nullopt);
  EXPECT_FALSE(g.exists("/cvmforge-dst/etc/cvmforge/INSECURE-TEST"));
  EXPECT_TRUE(g.exists("/cvmforge-dst/usr/lib/dracut/modules.d/90cvmforge/module-setup.sh"));
  EXPECT_TRUE(g.exists("/cvmforge-dst/etc/dracut.conf.d/91-cvmforge-agent.conf"));
}

TEST(AgentBoot, AttestedCrypttabHasNoRootEntryAndCmdlineHasNetwork) {
  guestfs::test::FakeGuest g;
  g.add_partition("/dev/sda", 1, "ext4", "root-uuid");
  g.mount("/dev/sda1", "/", guestfs::ReadOnly::no);
  g.mkdir_p("/etc/default");
  g.write_text("/etc/crypttab", "swap /dev/sdb2 /dev/urandom swap\ncvmroot UUID=old none luks\n");
  auto m = sample_manifest();
  m.luks.mapper_name = "cvmroot";
  m.boot.cmdline_add = {"console=ttyS0"};
  pipeline::BuildOptions options;
  for (const char *backend : {"initramfs-tools", "dracut"}) {
    pipeline::BuildContext ctx(m, options);
    ctx.luks_uuid = k_uuid;
    ctx.boot_fs_uuid = "boot-uuid";
    ctx.esp_fs_uuid = "ABCD-1234";
    ctx.facts.esp_mountpoint = "/boot/efi";
    ctx.initramfs_backend = generator(backend);
    pipeline::stages::write_boot_config(ctx, g);
    const auto crypttab = g.read_text("/etc/crypttab");
    EXPECT_THAT(crypttab, HasSubstr("swap /dev/sdb2 /dev/urandom swap\n")) << backend;
    EXPECT_THAT(crypttab, Not(HasSubstr("cvmroot UUID="))) << backend;
    EXPECT_THAT(crypttab, HasSubstr("# cvmroot: opened in the initramfs by cvmforge-agent")) << backend;
    const auto grub = g.read_text("/etc/default/grub.d/90-cvmforge.cfg");
    EXPECT_THAT(grub, HasSubstr("ip=dhcp")) << backend;
    if (std::string(backend) == "dracut") {
      EXPECT_THAT(grub, HasSubstr("rd.neednet=1"));
      EXPECT_THAT(grub, HasSubstr("rd.luks=0"));
      EXPECT_THAT(grub, Not(HasSubstr("rd.luks.name=")));
      EXPECT_THAT(grub, HasSubstr("rd.shell=0 rd.emergency=poweroff"));
    } else {
      EXPECT_THAT(grub, HasSubstr("panic=-1"));
    }
  }
}

// INSECURE-TEST images (tee: sample) keep the policy they always had: affirmed
// sample evidence for this resource path; they have no reference values.
TEST(AgentKbs, SampleResourcePolicyReleasesOnlyThisPathToAffirmedSampleEvidence) {
  auto m = sample_manifest();
  m.attestation.resource_path = "prod/luks/web-1";
  const auto rego = pipeline::agent::resource_policy(m, std::nullopt);
  EXPECT_THAT(rego, HasSubstr("INSECURE-TEST"));
  EXPECT_THAT(rego, HasSubstr("package policy\n"));
  EXPECT_THAT(rego, HasSubstr("default allow := false\n"));
  EXPECT_THAT(rego, HasSubstr(R"(data["resource-path"] == ["prod","luks","web-1"])"));
  EXPECT_THAT(rego, HasSubstr(R"(input.submods.cpu0["ear.status"] == "affirming")"));
  EXPECT_THAT(rego, HasSubstr("[\"sample\"]\n"));
  EXPECT_THAT(rego, HasSubstr("\"sample\" in input.trust_context.attestation_summary.tee_type"));
  EXPECT_THAT(rego, Not(HasSubstr("{{")));
  // Every allow rule is bound to the resource.
  std::size_t rules = 0;
  for (auto pos = rego.find("\nallow if {\n"); pos != std::string::npos;
       pos = rego.find("\nallow if {\n", pos + 1)) {
    ++rules;
    EXPECT_EQ(rego.compare(pos, 32, "\nallow if {\n\tresource_requested\n"), 0) << rego.substr(pos, 40);
  }
  EXPECT_EQ(rules, 2U);
  // Pins, if a caller passes some, change nothing for sample evidence.
  pipeline::agent::PolicyPins pins;
  pins.mrtd = {std::string(96, 'a')};
  pins.rtmr[1] = std::string(96, 'b');
  EXPECT_EQ(pipeline::agent::resource_policy(m, pins), rego);
}
