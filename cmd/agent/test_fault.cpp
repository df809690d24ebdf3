// SPDX-License-Identifier: Apache-2.0
#include "cmd/agent/test_fault.hpp"

#include "lib/util/error.hpp"

#include <array>
#include <csignal>
#include <utility>

namespace cvm::agent {

namespace {

constexpr std::string_view k_word = "cvmforge.test_fault=";

constexpr std::array<std::pair<std::string_view, int>, 3> k_signals{{
    {"kill", SIGKILL},
    {"segv", SIGSEGV},
    {"abort", SIGABRT},
}};

constexpr std::array<std::string_view, 2> k_stages{"header-checked", "key-received"};

bool
is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

} // namespace

std::optional<int>
test_fault_signal(std::string_view cmdline, std::string_view stage) {
  std::optional<std::string_view> value;
  std::size_t i = 0;
  while (i < cmdline.size()) {
    while (i < cmdline.size() && is_space(cmdline[i])) {
      ++i;
    }
    const std::size_t start = i;
    while (i < cmdline.size() && !is_space(cmdline[i])) {
      ++i;
    }
    const std::string_view word = cmdline.substr(start, i - start);
    if (word.rfind(k_word, 0) == 0) {
      value = word.substr(k_word.size());
    }
  }
  if (!value) {
    return std::nullopt;
  }
  const std::size_t colon = value->find(':');
  if (colon == std::string_view::npos) {
    throw Error(ErrorKind::usage, "cvmforge.test_fault='{}': expected STAGE:SIGNAL", *value);
  }
  const std::string_view fault_stage = value->substr(0, colon);
  const std::string_view signal_name = value->substr(colon + 1);
  bool known_stage = false;
  for (const std::string_view s : k_stages) {
    known_stage = known_stage || s == fault_stage;
  }
  if (!known_stage) {
    throw Error(ErrorKind::usage,
                "cvmforge.test_fault: unknown stage '{}' (header-checked, key-received)",
                fault_stage);
  }
  for (const auto &[name, number] : k_signals) {
    if (name == signal_name) {
      return fault_stage == stage ? std::optional<int>(number) : std::nullopt;
    }
  }
  throw Error(ErrorKind::usage, "cvmforge.test_fault: unknown signal '{}' (kill, segv, abort)", signal_name);
}

} // namespace cvm::agent
