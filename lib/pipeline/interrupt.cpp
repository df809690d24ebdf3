// SPDX-License-Identifier: Apache-2.0
#include "lib/pipeline/interrupt.hpp"

#include "lib/util/error.hpp"

#include <atomic>
#include <csignal>

namespace cvm::pipeline {

namespace {

volatile std::sig_atomic_t g_signal = 0;
std::atomic<pid_t> g_victim{0};
struct sigaction g_old_int {};
struct sigaction g_old_term {};
struct sigaction g_old_hup {};
struct sigaction g_old_pipe {};

extern "C" void
on_signal(int sig) {
  g_signal = sig;
  const pid_t victim = g_victim.load();
  if (victim > 0) {
    ::kill(victim, SIGKILL); // async-signal-safe
  }
}

} // namespace

InterruptGuard::InterruptGuard() {
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_signal; // NOLINT(cppcoreguidelines-pro-type-union-access)
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &g_old_int);
  ::sigaction(SIGTERM, &sa, &g_old_term);
  ::sigaction(SIGHUP, &sa, &g_old_hup);
  // A reader of our stdout/stderr that goes away must not kill the build
  // before it has cleaned up: writes fail with EPIPE instead.
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN; // NOLINT(cppcoreguidelines-pro-type-union-access)
  sigemptyset(&ign.sa_mask);
  ::sigaction(SIGPIPE, &ign, &g_old_pipe);
}

InterruptGuard::~InterruptGuard() {
  ::sigaction(SIGINT, &g_old_int, nullptr);
  ::sigaction(SIGTERM, &g_old_term, nullptr);
  ::sigaction(SIGHUP, &g_old_hup, nullptr);
  ::sigaction(SIGPIPE, &g_old_pipe, nullptr);
  g_victim.store(0);
}

void
set_interrupt_victim(pid_t pid) noexcept {
  g_victim.store(pid);
}

int
interrupted_by() noexcept {
  return g_signal;
}

void
throw_if_interrupted() {
  if (g_signal != 0) {
    throw Error(ErrorKind::interrupted,
                "interrupted by {}",
                g_signal == SIGINT ? "SIGINT" : (g_signal == SIGHUP ? "SIGHUP" : "SIGTERM"));
  }
}

} // namespace cvm::pipeline
