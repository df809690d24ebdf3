// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <vector>

namespace cvm::manifest {

// A position in a manifest file; line and column are 1-based.
struct Location {
  std::string file;
  int line = 0;
  int column = 0;
};

enum class Severity { error, warning };

// One finding of the manifest validator: "file:line:col: error: reason (hint: ...)".
struct Diagnostic {
  Severity severity = Severity::error;
  Location location;
  std::string message;
  std::string hint; // empty = none

  std::string format() const;
};

// All findings of one validation run, in file order.
class Diagnostics {
public:
  void error(Location location, std::string message, std::string hint = {});
  void warning(Location location, std::string message, std::string hint = {});

  bool has_errors() const noexcept;
  std::size_t error_count() const noexcept;
  const std::vector<Diagnostic> &
  all() const noexcept {
    return m_items;
  }
  // Sort by line, column (stable), so output follows the file.
  void sort();

private:
  std::vector<Diagnostic> m_items;
};

} // namespace cvm::manifest
