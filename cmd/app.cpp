// SPDX-License-Identifier: Apache-2.0
#include "cmd/app.hpp"

#include "lib/manifest/values.hpp"
#include "lib/util/error.hpp"
#include "lib/util/text.hpp"

#include <fmt/core.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace cvm::cli {

const char *const k_exit_codes =
    "Exit codes: 0 ok, 1 failure, 2 usage or manifest error (including an input file that does not\n"
    "exist, whether named on the command line or in a manifest), 3 an input file that exists but\n"
    "cannot be used (not a disk image, unsupported guest, malformed log), 4 output or key exists\n"
    "(use --force), 5 measurement mismatch, 70 internal error, 130 interrupted.";

// Built from the options declared on the top-level app, so the block every
// verb's help shows cannot disagree with them.
std::string
global_options_text(const CLI::App &top) {
  std::string text = "Global options (before or after the command):\n";
  for (const CLI::Option *opt : top.get_options()) {
    const std::string name = opt->get_name(false, true);
    if (opt->get_group().empty() || name == "-h,--help" || name == "--version") {
      continue;
    }
    text += fmt::format("  {:<28}{}\n", name, opt->get_description());
  }
  return text;
}

namespace {

std::string
wrap_description(const std::string &description) {
  std::string flat = description;
  std::replace(flat.begin(), flat.end(), '\n', ' ');
  std::string wrapped = text::wrap(flat, "", "", text::k_report_width - 30);
  if (!wrapped.empty() && wrapped.back() == '\n') {
    wrapped.pop_back();
  }
  return wrapped;
}

// Every verb's help ends with the global options and the exit codes; the
// verbs' own footers stay plain so the man page can use them as they are.
class Formatter : public CLI::Formatter {
public:
  // CLI11 leaves an empty line for a group of hidden options (inspect's
  // deprecated --format); one empty line between sections is enough.
  std::string
  make_help(const CLI::App *app, std::string name, CLI::AppFormatMode mode) const override {
    std::string help = CLI::Formatter::make_help(app, std::move(name), mode);
    for (auto pos = help.find("\n\n\n"); pos != std::string::npos; pos = help.find("\n\n\n", pos)) {
      help.erase(pos, 1);
    }
    return help;
  }

  // Descriptions are rewrapped to fit 100 columns after the name column.
  std::string
  make_option_desc(const CLI::Option *opt) const override {
    return wrap_description(opt->get_description());
  }

  std::string
  make_subcommand(const CLI::App *sub) const override {
    std::stringstream out;
    CLI::detail::format_help(out, sub->get_display_name(true), wrap_description(sub->get_description()), 30);
    return out.str();
  }

  std::string
  make_footer(const CLI::App *app) const override {
    if (app->get_parent() == nullptr) {
      return CLI::Formatter::make_footer(app);
    }
    const CLI::App *top = app;
    while (top->get_parent() != nullptr) {
      top = top->get_parent();
    }
    std::string footer = app->get_footer();
    if (!footer.empty()) {
      footer += "\n\n";
    }
    return footer + global_options_text(*top) + "\n" + k_exit_codes + "\n";
  }
};

std::string
unknown_message(const std::string &word, const std::vector<std::string> &verbs) {
  if (const auto hint = manifest::values::closest(word, verbs)) {
    return fmt::format("unknown command '{}'; did you mean '{}'?", word, *hint);
  }
  return fmt::format("unknown command '{}' (commands: {})", word, fmt::join(verbs, ", "));
}

} // namespace

std::vector<std::string>
verb_names(const CLI::App &app) {
  std::vector<std::string> names;
  for (const CLI::App *sub : app.get_subcommands({})) {
    if (!sub->get_group().empty()) {
      names.push_back(sub->get_name());
    }
  }
  return names;
}

std::optional<std::string>
unknown_command(const CLI::App &app, const std::vector<std::string> &args) {
  // Every top-level option is a flag without a value, so the first word that
  // does not start with '-' is the verb.
  for (const auto &arg : args) {
    if (arg == "--") {
      return std::nullopt;
    }
    if (arg.empty() || arg[0] == '-') {
      continue;
    }
    for (const CLI::App *sub : app.get_subcommands({})) {
      if (sub->get_name() == arg) {
        return std::nullopt;
      }
    }
    return unknown_message(arg, verb_names(app));
  }
  return std::nullopt;
}

const CLI::App *
find_command(const CLI::App &app, const std::vector<std::string> &words) {
  const CLI::App *current = &app;
  for (const auto &word : words) {
    const auto subs = current->get_subcommands({});
    const auto it =
        std::find_if(subs.begin(), subs.end(), [&](const CLI::App *s) { return s->get_name() == word; });
    if (it == subs.end()) {
      return nullptr;
    }
    current = *it;
  }
  return current;
}

std::string
help_text(const CLI::App &sub) {
  // CLI11 prints "Usage: <parents> <name>"; the parents' path is passed in.
  std::vector<std::string> parents;
  for (const CLI::App *p = sub.get_parent(); p != nullptr; p = p->get_parent()) {
    parents.push_back(p->get_name());
  }
  std::reverse(parents.begin(), parents.end());
  return sub.help(fmt::format("{}", fmt::join(parents, " ")));
}

void
register_help(CLI::App &app, const GlobalOptions & /*global*/, const std::shared_ptr<Action> &action) {
  auto words = std::make_shared<std::vector<std::string>>();
  CLI::App *sub =
      app.add_subcommand("help", "Show the help of cvmforge or of one command (help measure replay)");
  sub->add_option("command", *words, "Command (and subcommand) to explain")->type_name("COMMAND");
  const CLI::App *top = &app;
  sub->callback([words, top, action]() {
    *action = [words, top]() {
      const CLI::App *target = find_command(*top, *words);
      if (target == nullptr) {
        // Name the first word that is not a command, with a hint.
        const CLI::App *known = top;
        for (const auto &w : *words) {
          const CLI::App *next = find_command(*known, {w});
          if (next == nullptr) {
            throw Error(ErrorKind::usage, "{}", unknown_message(w, verb_names(*known)));
          }
          known = next;
        }
      }
      // top->help() would show the help of the selected subcommand: this one.
      fmt::print("{}",
                 target == top
                     ? top->get_formatter()->make_help(top, top->get_name(), CLI::AppFormatMode::Normal)
                     : help_text(*target));
      return 0;
    };
  });
}

App
make_app() {
  App app;
  app.cli = std::make_unique<CLI::App>(
      "cvmforge: turn a stock qcow2 into a LUKS2-encrypted Intel TDX confidential-VM image that\n"
      "unlocks only after remote attestation, and compute its TDX reference values.",
      "cvmforge");
  app.global = std::make_unique<GlobalOptions>();
  app.action = std::make_shared<Action>();
  CLI::App &cli = *app.cli;
  // Before any subcommand exists: subcommands copy the formatter when added.
  cli.formatter(std::make_shared<Formatter>());
  cli.require_subcommand(0, 1);
  cli.fallthrough();
  cli.add_flag("--json", app.global->json, "Machine-readable result on stdout (logs stay on stderr)");
  cli.add_flag("-v,--verbose", app.global->verbose, "More log output (-vv: trace)");
  cli.add_flag("-q,--quiet", app.global->quiet, "Only errors on stderr");
  cli.set_version_flag("--version", CVM_VERSION);

  register_validate(cli, *app.global, app.action);
  register_plan(cli, *app.global, app.action);
  register_build(cli, *app.global, app.action);
  register_inspect(cli, *app.global, app.action);
  register_measure(cli, *app.global, app.action);
  register_version(cli, *app.global, app.action);
  register_help(cli, *app.global, app.action);
  register_docs(cli, *app.global, app.action);

  cli.footer(std::string(k_exit_codes) +
             "\nRun 'cvmforge help COMMAND' for a command's options; the manual is cvmforge(1).");
  return app;
}

} // namespace cvm::cli
