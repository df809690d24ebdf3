// SPDX-License-Identifier: Apache-2.0
#include "lib/host/launch_watchdog.hpp"

#include "lib/util/error.hpp"
#include "lib/util/log.hpp"

#include <unistd.h>

#include <charconv>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <string>
#include <system_error>

namespace cvm::host {

namespace {

template<typename T>
std::optional<T>
parse_number(std::string_view text) {
  T value{};
  const auto *end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) {
    return std::nullopt;
  }
  return value;
}

} // namespace

std::optional<ProcEntry>
parse_proc_stat(std::string_view stat) {
  // "1234 (qemu-system-x86) S 1200 ...": comm is whatever lies between the
  // first '(' and the LAST ')', since a comm may contain ") ".
  const auto open = stat.find('(');
  const auto close = stat.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open || open == 0) {
    return std::nullopt;
  }
  auto pid_text = stat.substr(0, open);
  while (!pid_text.empty() && pid_text.back() == ' ') {
    pid_text.remove_suffix(1);
  }
  const auto pid = parse_number<pid_t>(pid_text);
  // After ") ": the state (one character), a space, the ppid.
  std::string_view rest = stat.substr(close + 1);
  if (rest.size() < 5 || rest[0] != ' ' || rest[2] != ' ') {
    return std::nullopt;
  }
  rest.remove_prefix(3);
  const auto ppid = parse_number<pid_t>(rest.substr(0, rest.find(' ')));
  if (!pid || !ppid) {
    return std::nullopt;
  }
  return ProcEntry{*pid, *ppid, std::string(stat.substr(open + 1, close - open - 1))};
}

std::vector<pid_t>
find_children(const std::filesystem::path &proc_root,
              pid_t parent,
              const std::vector<std::string> &comm_prefixes) {
  std::vector<pid_t> found;
  std::error_code ec;
  std::filesystem::directory_iterator it(proc_root, ec);
  if (ec) {
    return found;
  }
  for (const auto &entry : it) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::ifstream in(entry.path() / "stat");
    if (!in) {
      continue; // gone already
    }
    std::string stat;
    std::getline(in, stat); // one line
    const auto p = parse_proc_stat(stat);
    if (!p || p->ppid != parent) {
      continue;
    }
    for (const auto &prefix : comm_prefixes) {
      if (p->comm.starts_with(prefix)) {
        found.push_back(p->pid);
        break;
      }
    }
  }
  return found;
}

const std::vector<std::string> &
appliance_comm_prefixes() {
  static const std::vector<std::string> k_prefixes{"qemu-system-", "qemu-kvm", "supermin"};
  return k_prefixes;
}

LaunchWatchdog::LaunchWatchdog(Options options)
  : m_options(std::move(options)) {
  if (!m_options.kill) {
    m_options.kill = [](pid_t pid) { ::kill(pid, SIGKILL); };
  }
  m_thread = std::jthread([this](const std::stop_token &stop) { run(stop); });
}

LaunchWatchdog::~LaunchWatchdog() {
  stop();
}

WatchdogVerdict
LaunchWatchdog::stop() {
  if (m_thread.joinable()) {
    m_thread.request_stop();
    m_thread.join();
  }
  return m_verdict.load();
}

void
LaunchWatchdog::run(const std::stop_token &stop) {
  const auto deadline = std::chrono::steady_clock::now() + m_options.timeout;
  const pid_t self = ::getpid();
  bool warned = false;
  while (!stop.stop_requested()) {
    WatchdogVerdict verdict = m_verdict.load();
    if (verdict == WatchdogVerdict::none) {
      if (m_options.cancel && m_options.cancel()) {
        verdict = WatchdogVerdict::cancelled;
      } else if (std::chrono::steady_clock::now() >= deadline) {
        verdict = WatchdogVerdict::timed_out;
      }
    }
    if (verdict != WatchdogVerdict::none) {
      m_verdict.store(verdict);
      // Keep killing until the launch returns: a first launch may build the
      // appliance (supermin) before it starts QEMU.
      const auto victims = find_children(m_options.proc_root, self, appliance_comm_prefixes());
      for (const pid_t pid : victims) {
        m_options.kill(pid);
      }
      if (victims.empty() && !warned) {
        warned = true;
        try {
          log::debug("launch watchdog: no appliance process of ours to end (not the direct backend?)");
        } catch (const std::exception &) { // NOLINT(bugprone-empty-catch): a lost debug line
        }
      }
    }
    std::this_thread::sleep_for(m_options.poll_interval);
  }
}

std::chrono::seconds
launch_timeout_from_env(std::chrono::seconds fallback) {
  const char *value = std::getenv("CVM_LAUNCH_TIMEOUT"); // NOLINT(concurrency-mt-unsafe): read before threads
  if (value == nullptr || *value == '\0') {
    return fallback;
  }
  const auto seconds = parse_number<long>(value);
  if (!seconds || *seconds <= 0 || *seconds > 86400) {
    throw Error(ErrorKind::input, "CVM_LAUNCH_TIMEOUT={}: expected whole seconds between 1 and 86400", value);
  }
  return std::chrono::seconds(*seconds);
}

} // namespace cvm::host
