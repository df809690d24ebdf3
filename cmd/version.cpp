// SPDX-License-Identifier: Apache-2.0
#include "cmd/app.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace cvm::cli {

void
register_version(CLI::App &app, const GlobalOptions &global, const std::shared_ptr<Action> &action) {
  CLI::App *sub = app.add_subcommand("version", "Print the cvmforge version and build features");
  sub->callback([&global, action]() {
    *action = [&global]() {
#ifdef CVM_WITH_IMAGE
      constexpr bool with_image = true;
#else
      constexpr bool with_image = false;
#endif
      if (global.json) {
        fmt::print("{}\n",
                   nlohmann::ordered_json{
                       {"version", CVM_VERSION}, {"manifest_schema", 1}, {"image_pipeline", with_image}}
                       .dump(2));
      } else {
        fmt::print("cvmforge {}\nmanifest schema: 1\nimage pipeline: {}\n",
                   CVM_VERSION,
                   with_image ? "yes" : "no (built with CVM_WITH_IMAGE=OFF)");
      }
      return 0;
    };
  });
}

} // namespace cvm::cli
