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

} // namespace cvm::agent
