// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <optional>
#include <string_view>

// Fault injection for the test flavour of the agent (linked into
// cvmforge-agent-test and the unit tests only, never into cvmforge-agent).
namespace cvm::agent {

// The signal `cmdline` (a kernel command line) asks the agent to die by at
// `stage`: the last cvmforge.test_fault=STAGE:SIGNAL word decides, SIGNAL one
// of kill, segv, abort. nullopt if there is none or it names another stage.
// Throws cvm::Error(usage) for a malformed value, so a typo in a test cannot
// silently turn a fault case into a passing boot.
std::optional<int> test_fault_signal(std::string_view cmdline, std::string_view stage);

} // namespace cvm::agent
