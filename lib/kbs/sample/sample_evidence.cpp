// SPDX-License-Identifier: Apache-2.0
#include "lib/kbs/sample/sample_evidence.hpp"

#include "lib/util/base64.hpp"
#include "lib/util/log.hpp"

namespace cvm::kbs {

std::string
SampleEvidenceProvider::tee() const {
  return "sample";
}

void
SampleEvidenceProvider::preflight() {
  log::warning("TEST FLAVOUR: using sample evidence, which proves nothing");
}

nlohmann::json
SampleEvidenceProvider::primary_evidence(std::span<const std::byte> digest) {
  return nlohmann::json{{"svn", "1"}, {"report_data", base64_encode(digest)}};
}

bool
SampleEvidenceProvider::close_release_window() {
  return false;
}

} // namespace cvm::kbs
