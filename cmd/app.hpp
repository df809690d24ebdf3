// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>

// The cvmforge command line. make_app() builds the whole CLI11 tree without
// running anything, so tests can parse argv and inspect options. Each verb
// lives in its own cmd/<verb>.cpp with a register_<verb>() that declares its
// options into a plain struct and installs a callback calling one library
// entry point. Only cmd/main.cpp catches cvm::Error and maps it to an exit code.
namespace cvm::cli {

// Options every verb sees (declared on the top-level app).
struct GlobalOptions {
  bool json = false;  // machine-readable result on stdout; logs stay on stderr
  int verbose = 0;    // -v: debug, -vv: trace
  bool quiet = false; // errors only
};

// What a verb's callback returns: the process exit code.
using Action = std::function<int()>;

struct App {
  std::unique_ptr<CLI::App> cli;
  std::unique_ptr<GlobalOptions> global;
  // Set by the selected subcommand's callback; run by main() after parsing.
  std::shared_ptr<Action> action;
};

App make_app();

void register_build(CLI::App &app, const GlobalOptions &global, std::shared_ptr<Action> action);
void register_plan(CLI::App &app, const GlobalOptions &global, std::shared_ptr<Action> action);
void register_validate(CLI::App &app, const GlobalOptions &global, std::shared_ptr<Action> action);
void register_measure(CLI::App &app, const GlobalOptions &global, std::shared_ptr<Action> action);
void register_inspect(CLI::App &app, const GlobalOptions &global, std::shared_ptr<Action> action);
void register_version(CLI::App &app, const GlobalOptions &global, std::shared_ptr<Action> action);

} // namespace cvm::cli
