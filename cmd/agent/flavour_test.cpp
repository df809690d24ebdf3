// SPDX-License-Identifier: Apache-2.0
// The test flavour: sample evidence, plain HTTP (cvm_kbs_http_test_flavour),
// and overridable configfs-tsm / CCEL paths for fakes. Never shipped in a
// production image.
#include "cmd/agent/flavour.hpp"
#include "cmd/agent/test_fault.hpp"
#include "lib/kbs/sample/sample_evidence.hpp"
#include "lib/kbs/tdx_evidence.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/log.hpp"

#include <csignal>
#include <filesystem>

namespace cvm::agent {

std::string_view
flavour_name() noexcept {
  return "test";
}

std::unique_ptr<kbs::EvidenceProvider>
make_evidence_provider(const kbs::AgentConfig &config) {
  log::warning("TEST FLAVOUR agent: not for production images");
  if (config.tee == "sample") {
    return std::make_unique<kbs::SampleEvidenceProvider>();
  }
  kbs::TdxPaths paths;
  if (config.test_tsm_report_root) {
    paths.tsm_report_root = *config.test_tsm_report_root;
  }
  if (config.test_ccel) {
    paths.ccel = *config.test_ccel;
  }
  if (config.test_measurements) {
    paths.measurements = *config.test_measurements;
  }
  return std::make_unique<kbs::TdxEvidenceProvider>(paths);
}

void
fault_point(const kbs::AgentConfig &config, std::string_view stage) {
  const std::filesystem::path cmdline = config.test_cmdline.value_or("/proc/cmdline");
  std::error_code ec;
  if (!std::filesystem::exists(cmdline, ec)) {
    return;
  }
  if (const auto signal = test_fault_signal(fs::read_text(cmdline, std::size_t{64} * 1024U), stage)) {
    log::warning("TEST FAULT: dying by signal {} at stage {}", *signal, stage);
    (void)std::signal(*signal, SIG_DFL);
    (void)std::raise(*signal);
  }
}

} // namespace cvm::agent
