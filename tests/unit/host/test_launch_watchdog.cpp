// SPDX-License-Identifier: Apache-2.0
// The launch watchdog on a fake /proc tree with a recording kill(): which
// processes it picks, when it fires, and what it reports.
#include "lib/host/launch_watchdog.hpp"
#include "lib/util/error.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cvm::host {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

TEST(ProcStat, ParsesPidCommAndParent) {
  const auto e = parse_proc_stat("4242 (qemu-system-x86) S 4200 4242 4200 0 -1 4194560 1 0 0 0");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->pid, 4242);
  EXPECT_EQ(e->ppid, 4200);
  EXPECT_EQ(e->comm, "qemu-system-x86");
}

TEST(ProcStat, CommMayContainSpacesAndParentheses) {
  const auto e = parse_proc_stat("17 (a) b (c)) R 3 17 3 0");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->comm, "a) b (c)");
  EXPECT_EQ(e->ppid, 3);
}

TEST(ProcStat, RejectsMalformedLines) {
  EXPECT_FALSE(parse_proc_stat(""));
  EXPECT_FALSE(parse_proc_stat("12 qemu S 1"));
  EXPECT_FALSE(parse_proc_stat("(qemu) S 1"));
  EXPECT_FALSE(parse_proc_stat("x (qemu) S 1 2"));
  EXPECT_FALSE(parse_proc_stat("12 (qemu) S"));
  EXPECT_FALSE(parse_proc_stat("12 (qemu) S y 2"));
}

class FakeProc : public ::testing::Test {
protected:
  void
  SetUp() override {
    m_root = std::filesystem::temp_directory_path() /
             ("cvm-fake-proc-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(m_root);
    std::filesystem::create_directories(m_root);
  }
  void
  TearDown() override {
    std::filesystem::remove_all(m_root);
  }
  void
  add(pid_t pid, pid_t ppid, const std::string &comm) {
    const auto dir = m_root / std::to_string(pid);
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "stat") << pid << " (" << comm << ") S " << ppid << " 1 1 0 -1 0\n";
  }
  std::filesystem::path m_root;
};

TEST_F(FakeProc, FindsOnlyTheApplianceChildrenOfTheParent) {
  const pid_t self = 1000;
  add(1001, self, "qemu-system-x86");
  add(1002, self, "supermin");
  add(1003, self, "cvm-agent");      // another child: never touched
  add(1004, 999, "qemu-system-x86"); // someone else's QEMU
  add(1005, self, "qemu-kvm");
  std::filesystem::create_directories(m_root / "self"); // non-numeric entries are skipped
  std::filesystem::create_directories(m_root / "1006"); // no stat: vanished process
  EXPECT_THAT(find_children(m_root, self, appliance_comm_prefixes()), UnorderedElementsAre(1001, 1002, 1005));
  EXPECT_THAT(find_children(m_root / "missing", self, appliance_comm_prefixes()), IsEmpty());
}

struct Kills {
  std::mutex mutex;
  std::vector<pid_t> pids;
  std::function<void(pid_t)>
  recorder() {
    return [this](pid_t p) {
      const std::lock_guard lock(mutex);
      pids.push_back(p);
    };
  }
  std::vector<pid_t>
  unique() {
    const std::lock_guard lock(mutex);
    std::vector<pid_t> u = pids;
    std::sort(u.begin(), u.end());
    u.erase(std::unique(u.begin(), u.end()), u.end());
    return u;
  }
  // Waits (at most 20 s) until something has been killed.
  void
  wait_for_any() {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (unique().empty() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
};

// Watchdog options on the fake /proc, polling every 5 ms, killing into `kills`.
LaunchWatchdog::Options
fake_options(const std::filesystem::path &root, Kills &kills, std::chrono::milliseconds timeout) {
  LaunchWatchdog::Options o;
  o.timeout = timeout;
  o.poll_interval = std::chrono::milliseconds(5);
  o.proc_root = root;
  o.kill = kills.recorder();
  return o;
}

TEST_F(FakeProc, TimeoutKillsTheApplianceAndSaysSo) {
  add(2001, ::getpid(), "qemu-system-x86");
  add(2002, ::getpid(), "sh");
  Kills kills;
  LaunchWatchdog dog(fake_options(m_root, kills, std::chrono::milliseconds(50)));
  kills.wait_for_any();
  EXPECT_EQ(dog.stop(), WatchdogVerdict::timed_out);
  EXPECT_THAT(kills.unique(), ElementsAre(2001));
}

TEST_F(FakeProc, CancelEndsTheLaunchBeforeTheTimeout) {
  add(3001, ::getpid(), "qemu-system-x86");
  Kills kills;
  std::atomic<bool> cancel{false};
  auto o = fake_options(m_root, kills, std::chrono::hours(1));
  o.cancel = [&] { return cancel.load(); };
  LaunchWatchdog dog(std::move(o));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_TRUE(kills.unique().empty()) << "nothing is killed before the cancel";
  cancel = true;
  kills.wait_for_any();
  EXPECT_EQ(dog.stop(), WatchdogVerdict::cancelled);
  EXPECT_THAT(kills.unique(), ElementsAre(3001));
}

TEST_F(FakeProc, ALaunchThatReturnsInTimeIsLeftAlone) {
  add(4001, ::getpid(), "qemu-system-x86");
  Kills kills;
  auto o = fake_options(m_root, kills, std::chrono::hours(1));
  o.cancel = [] { return false; };
  LaunchWatchdog dog(std::move(o));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(dog.stop(), WatchdogVerdict::none);
  EXPECT_EQ(dog.stop(), WatchdogVerdict::none) << "stop() twice is harmless";
  EXPECT_THAT(kills.unique(), IsEmpty());
}

TEST(LaunchTimeout, FromTheEnvironment) {
  ::unsetenv("CVM_LAUNCH_TIMEOUT");
  EXPECT_EQ(launch_timeout_from_env(std::chrono::seconds(42)), std::chrono::seconds(42));
  ::setenv("CVM_LAUNCH_TIMEOUT", "90", 1);
  EXPECT_EQ(launch_timeout_from_env(), std::chrono::seconds(90));
  for (const char *bad : {"0", "-5", "1.5", "ten", "90s", "99999999999"}) {
    ::setenv("CVM_LAUNCH_TIMEOUT", bad, 1);
    try {
      (void)launch_timeout_from_env();
      ADD_FAILURE() << bad << " accepted";
    } catch (const Error &e) {
      EXPECT_EQ(e.kind(), ErrorKind::input) << bad;
      EXPECT_THAT(e.what(), ::testing::HasSubstr("CVM_LAUNCH_TIMEOUT")) << bad;
    }
  }
  ::unsetenv("CVM_LAUNCH_TIMEOUT");
}

} // namespace
} // namespace cvm::host
