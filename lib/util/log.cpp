// SPDX-License-Identifier: Apache-2.0
#include "lib/util/log.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace cvm::log {

namespace {

// The process's one logger: its state is global by design.
std::atomic<Level> g_level{Level::info}; // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)
std::mutex g_mutex;                      // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)
Sink g_sink; // NOLINT(cppcoreguidelines-avoid-non-const-global-variables): empty = default stderr sink

std::string_view
level_name(Level level) {
  switch (level) {
  case Level::error:
    return "error";
  case Level::warning:
    return "warning";
  case Level::info:
    return "info";
  case Level::debug:
    return "debug";
  case Level::trace:
    return "trace";
  }
  return "?";
}

} // namespace

void
set_level(Level level) noexcept {
  g_level.store(level);
}

Level
level() noexcept {
  return g_level.load();
}

bool
enabled(Level level) noexcept {
  return static_cast<int>(level) <= static_cast<int>(g_level.load());
}

void
set_sink(Sink sink) {
  const std::lock_guard lock(g_mutex);
  g_sink = std::move(sink);
}

void
write(Level level, std::string_view message) {
  if (!enabled(level)) {
    return;
  }
  const std::lock_guard lock(g_mutex);
  // Logging never throws: a closed stderr must not turn into a failure in
  // the middle of a cleanup.
  try {
    if (g_sink) {
      g_sink(level, message);
      return;
    }
    if (level == Level::info) {
      fmt::print(stderr, "{}\n", message);
    } else {
      fmt::print(stderr, "cvmforge: {}: {}\n", level_name(level), message);
    }
    (void)std::fflush(stderr);
  } catch (...) { // NOLINT(bugprone-empty-catch)
  }
}

} // namespace cvm::log
