// SPDX-License-Identifier: Apache-2.0
// The production flavour: TDX evidence only, https only (cvm_kbs_http).
#include "cmd/agent/flavour.hpp"
#include "lib/kbs/tdx_evidence.hpp"
#include "lib/util/error.hpp"

#ifdef CVM_AGENT_TEST_FLAVOUR
#error "flavour_production.cpp must not be built with CVM_AGENT_TEST_FLAVOUR"
#endif

namespace cvm::agent {

std::string_view
flavour_name() noexcept {
  return "production";
}

std::unique_ptr<kbs::EvidenceProvider>
make_evidence_provider(const kbs::AgentConfig &config) {
  if (config.tee != "tdx") {
    throw Error(ErrorKind::usage, "tee '{}' is not available in the production agent", config.tee);
  }
  if (config.has_test_section) {
    throw Error(ErrorKind::usage, "the config's \"test\" section is accepted only by cvmforge-agent-test");
  }
  // The disk's header is host-controlled: without a policy to check it
  // against, the host could weaken it (cipher_null, an extra keyslot, a
  // token) and still receive the key. Only the test flavour may skip it.
  if (!config.luks || !config.luks->header_policy) {
    throw Error(
        ErrorKind::usage,
        "the production agent requires luks.header_policy (the LUKS2 header is checked before any key "
        "request)");
  }
  return std::make_unique<kbs::TdxEvidenceProvider>();
}

void
fault_point(const kbs::AgentConfig & /*config*/, std::string_view /*stage*/) {
  // No fault injection in production: the stages are markers only.
}

} // namespace cvm::agent
