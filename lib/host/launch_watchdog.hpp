// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

// A bound on guestfs_launch(), which has none of its own.
//
// Under nested virtualisation an appliance can hang before its daemon
// connects (KVM_RUN never returns); guestfs_launch() then blocks forever and a
// build holds its CI job until the job's own timeout. The appliance's QEMU is
// a child of this process with the direct backend (the one cvmforge uses), so
// a watchdog thread can end the launch: it kills that child, and libguestfs
// returns an error as soon as the appliance's console closes. The same thread
// acts on a cancel request (SIGINT/SIGTERM during the launch) within
// `poll_interval` instead of after the appliance has come up.
namespace cvm::host {

// A process as /proc/<pid>/stat shows it.
struct ProcEntry {
  pid_t pid = 0;
  pid_t ppid = 0;
  std::string comm; // at most 15 characters (TASK_COMM_LEN - 1)
};

// Pure: parses the content of /proc/<pid>/stat ("pid (comm) state ppid ...";
// comm may contain spaces and parentheses). nullopt if malformed.
std::optional<ProcEntry> parse_proc_stat(std::string_view stat);

// The children of `parent` under `proc_root` (normally /proc) whose comm
// starts with one of `comm_prefixes`. Unreadable or vanished entries are
// skipped: processes come and go while the directory is read.
std::vector<pid_t> find_children(const std::filesystem::path &proc_root,
                                 pid_t parent,
                                 const std::vector<std::string> &comm_prefixes);

// What the appliance's hypervisor and the appliance builder are called:
// "qemu-system-x86" (comm truncates qemu-system-x86_64), "qemu-kvm", and
// "supermin" (it builds the appliance on a first launch).
const std::vector<std::string> &appliance_comm_prefixes();

// Why a watched launch was ended.
enum class WatchdogVerdict { none, timed_out, cancelled };

class LaunchWatchdog {
public:
  struct Options {
    std::chrono::milliseconds timeout{std::chrono::minutes(5)};
    std::function<bool()> cancel; // polled; true = end the launch now (may be empty)
    std::chrono::milliseconds poll_interval{std::chrono::milliseconds(100)};
    std::filesystem::path proc_root = "/proc";
    // Kills one process; the default sends SIGKILL. Tests replace it.
    std::function<void(pid_t)> kill;
  };

  // Starts the watching thread.
  explicit LaunchWatchdog(Options options);
  LaunchWatchdog(const LaunchWatchdog &) = delete;
  LaunchWatchdog &operator=(const LaunchWatchdog &) = delete;
  LaunchWatchdog(LaunchWatchdog &&) = delete;
  LaunchWatchdog &operator=(LaunchWatchdog &&) = delete;
  // Stops the thread (as stop()).
  ~LaunchWatchdog();

  // Stops watching and says whether the watchdog ended the launch, and why.
  // Call it as soon as the watched call has returned.
  WatchdogVerdict stop();

private:
  void run(const std::stop_token &stop);

  Options m_options;
  std::atomic<WatchdogVerdict> m_verdict{WatchdogVerdict::none};
  std::jthread m_thread;
};

// The launch timeout: CVM_LAUNCH_TIMEOUT (whole seconds, > 0) if set and
// valid, else `fallback`. An invalid value is a cvm::Error (input).
std::chrono::seconds launch_timeout_from_env(std::chrono::seconds fallback = std::chrono::minutes(5));

} // namespace cvm::host
