// SPDX-License-Identifier: Apache-2.0
#include "lib/util/error.hpp"

namespace cvm {

int
exit_code(ErrorKind kind) noexcept {
  switch (kind) {
  case ErrorKind::usage:
  case ErrorKind::manifest:
    return 2;
  case ErrorKind::input:
    return 3;
  case ErrorKind::exists:
    return 4;
  case ErrorKind::mismatch:
    return 5;
  case ErrorKind::interrupted:
    return 130;
  case ErrorKind::internal:
    return 70;
  case ErrorKind::guest:
  case ErrorKind::crypto:
  case ErrorKind::io:
  case ErrorKind::not_implemented:
    return 1;
  }
  return 70;
}

Error::Error(ErrorKind kind, const std::string &message)
  : std::runtime_error(message)
  , m_kind(kind) {}

Error
Error::with_context(std::string_view context) const {
  return {m_kind, fmt::format("{}: {}", context, what())};
}

} // namespace cvm
