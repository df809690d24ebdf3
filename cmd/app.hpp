// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

// The cvmforge command line. make_app() builds the whole CLI11 tree without
// running anything, so tests can parse argv and inspect options. Each verb
// lives in its own cmd/<verb>.cpp with a register_<verb>() that declares its
// options into a plain struct and installs a callback calling one library
// entry point. Only cmd/main.cpp catches cvm::Error and maps it to an exit code.
// The man page and the bash completion are generated from the same tree
// (cmd/docs.cpp), so they cannot drift from --help.
namespace cvm::cli {

// Options every verb sees (declared on the top-level app; accepted before or
// after the verb).
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

// The exit-code table, as every --help, the man page and README.md show it.
extern const char *const k_exit_codes;

// "Global options (before or after the command):" and one line per option
// declared on `top` (the block every verb's --help ends with).
std::string global_options_text(const CLI::App &top);

// The verbs a user can type (hidden ones excluded), in registration order.
std::vector<std::string> verb_names(const CLI::App &app);

// If `args` (argv without argv[0]) names a verb that does not exist, the
// message to print: "unknown command 'x'" with a "did you mean" hint.
std::optional<std::string> unknown_command(const CLI::App &app, const std::vector<std::string> &args);

// The verb path under `app` that `args` names ("measure replay"), for
// "cvmforge help" and error hints; nullptr if a word is not a verb.
const CLI::App *find_command(const CLI::App &app, const std::vector<std::string> &words);

// --help text of `sub` exactly as `cvmforge <path> --help` prints it.
std::string help_text(const CLI::App &sub);

void register_build(CLI::App &app, const GlobalOptions &global, const std::shared_ptr<Action> &action);
void register_plan(CLI::App &app, const GlobalOptions &global, const std::shared_ptr<Action> &action);
void register_validate(CLI::App &app, const GlobalOptions &global, const std::shared_ptr<Action> &action);
void register_measure(CLI::App &app, const GlobalOptions &global, const std::shared_ptr<Action> &action);
void register_inspect(CLI::App &app, const GlobalOptions &global, const std::shared_ptr<Action> &action);
void register_version(CLI::App &app, const GlobalOptions &global, const std::shared_ptr<Action> &action);
void register_help(CLI::App &app, const GlobalOptions &global, const std::shared_ptr<Action> &action);
void register_docs(CLI::App &app, const GlobalOptions &global, const std::shared_ptr<Action> &action);

} // namespace cvm::cli
