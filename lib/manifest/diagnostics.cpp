// SPDX-License-Identifier: Apache-2.0
#include "lib/manifest/diagnostics.hpp"

#include <fmt/core.h>

#include <algorithm>

namespace cvm::manifest {

std::string
Diagnostic::format() const {
  std::string out = fmt::format("{}:{}:{}: {}: {}",
                                location.file,
                                location.line,
                                location.column,
                                severity == Severity::error ? "error" : "warning",
                                message);
  if (!hint.empty()) {
    out += fmt::format(" (hint: {})", hint);
  }
  return out;
}

void
Diagnostics::error(Location location, std::string message, std::string hint) {
  m_items.push_back({Severity::error, std::move(location), std::move(message), std::move(hint)});
}

void
Diagnostics::warning(Location location, std::string message, std::string hint) {
  m_items.push_back({Severity::warning, std::move(location), std::move(message), std::move(hint)});
}

bool
Diagnostics::has_errors() const noexcept {
  return error_count() > 0;
}

std::size_t
Diagnostics::error_count() const noexcept {
  return static_cast<std::size_t>(std::count_if(
      m_items.begin(), m_items.end(), [](const Diagnostic &d) { return d.severity == Severity::error; }));
}

void
Diagnostics::sort() {
  std::stable_sort(m_items.begin(), m_items.end(), [](const Diagnostic &a, const Diagnostic &b) {
    if (a.location.line != b.location.line) {
      return a.location.line < b.location.line;
    }
    return a.location.column < b.location.column;
  });
}

} // namespace cvm::manifest
