// SPDX-License-Identifier: Apache-2.0
// cvmforge validate MANIFEST...: parse and check manifests; never opens images.
#include "cmd/app.hpp"
#include "lib/manifest/manifest.hpp"
#include "lib/plan/binding.hpp"
#include "lib/plan/plan.hpp"
#include "lib/util/error.hpp"
#include "lib/util/log.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace cvm::cli {

namespace {

struct ValidateOptions {
  std::vector<std::string> manifests;
  bool no_file_checks = false;
};

int
run_validate(const ValidateOptions &o, const GlobalOptions &g) {
  manifest::LoadOptions lo;
  lo.check_files = !o.no_file_checks;
  bool all_valid = true;
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const auto &path : o.manifests) {
    const auto result = plan::load_checked(path, lo);
    nlohmann::ordered_json diags = nlohmann::ordered_json::array();
    for (const auto &d : result.diagnostics.all()) {
      fmt::print(stderr, "{}\n", d.format());
      diags.push_back(
          {{"file", d.location.file},
           {"line", d.location.line},
           {"column", d.location.column},
           {"severity", d.severity == manifest::Severity::error ? "error" : "warning"},
           {"message", d.message},
           {"hint", d.hint.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(d.hint)}});
    }
    const bool valid = result.manifest.has_value();
    all_valid = all_valid && valid;
    const bool insecure = valid && plan::insecure_test(*result.manifest);
    if (insecure) {
      log::warning("{}: INSECURE-TEST: attestation.tee is sample (the test agent accepts sample evidence "
                   "from any machine); for tests only, never deploy the image",
                   path);
    }
    if (valid) {
      log::info("{}: valid", path);
    } else {
      const std::size_t n = result.diagnostics.error_count();
      log::info("{}: {} error{}", path, n, n == 1 ? "" : "s");
    }
    results.push_back(
        {{"manifest", path}, {"valid", valid}, {"insecure_test", insecure}, {"diagnostics", diags}});
  }
  if (g.json) {
    fmt::print("{}\n", nlohmann::ordered_json{{"valid", all_valid}, {"manifests", results}}.dump(2));
  }
  return all_valid ? 0 : exit_code(ErrorKind::manifest);
}

} // namespace

void
register_validate(CLI::App &app, const GlobalOptions &global, const std::shared_ptr<Action> &action) {
  auto opts = std::make_shared<ValidateOptions>();
  CLI::App *sub = app.add_subcommand(
      "validate", "Check manifests: every problem, with file:line:column; touches nothing");
  sub->add_option("manifest", opts->manifests, "Manifest file(s)")->required()->type_name("MANIFEST");
  sub->add_flag("--no-file-checks",
                opts->no_file_checks,
                "Do not require referenced input files to exist (syntax and schema only)");
  sub->callback(
      [opts, &global, action]() { *action = [opts, &global]() { return run_validate(*opts, global); }; });
}

} // namespace cvm::cli
