// SPDX-License-Identifier: Apache-2.0
#include "lib/kbs/agent_config.hpp"
#include "lib/util/error.hpp"

#include <gtest/gtest.h>

namespace {

using cvm::kbs::agent_config_json;
using cvm::kbs::AgentConfig;
using cvm::kbs::parse_agent_config;

TEST(AgentConfig, FullConfig) {
  const auto config = parse_agent_config(R"({
    "kbs_urls": ["https://kbs1.example:8080", "https://kbs2.example"],
    "ca_cert": "/etc/cvmforge/kbs-ca.pem",
    "resource": "cvmforge/img-1/luks",
    "tee": "tdx",
    "key_size": 32,
    "timeouts": {"connect_ms": 2000, "io_ms": 9000},
    "retries": {"attempts": 3, "initial_backoff_ms": 500, "max_backoff_ms": 4000},
    "luks": {"device": "/dev/vda3", "name": "cryptroot", "header_policy": "/etc/cvmforge/policy.json"}
  })");
  EXPECT_EQ(config.kbs_urls.size(), 2U);
  EXPECT_EQ(config.ca_cert, std::filesystem::path("/etc/cvmforge/kbs-ca.pem"));
  EXPECT_EQ(config.http.ca_file, config.ca_cert);
  EXPECT_EQ(config.resource.str(), "cvmforge/img-1/luks");
  EXPECT_EQ(config.key_size, 32U);
  EXPECT_EQ(config.http.connect_timeout.count(), 2000);
  EXPECT_EQ(config.http.io_timeout.count(), 9000);
  EXPECT_EQ(config.retry.attempts, 3U);
  EXPECT_EQ(config.retry.initial_backoff.count(), 500);
  EXPECT_EQ(config.retry.max_backoff.count(), 4000);
  ASSERT_TRUE(config.luks);
  EXPECT_EQ(config.luks->name, "cryptroot");
  EXPECT_FALSE(config.has_test_section);
}

TEST(AgentConfig, Defaults) {
  const auto config =
      parse_agent_config(R"({"kbs_urls": ["https://k"], "ca_cert": "/ca.pem", "resource": "a/b/c"})");
  EXPECT_EQ(config.tee, "tdx");
  EXPECT_EQ(config.key_size, 64U);
  EXPECT_EQ(config.retry.attempts, 5U);
  EXPECT_FALSE(config.luks);
}

TEST(AgentConfig, RejectsMistakes) {
  const char *bad[] = {
      R"([])",
      R"({"kbs_urls": [], "ca_cert": "/ca", "resource": "a/b/c"})",
      R"({"kbs_urls": ["https://k"], "resource": "a/b/c"})", // https without CA
      R"({"kbs_urls": ["https://k"], "ca_cert": "/ca", "resource": "a/b"})",
      R"({"kbs_urls": ["https://k"], "ca_cert": "/ca", "resource": "a/b/c", "tee": "snp"})",
      R"({"kbs_urls": ["https://k"], "ca_cert": "/ca", "resource": "a/b/c", "kbs_url": "x"})", // typo
      R"({"kbs_urls": ["https://k"], "ca_cert": "/ca", "resource": "a/b/c", "retries": {"attempts": 0}})",
      R"({"kbs_urls": ["https://k"], "ca_cert": "/ca", "resource": "a/b/c", "timeouts": {"io_ms": -1}})",
      R"({"kbs_urls": ["https://k"], "ca_cert": "/ca", "resource": "a/b/c", "luks": {"device": "/d"}})",
      "not json",
  };
  for (const char *text : bad) {
    try {
      (void)parse_agent_config(text);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const cvm::Error &e) {
      EXPECT_EQ(e.kind(), cvm::ErrorKind::usage) << text;
    }
  }
}

TEST(AgentConfig, VolumesAreCheckedMemberByMember) {
  const std::string head = R"({"kbs_urls": ["http://k"], "resource": "a/b/root",
    "luks": {"device": "/dev/r", "name": "cvmroot"}, "volumes": )";
  const std::string good =
      R"({"name": "data", "resource": "a/b/data", "device": "/dev/disk/by-uuid/x", "mapper_name": "cvmvol-data",
          "header_policy": "/etc/p.json", "header_copy": "/run/cvmforge/volumes/data.luks2")";
  const auto config = parse_agent_config(head + "[" + good + "}]}");
  ASSERT_EQ(config.volumes.size(), 1U);
  EXPECT_TRUE(config.volumes[0].required) << "required unless said otherwise";
  EXPECT_EQ(config.volumes[0].key_size, 64U);
  const std::string bad[] = {
      R"({"name": "data")",                                               // members missing
      good + R"(, "required": "yes")",                                    // not a boolean
      good + R"(, "mount": "/srv")",                                      // unknown member
      good + R"(, "key_size": 5000)",                                     // out of range
      std::string(good).replace(good.find("a/b/data"), 8, "a/b"),         // not repo/type/tag
      std::string(good).replace(good.find("/etc/p.json"), 11, "p.json"),  // relative path
      std::string(good).replace(good.find("a/b/data"), 8, "a/b/root"),    // the root's resource
      std::string(good).replace(good.find("cvmvol-data"), 11, "cvmroot"), // the root's mapping
      std::string(good).replace(good.find("cvmvol-data"), 11, "a/b"),     // '/' in a mapper name
      good + R"(, "mount_unit": "srv/data.mount")",                       // not a unit name
      good + R"(, "mount_unit": "srv-data.service")",                     // not a mount unit
  };
  for (const std::string &item : bad) {
    const std::string text = head + "[" + item + "}]}";
    try {
      (void)parse_agent_config(text);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const cvm::Error &e) {
      EXPECT_EQ(e.kind(), cvm::ErrorKind::usage) << text;
      EXPECT_NE(std::string(e.what()).find("volumes[0]"), std::string::npos) << e.what();
    }
  }
  // Two volumes with one mapping.
  EXPECT_THROW((void)parse_agent_config(head + "[" + good + "}, " + good + "}]}"), cvm::Error);
}

TEST(AgentConfig, TestSectionIsRecorded) {
  const auto config = parse_agent_config(
      R"({"kbs_urls": ["http://127.0.0.1:1"], "resource": "a/b/c", "tee": "sample",
        "test": {"tsm_report_root": "/tmp/tsm", "ccel": "/tmp/ccel"}})");
  EXPECT_TRUE(config.has_test_section);
  EXPECT_EQ(config.test_tsm_report_root, std::filesystem::path("/tmp/tsm"));
  EXPECT_FALSE(config.ca_cert);
}

AgentConfig
full_config() {
  AgentConfig c;
  c.kbs_urls = {"https://kbs1.example:8080", "https://kbs2.example"};
  c.ca_cert = "/etc/cvmforge/kbs-ca.pem";
  c.http.ca_file = c.ca_cert;
  c.resource = cvm::kbs::ResourcePath::parse("cvmforge/img-1/luks");
  c.key_size = 32;
  c.http.connect_timeout = std::chrono::milliseconds(2000);
  c.http.io_timeout = std::chrono::milliseconds(9000);
  c.retry.attempts = 3;
  c.retry.initial_backoff = std::chrono::milliseconds(500);
  c.retry.max_backoff = std::chrono::milliseconds(4000);
  c.luks = cvm::kbs::LuksTarget{"/dev/vda3", "cryptroot", "/etc/cvmforge/policy.json", "/run/x/h.luks2"};
  cvm::kbs::VolumeTarget v;
  v.name = "data";
  v.resource = cvm::kbs::ResourcePath::parse("cvmforge/img-1/luks-data");
  v.device = "/dev/disk/by-uuid/33333333-3333-4333-8333-333333333333";
  v.mapper_name = "cvmvol-data";
  v.header_policy = "/etc/cvmforge/volumes/data.json";
  v.header_copy = "/run/cvmforge/volumes/data.luks2";
  v.required = false;
  v.key_size = 32;
  v.mount_unit = "srv-my\\x2ddata.mount";
  c.volumes.push_back(v);
  return c;
}

void
expect_same(const AgentConfig &a, const AgentConfig &b) {
  EXPECT_EQ(a.kbs_urls, b.kbs_urls);
  EXPECT_EQ(a.ca_cert, b.ca_cert);
  EXPECT_EQ(a.http.ca_file, b.http.ca_file);
  EXPECT_EQ(a.resource.str(), b.resource.str());
  EXPECT_EQ(a.tee, b.tee);
  EXPECT_EQ(a.key_size, b.key_size);
  EXPECT_EQ(a.http.connect_timeout, b.http.connect_timeout);
  EXPECT_EQ(a.http.io_timeout, b.http.io_timeout);
  EXPECT_EQ(a.retry.attempts, b.retry.attempts);
  EXPECT_EQ(a.retry.initial_backoff, b.retry.initial_backoff);
  EXPECT_EQ(a.retry.max_backoff, b.retry.max_backoff);
  ASSERT_EQ(a.luks.has_value(), b.luks.has_value());
  if (a.luks) {
    EXPECT_EQ(a.luks->device, b.luks->device);
    EXPECT_EQ(a.luks->name, b.luks->name);
    EXPECT_EQ(a.luks->header_policy, b.luks->header_policy);
    EXPECT_EQ(a.luks->header_copy, b.luks->header_copy);
  }
  ASSERT_EQ(a.volumes.size(), b.volumes.size());
  for (std::size_t i = 0; i < a.volumes.size(); ++i) {
    EXPECT_EQ(a.volumes[i].name, b.volumes[i].name);
    EXPECT_EQ(a.volumes[i].resource.str(), b.volumes[i].resource.str());
    EXPECT_EQ(a.volumes[i].device, b.volumes[i].device);
    EXPECT_EQ(a.volumes[i].mapper_name, b.volumes[i].mapper_name);
    EXPECT_EQ(a.volumes[i].header_policy, b.volumes[i].header_policy);
    EXPECT_EQ(a.volumes[i].header_copy, b.volumes[i].header_copy);
    EXPECT_EQ(a.volumes[i].required, b.volumes[i].required);
    EXPECT_EQ(a.volumes[i].key_size, b.volumes[i].key_size);
    EXPECT_EQ(a.volumes[i].mount_unit, b.volumes[i].mount_unit);
  }
  EXPECT_EQ(a.has_test_section, b.has_test_section);
  EXPECT_EQ(a.test_tsm_report_root, b.test_tsm_report_root);
  EXPECT_EQ(a.test_ccel, b.test_ccel);
  EXPECT_EQ(a.test_measurements, b.test_measurements);
  EXPECT_EQ(a.test_cmdline, b.test_cmdline);
}

TEST(AgentConfig, WriteThenParseGivesTheConfigBack) {
  const auto config = full_config();
  const std::string text = agent_config_json(config);
  expect_same(parse_agent_config(text), config);
  EXPECT_EQ(agent_config_json(parse_agent_config(text)), text) << "the text is stable too";
  EXPECT_EQ(text.back(), '\n');
}

TEST(AgentConfig, WriteThenParseOptionalParts) {
  AgentConfig minimal;
  minimal.kbs_urls = {"http://127.0.0.1:1"};
  minimal.resource = cvm::kbs::ResourcePath::parse("a/b/c");
  minimal.tee = "sample";
  const std::string text = agent_config_json(minimal);
  EXPECT_EQ(text.find("ca_cert"), std::string::npos);
  EXPECT_EQ(text.find("luks"), std::string::npos);
  EXPECT_EQ(text.find("test"), std::string::npos);
  expect_same(parse_agent_config(text), minimal);

  auto with_test = minimal;
  with_test.has_test_section = true;
  with_test.test_ccel = "/tmp/ccel";
  with_test.test_cmdline = "/tmp/cmdline";
  with_test.luks = cvm::kbs::LuksTarget{"/dev/vda3", "root", std::nullopt, "/run/h"};
  expect_same(parse_agent_config(agent_config_json(with_test)), with_test);
}

TEST(AgentConfig, EveryDefaultSurvivesTheRoundTrip) {
  AgentConfig defaults;
  defaults.kbs_urls = {"http://k"};
  defaults.resource = cvm::kbs::ResourcePath::parse("a/b/c");
  expect_same(parse_agent_config(agent_config_json(defaults)), defaults);
}

} // namespace
