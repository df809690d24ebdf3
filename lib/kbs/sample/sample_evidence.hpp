// SPDX-License-Identifier: Apache-2.0
#pragma once

// TEST FLAVOUR ONLY. This file is compiled only into cvm_kbs_sample, which
// only the test-flavour agent and the tests link; the production agent has
// no sample code path: sample evidence proves nothing about the TEE, and
// Trustee's default resource policy refuses it (kbs/sample_policies/default.rego).
#ifndef CVM_AGENT_TEST_FLAVOUR
#error "sample evidence is only available in the test flavour (CVM_AGENT_TEST_FLAVOUR)"
#endif

#include "lib/kbs/evidence.hpp"

namespace cvm::kbs {

// Trustee's "sample" TEE: evidence {"svn":"1","report_data":base64(digest)}
// with the unpadded digest. Proves nothing; KBS default policies reject it.
class SampleEvidenceProvider final : public EvidenceProvider {
public:
  [[nodiscard]] std::string tee() const override;

  // Logs a loud warning; never fails.
  void preflight() override;

  nlohmann::json primary_evidence(std::span<const std::byte> digest) override;

  // The sample TEE has no measurement registers: always false.
  bool close_release_window() override;
};

} // namespace cvm::kbs
