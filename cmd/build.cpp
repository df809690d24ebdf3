// SPDX-License-Identifier: Apache-2.0
#include "cmd/app.hpp"

#include "lib/util/error.hpp"

namespace cvm::cli {

void
register_build(CLI::App& app, const GlobalOptions& /*global*/, std::shared_ptr<Action> action)
{
  auto args = std::make_shared<std::vector<std::string>>();
  CLI::App* sub = app.add_subcommand("build", "(not implemented yet)");
  sub->add_option("args", *args);
  sub->callback([args, action]() {
    *action = []() -> int { throw Error(ErrorKind::not_implemented, "'cvmforge build' is not implemented yet"); };
  });
}

} // namespace cvm::cli
