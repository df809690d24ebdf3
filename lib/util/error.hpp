// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <fmt/core.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace cvm {

// What went wrong, coarsely; `cmd/main.cpp` maps it to the documented exit code.
enum class ErrorKind {
  usage,           // bad command line                      -> exit 2
  manifest,        // manifest does not parse or validate   -> exit 2
  input,           // base image / firmware / log unusable  -> exit 3
  exists,          // output or key present without --force -> exit 4
  guest,           // libguestfs / in-guest command failed  -> exit 1
  crypto,          // OpenSSL / libcryptsetup failed        -> exit 1
  io,              // host filesystem                       -> exit 1
  mismatch,        // measurement diff found a divergence   -> exit 5
  interrupted,     // SIGINT / SIGTERM                   -> exit 130
  not_implemented, // verb exists but is not built yet -> exit 1
  internal,        // a bug                                 -> exit 70
};

// The process exit code documented in README.md for `kind`.
int exit_code(ErrorKind kind) noexcept;

// The one exception type of cvmforge. It carries a kind and a message; callers on
// the way up prepend context ("encrypt-rootfs: crypt_format: Invalid argument").
class Error : public std::runtime_error {
public:
  Error(ErrorKind kind, const std::string &message);

  template<typename... Args>
  Error(ErrorKind kind, fmt::format_string<Args...> format, Args &&...args)
    : Error(kind, fmt::format(format, std::forward<Args>(args)...)) {}

  ErrorKind
  kind() const noexcept {
    return m_kind;
  }

  // A copy of this error with "`context`: " in front of the message.
  Error with_context(std::string_view context) const;

private:
  ErrorKind m_kind{};
};

} // namespace cvm
