// SPDX-License-Identifier: Apache-2.0
// The only place that catches cvm::Error and turns it into an exit code.
#include "cmd/app.hpp"
#include "lib/util/error.hpp"
#include "lib/util/log.hpp"

#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

namespace {

// "measure replay": the deepest verb CLI11 got to ("" for none).
std::string
verb_path(const CLI::App &top) {
  std::string path;
  const CLI::App *cur = &top;
  while (!cur->get_subcommands().empty()) {
    cur = cur->get_subcommands().front();
    path += (path.empty() ? "" : " ") + cur->get_name();
  }
  return path;
}

std::vector<std::string>
split_words(const std::string &text) {
  std::vector<std::string> words;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = std::min(text.find(' ', pos), text.size());
    words.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return words;
}

// Every usage error looks like every other cvmforge error, and says where
// the usage is documented. Exit code 2 (documented).
int
usage_error(const std::string &message, const std::string &help_hint) {
  cvm::log::error("{}", message);
  fmt::print(stderr, "Run '{}' for usage.\n", help_hint);
  return cvm::exit_code(cvm::ErrorKind::usage);
}

} // namespace

int
main(int argc, char **argv) {
  cvm::cli::App app = cvm::cli::make_app();
  const std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
  if (const auto unknown = cvm::cli::unknown_command(*app.cli, args)) {
    return usage_error(*unknown, "cvmforge help");
  }
  try {
    app.cli->parse(argc, argv);
  } catch (const CLI::CallForHelp &e) {
    return app.cli->exit(e);
  } catch (const CLI::CallForAllHelp &e) {
    return app.cli->exit(e);
  } catch (const CLI::CallForVersion &e) {
    return app.cli->exit(e);
  } catch (const CLI::ExtrasError &e) {
    // A misspelt nested command (measure rpelay) is an extra argument to
    // CLI11; name it as such, with a hint.
    const std::string verb = verb_path(*app.cli);
    const CLI::App *cur = cvm::cli::find_command(*app.cli, split_words(verb));
    if (cur != nullptr && !cur->get_subcommands({}).empty()) {
      if (const auto unknown = cvm::cli::unknown_command(*cur, cur->remaining())) {
        return usage_error(verb + ": " + *unknown, "cvmforge help " + verb);
      }
    }
    return usage_error(verb.empty() ? std::string(e.what()) : verb + ": " + e.what(),
                       verb.empty() ? "cvmforge help" : "cvmforge help " + verb);
  } catch (const CLI::ParseError &e) {
    const std::string verb = verb_path(*app.cli);
    return usage_error(verb.empty() ? std::string(e.what()) : verb + ": " + e.what(),
                       verb.empty() ? "cvmforge help" : "cvmforge help " + verb);
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
    return usage_error(
        fmt::format("no command given (commands: {})", fmt::join(cvm::cli::verb_names(*app.cli), ", ")),
        "cvmforge help");
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
