// SPDX-License-Identifier: Apache-2.0
// The only place that catches cvm::Error and turns it into an exit code.
#include "cmd/app.hpp"
#include "lib/util/error.hpp"
#include "lib/util/log.hpp"

#include <fmt/core.h>

#include <cstdlib>
#include <exception>

int
main(int argc, char **argv) {
  cvm::cli::App app = cvm::cli::make_app();
  try {
    app.cli->parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    // --help / --version exit 0; every usage error exits 2 (documented).
    const int rc = app.cli->exit(e);
    return rc == 0 ? 0 : 2;
  }
  const auto &g = *app.global;
  if (g.quiet) {
    cvm::log::set_level(cvm::log::Level::error);
  } else if (g.verbose >= 2) {
    cvm::log::set_level(cvm::log::Level::trace);
  } else if (g.verbose == 1) {
    cvm::log::set_level(cvm::log::Level::debug);
  }
  if (!*app.action) {
    fmt::print(stderr, "{}", app.cli->help());
    return 2;
  }
  try {
    return (*app.action)();
  } catch (const cvm::Error &e) {
    cvm::log::error("{}", e.what());
    return cvm::exit_code(e.kind());
  } catch (const std::exception &e) {
    cvm::log::error("internal error: {}", e.what());
    return cvm::exit_code(cvm::ErrorKind::internal);
  }
}
