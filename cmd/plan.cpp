// SPDX-License-Identifier: Apache-2.0
// cvmforge plan MANIFEST: the resolved manifest and the stages `build` would run.
#include "lib/plan/plan.hpp"

#include "cmd/app.hpp"
#include "cmd/manifest_args.hpp"

#include <fmt/core.h>

namespace cvm::cli {

void
register_plan(CLI::App &app, const GlobalOptions &global, const std::shared_ptr<Action> &action) {
  auto path = std::make_shared<std::string>();
  CLI::App *sub =
      app.add_subcommand("plan", "Show the resolved manifest, every file a build writes, and the stages");
  sub->add_option("manifest", *path, "Manifest file")->required()->type_name("MANIFEST");
  sub->callback([path, &global, action]() {
    *action = [path, &global]() {
      const auto plan = plan::make_plan(load_manifest_or_throw(*path));
      if (global.json) {
        fmt::print("{}\n", plan::to_json(plan).dump(2));
      } else {
        fmt::print("{}", plan::to_text(plan));
      }
      return 0;
    };
  });
}

} // namespace cvm::cli
