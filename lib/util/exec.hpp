// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// The one way cvmforge runs a host program: an argv vector, never a shell
// string. Product code uses it only where no library exists (see README,
// "House rules"); the full argv is logged at debug level.
namespace cvm::exec {

struct Result {
  int exit_status = -1; // exit code, or 128 + signal number
  std::string out;      // captured stdout
  std::string err;      // captured stderr
  bool timed_out = false;
};

struct Options {
  std::optional<std::string> stdin_data;       // fed to the child's stdin, then closed
  std::optional<std::chrono::seconds> timeout; // SIGKILL after this long
  std::vector<std::string> extra_env;          // "NAME=value" added to the environment
};

// Run `argv` (argv[0] looked up in PATH) and wait. Throws cvm::Error(io) if it
// cannot be started; a non-zero exit is reported in the Result, not thrown.
Result run(const std::vector<std::string> &argv, const Options &options = {});

// Absolute path of `program` in PATH, or nullopt.
std::optional<std::string> find_program(const std::string &program);

} // namespace cvm::exec
