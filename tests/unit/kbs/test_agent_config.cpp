// SPDX-License-Identifier: Apache-2.0
#include "lib/kbs/agent_config.hpp"
#include "lib/util/error.hpp"

#include <gtest/gtest.h>

namespace {

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

TEST(AgentConfig, TestSectionIsRecorded) {
  const auto config = parse_agent_config(
      R"({"kbs_urls": ["http://127.0.0.1:1"], "resource": "a/b/c", "tee": "sample",
        "test": {"tsm_report_root": "/tmp/tsm", "ccel": "/tmp/ccel"}})");
  EXPECT_TRUE(config.has_test_section);
  EXPECT_EQ(config.test_tsm_report_root, std::filesystem::path("/tmp/tsm"));
  EXPECT_FALSE(config.ca_cert);
}

} // namespace
