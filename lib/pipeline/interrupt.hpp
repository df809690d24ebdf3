// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <sys/types.h>

// SIGINT/SIGTERM during a build: the handler records the signal and kills the
// libguestfs appliance (so a long blocking call returns with an error at
// once); the pipeline then unwinds through its RAII cleanups, removes every
// temporary file, and exits with 130.
namespace cvm::pipeline {

// Installs the handlers for its lifetime and restores the previous ones.
class InterruptGuard {
public:
  InterruptGuard();
  InterruptGuard(const InterruptGuard &) = delete;
  InterruptGuard &operator=(const InterruptGuard &) = delete;
  InterruptGuard(InterruptGuard &&) = delete;
  InterruptGuard &operator=(InterruptGuard &&) = delete;
  ~InterruptGuard();
};

// The appliance process to kill on a signal (0 = none).
void set_interrupt_victim(pid_t pid) noexcept;

// The signal received, or 0.
int interrupted_by() noexcept;

// Throws cvm::Error(interrupted) if a signal arrived.
void throw_if_interrupted();

} // namespace cvm::pipeline
