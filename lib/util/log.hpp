// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <fmt/core.h>

#include <functional>
#include <string>
#include <string_view>

// Diagnostics for humans go to stderr through this logger; machine-readable
// results go to stdout from cmd/ only. Secrets never reach it: SecretBytes
// formats as "<redacted>".
namespace cvm::log {

enum class Level { error = 0, warning = 1, info = 2, debug = 3, trace = 4 };

// Messages above `level` are dropped. Default: info.
void set_level(Level level) noexcept;

Level level() noexcept;

bool enabled(Level level) noexcept;

// Replace the sink (default: "cvmforge: <level>: <message>\n" on stderr).
// Tests use this to capture output.
using Sink = std::function<void(Level, std::string_view)>;
void set_sink(Sink sink);

void write(Level level, std::string_view message);

// write() of the message, formatted only if `level` is enabled.
template<typename... Args>
void
write_if_enabled(Level level, fmt::format_string<Args...> format, Args &&...args) {
  if (enabled(level)) {
    write(level, fmt::format(format, std::forward<Args>(args)...));
  }
}

template<typename... Args>
void
error(fmt::format_string<Args...> format, Args &&...args) {
  write(Level::error, fmt::format(format, std::forward<Args>(args)...));
}

template<typename... Args>
void
warning(fmt::format_string<Args...> format, Args &&...args) {
  write(Level::warning, fmt::format(format, std::forward<Args>(args)...));
}

template<typename... Args>
void
info(fmt::format_string<Args...> format, Args &&...args) {
  write_if_enabled(Level::info, format, std::forward<Args>(args)...);
}

template<typename... Args>
void
debug(fmt::format_string<Args...> format, Args &&...args) {
  write_if_enabled(Level::debug, format, std::forward<Args>(args)...);
}

template<typename... Args>
void
trace(fmt::format_string<Args...> format, Args &&...args) {
  write_if_enabled(Level::trace, format, std::forward<Args>(args)...);
}

} // namespace cvm::log
