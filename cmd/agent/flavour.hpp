// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/kbs/agent_config.hpp"
#include "lib/kbs/evidence.hpp"

#include <memory>
#include <string_view>

// What differs between cvmforge-agent (production) and cvmforge-agent-test.
// Each flavour is one source file (flavour_production.cpp or
// flavour_test.cpp); only the test one references sample evidence.
namespace cvm::agent {

// "production" or "test".
std::string_view flavour_name() noexcept;

// Rejects configuration the flavour does not allow (production: tee other
// than tdx, a "test" section, no luks.header_policy) with
// cvm::Error(usage), then returns the evidence provider.
std::unique_ptr<kbs::EvidenceProvider> make_evidence_provider(const kbs::AgentConfig &config);

// Fault injection, test flavour only (the production one does nothing): if
// the kernel command line (or the file the config's test.cmdline names) has
// cvmforge.test_fault=STAGE:SIGNAL with SIGNAL one of kill, segv, abort, the
// agent dies by that signal when it reaches STAGE ("header-checked",
// "key-received"). The e2e tests use it to show that a killed or crashed
// agent powers the VM off and never leaves a shell.
void fault_point(const kbs::AgentConfig &config, std::string_view stage);

} // namespace cvm::agent
