// SPDX-License-Identifier: Apache-2.0
// cvmforge.test_fault= parsing (the test flavour's fault injection).
#include "cmd/agent/test_fault.hpp"
#include "lib/kbs/agent_config.hpp"
#include "lib/util/error.hpp"

#include <gtest/gtest.h>

#include <csignal>

namespace {

using cvm::agent::test_fault_signal;

TEST(AgentTestFault, AbsentMeansNoFault) {
  EXPECT_FALSE(test_fault_signal("", "key-received"));
  EXPECT_FALSE(test_fault_signal("BOOT_IMAGE=/vmlinuz root=/dev/mapper/cvmroot ro\n", "key-received"));
  // Only the exact word counts, not a longer parameter name.
  EXPECT_FALSE(test_fault_signal("xcvmforge.test_fault=key-received:kill", "key-received"));
}

TEST(AgentTestFault, MatchesItsStageOnly) {
  const std::string_view cmdline =
      "root=/dev/mapper/cvmroot cvmforge.test_fault=key-received:kill console=ttyS0\n";
  EXPECT_EQ(test_fault_signal(cmdline, "key-received"), SIGKILL);
  EXPECT_FALSE(test_fault_signal(cmdline, "header-checked"));
  EXPECT_EQ(test_fault_signal("cvmforge.test_fault=header-checked:segv", "header-checked"), SIGSEGV);
  EXPECT_EQ(test_fault_signal("\tcvmforge.test_fault=key-received:abort\n", "key-received"), SIGABRT);
}

TEST(AgentTestFault, LastWordWins) {
  EXPECT_EQ(test_fault_signal("cvmforge.test_fault=key-received:kill cvmforge.test_fault=key-received:segv",
                              "key-received"),
            SIGSEGV);
}

TEST(AgentTestFault, MalformedValuesAreErrorsNotSilentPasses) {
  for (const char *cmdline : {"cvmforge.test_fault=key-received",
                              "cvmforge.test_fault=key-received:term",
                              "cvmforge.test_fault=after-boot:kill",
                              "cvmforge.test_fault="}) {
    try {
      (void)test_fault_signal(cmdline, "key-received");
      ADD_FAILURE() << "accepted: " << cmdline;
    } catch (const cvm::Error &e) {
      EXPECT_EQ(e.kind(), cvm::ErrorKind::usage) << cmdline;
    }
  }
}

TEST(AgentTestFault, ConfigCanNameTheCmdlineFile) {
  const auto config = cvm::kbs::parse_agent_config(
      R"({"kbs_urls": ["http://k"], "resource": "a/b/c", "tee": "sample", "test": {"cmdline": "/tmp/c"}})");
  EXPECT_TRUE(config.has_test_section);
  EXPECT_EQ(config.test_cmdline, std::filesystem::path("/tmp/c"));
}

} // namespace
