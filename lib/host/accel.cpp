// SPDX-License-Identifier: Apache-2.0
#include "lib/host/accel.hpp"

#include "lib/util/fs.hpp"
#include "lib/util/log.hpp"

#include <fmt/core.h>

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <thread>

namespace cvm::host {

namespace {

constexpr const char *k_kvm_device = "/dev/kvm";
constexpr int k_kvm_api_version = 12;
constexpr std::uint64_t k_guest_mem_size = 0x200000; // one 2 MiB page
constexpr std::uint64_t k_code_addr = 0x1000;
constexpr std::uint64_t k_pml4_addr = 0x2000;
constexpr std::uint64_t k_pdpt_addr = 0x3000;
constexpr std::uint64_t k_pd_addr = 0x4000;
constexpr std::uint16_t k_probe_port = 0xf0;
constexpr std::uint8_t k_probe_value = 0x2a;
// Real mode: mov al, 0x2a ; out 0xf0, al ; hlt
constexpr std::array<std::uint8_t, 5> k_real_mode_code = {0xb0, k_probe_value, 0xe6, k_probe_port, 0xf4};
// Long mode: mov rcx, 5000000 ; 1: dec rcx ; jnz 1b ; mov al, 0x2a ; out 0xf0, al ; hlt
// The loop matters: on the broken nested hosts a guest enters long mode fine
// but then runs about a thousand times slower than native (a Linux kernel's
// decompressor takes minutes). Natively the loop takes a few milliseconds;
// there it takes about ten seconds, far past the timeout.
constexpr std::array<std::uint8_t, 20> k_long_mode_code = {
    0x48, 0xb9,          0x40, 0x4b,         0x4c, 0x00, 0x00, 0x00, 0x00, 0x00, // mov rcx, 5000000
    0x48, 0xff,          0xc9,                                                   // dec rcx
    0x75, 0xfb,                                                                  // jnz -5
    0xb0, k_probe_value, 0xe6, k_probe_port, 0xf4};

enum class GuestMode : std::uint8_t { real = 0, long_mode = 1 };

// Steps the child reports through the pipe before doing them, so that after a
// timeout the parent knows where the child was stuck.
enum class Step : std::uint8_t {
  open = 1,
  api_version,
  create_vm,
  set_memory,
  create_vcpu,
  map_run,
  set_registers,
  run,
  unexpected_exit,
  done,
};

struct Progress {
  Step step;
  GuestMode mode;
  int err;         // errno of a failed call, 0 otherwise
  int exit_reason; // kvm_run::exit_reason for unexpected_exit
};

// Only async-signal-safe calls below (the child of a possibly multi-threaded
// process): open, ioctl, mmap, write, _exit.
void
report(int fd, Step step, GuestMode mode, int err = 0, int exit_reason = 0) noexcept {
  const Progress p{step, mode, err, exit_reason};
  [[maybe_unused]] const auto n = ::write(fd, &p, sizeof p);
}

[[noreturn]] void
fail(int fd, Step step, GuestMode mode) noexcept {
  report(fd, step, mode, errno);
  ::_exit(1);
}

void
set_long_mode(kvm_sregs &sregs, std::uint8_t *mem) noexcept {
  // Identity-map the first 2 MiB with one large page.
  constexpr std::uint64_t present_rw = 0x3;
  constexpr std::uint64_t page_size_2m = 0x80;
  auto put = [mem](std::uint64_t addr, std::uint64_t value) {
    std::memcpy(mem + addr, &value, sizeof value);
  };
  put(k_pml4_addr, k_pdpt_addr | present_rw);
  put(k_pdpt_addr, k_pd_addr | present_rw);
  put(k_pd_addr, 0 | present_rw | page_size_2m);

  constexpr std::uint64_t cr0_pe = 1U << 0U;
  constexpr std::uint64_t cr0_mp = 1U << 1U;
  constexpr std::uint64_t cr0_et = 1U << 4U;
  constexpr std::uint64_t cr0_ne = 1U << 5U;
  constexpr std::uint64_t cr0_wp = 1U << 16U;
  constexpr std::uint64_t cr0_am = 1U << 18U;
  constexpr std::uint64_t cr0_pg = 1U << 31U;
  constexpr std::uint64_t cr4_pae = 1U << 5U;
  constexpr std::uint64_t efer_lme = 1U << 8U;
  constexpr std::uint64_t efer_lma = 1U << 10U;
  sregs.cr3 = k_pml4_addr;
  sregs.cr4 = cr4_pae;
  sregs.cr0 = cr0_pe | cr0_mp | cr0_et | cr0_ne | cr0_wp | cr0_am | cr0_pg;
  sregs.efer = efer_lme | efer_lma;

  kvm_segment seg{};
  seg.base = 0;
  seg.limit = 0xffffffff;
  seg.selector = 1U << 3U;
  seg.present = 1;
  seg.type = 11; // execute/read, accessed
  seg.dpl = 0;
  seg.db = 0;
  seg.s = 1;
  seg.l = 1;
  seg.g = 1;
  sregs.cs = seg;
  seg.type = 3; // read/write, accessed
  seg.selector = 2U << 3U;
  seg.l = 0;
  seg.db = 1;
  sregs.ds = seg;
  sregs.es = seg;
  sregs.fs = seg;
  sregs.gs = seg;
  sregs.ss = seg;
}

void
run_guest(int kvm, int fd, GuestMode mode) noexcept {
  report(fd, Step::create_vm, mode);
  const int vm = ::ioctl(kvm, KVM_CREATE_VM, 0UL);
  if (vm < 0) {
    fail(fd, Step::create_vm, mode);
  }
  // Needed for real mode on Intel hosts without unrestricted guest; harmless
  // (or rejected, which we ignore) elsewhere.
  [[maybe_unused]] const int tss = ::ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL);

  report(fd, Step::set_memory, mode);
  void *mem_raw = ::mmap(
      nullptr, k_guest_mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem_raw == MAP_FAILED) {
    fail(fd, Step::set_memory, mode);
  }
  auto *mem = static_cast<std::uint8_t *>(mem_raw);
  if (mode == GuestMode::real) {
    std::memcpy(mem + k_code_addr, k_real_mode_code.data(), k_real_mode_code.size());
  } else {
    std::memcpy(mem + k_code_addr, k_long_mode_code.data(), k_long_mode_code.size());
  }
  kvm_userspace_memory_region region{};
  region.slot = 0;
  region.guest_phys_addr = 0;
  region.memory_size = k_guest_mem_size;
  // The KVM ABI takes the mapping's address as an integer.
  region.userspace_addr =
      reinterpret_cast<std::uintptr_t>(mem_raw); // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
  if (::ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
    fail(fd, Step::set_memory, mode);
  }

  report(fd, Step::create_vcpu, mode);
  const int vcpu = ::ioctl(vm, KVM_CREATE_VCPU, 0UL);
  if (vcpu < 0) {
    fail(fd, Step::create_vcpu, mode);
  }

  report(fd, Step::map_run, mode);
  const int run_size = ::ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0UL);
  if (run_size <= 0) {
    fail(fd, Step::map_run, mode);
  }
  void *run_raw =
      ::mmap(nullptr, static_cast<std::size_t>(run_size), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run_raw == MAP_FAILED) {
    fail(fd, Step::map_run, mode);
  }
  auto *run = static_cast<kvm_run *>(run_raw);

  report(fd, Step::set_registers, mode);
  kvm_sregs sregs{};
  if (::ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) {
    fail(fd, Step::set_registers, mode);
  }
  if (mode == GuestMode::real) {
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
  } else {
    set_long_mode(sregs, mem);
  }
  if (::ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) {
    fail(fd, Step::set_registers, mode);
  }
  kvm_regs regs{};
  regs.rflags = 0x2; // bit 1 is reserved and must be set
  regs.rip = k_code_addr;
  regs.rsp = k_guest_mem_size;
  if (::ioctl(vcpu, KVM_SET_REGS, &regs) < 0) {
    fail(fd, Step::set_registers, mode);
  }

  bool saw_out = false;
  for (int i = 0; i < 4; ++i) {
    report(fd, Step::run, mode);
    if (::ioctl(vcpu, KVM_RUN, 0UL) < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail(fd, Step::run, mode);
    }
    // kvm_run is the kernel's ABI: which union member is valid follows
    // from exit_reason, checked first.
    // NOLINTBEGIN(cppcoreguidelines-pro-type-union-access)
    if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT &&
        run->io.port == k_probe_port && run->io.size == 1) {
      const auto *data =
          static_cast<const std::uint8_t *>(static_cast<const void *>(run)) + run->io.data_offset;
      // NOLINTEND(cppcoreguidelines-pro-type-union-access)
      if (*data == k_probe_value) {
        saw_out = true;
        continue;
      }
    }
    if (run->exit_reason == KVM_EXIT_HLT && saw_out) {
      return;
    }
    report(fd, Step::unexpected_exit, mode, 0, static_cast<int>(run->exit_reason));
    ::_exit(1);
  }
  report(fd, Step::unexpected_exit, mode, 0, -1);
  ::_exit(1);
}

// A vCPU stuck in a broken nested hypervisor can keep the killed child alive
// (in the kernel) for minutes. It must not hold our stdout/stderr or any other
// descriptor meanwhile: whoever reads our output (ctest, a pipeline) would wait
// for it. Keep only the progress pipe.
void
detach_descriptors(int keep_fd) noexcept {
  const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) {
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(devnull, STDOUT_FILENO);
    ::dup2(devnull, STDERR_FILENO);
  }
  // keep_fd > STDERR_FILENO (see probe_kvm); best effort on old kernels.
  if (keep_fd > STDERR_FILENO + 1) {
    ::close_range(STDERR_FILENO + 1, static_cast<unsigned>(keep_fd) - 1, 0);
  }
  ::close_range(static_cast<unsigned>(keep_fd) + 1, ~0U, 0);
}

[[noreturn]] void
probe_child(int fd) noexcept {
  detach_descriptors(fd);
  report(fd, Step::open, GuestMode::real);
  const int kvm = ::open(k_kvm_device, O_RDWR | O_CLOEXEC);
  if (kvm < 0) {
    fail(fd, Step::open, GuestMode::real);
  }
  report(fd, Step::api_version, GuestMode::real);
  const int version = ::ioctl(kvm, KVM_GET_API_VERSION, 0UL);
  if (version != k_kvm_api_version) {
    report(fd, Step::api_version, GuestMode::real, version < 0 ? errno : 0, version);
    ::_exit(1);
  }
  run_guest(kvm, fd, GuestMode::real);
  run_guest(kvm, fd, GuestMode::long_mode);
  report(fd, Step::done, GuestMode::long_mode);
  ::_exit(0);
}

std::string_view
step_name(Step step) {
  switch (step) {
  case Step::open:
    return "open /dev/kvm";
  case Step::api_version:
    return "KVM_GET_API_VERSION";
  case Step::create_vm:
    return "KVM_CREATE_VM";
  case Step::set_memory:
    return "KVM_SET_USER_MEMORY_REGION";
  case Step::create_vcpu:
    return "KVM_CREATE_VCPU";
  case Step::map_run:
    return "mmap of the vCPU run area";
  case Step::set_registers:
    return "KVM_SET_SREGS/KVM_SET_REGS";
  case Step::run:
  case Step::unexpected_exit:
    return "KVM_RUN";
  case Step::done:
    return "done";
  }
  return "?";
}

std::string_view
mode_name(GuestMode mode) {
  return mode == GuestMode::real ? "real-mode" : "long-mode";
}

std::string
duration_text(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) {
    return fmt::format("{} s", d.count() / 1000);
  }
  return fmt::format("{} ms", d.count());
}

} // namespace

KvmProbeResult
probe_kvm(std::chrono::milliseconds timeout) {
  struct stat st {};
  if (::stat(k_kvm_device, &st) != 0) {
    return {KvmProbeOutcome::no_device, fmt::format("{} does not exist", k_kvm_device)};
  }
  if (::access(k_kvm_device, R_OK | W_OK) != 0) {
    return {KvmProbeOutcome::no_access,
            fmt::format("{} present but not accessible: {}", k_kvm_device, fs::errno_text(errno))};
  }

  std::array<int, 2> pipe_fds{-1, -1};
  if (::pipe2(pipe_fds.data(), O_CLOEXEC | O_NONBLOCK) != 0) {
    return {KvmProbeOutcome::unusable, fmt::format("pipe2: {}", fs::errno_text(errno))};
  }
  fs::Fd read_end(pipe_fds[0]);
  fs::Fd write_end(pipe_fds[1]);
  if (write_end.get() <= STDERR_FILENO) {
    // The child keeps only this descriptor beside /dev/null on 0-2.
    write_end = fs::Fd(::fcntl(write_end.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1));
    if (!write_end) {
      return {KvmProbeOutcome::unusable, fmt::format("fcntl: {}", fs::errno_text(errno))};
    }
  }

  const pid_t pid = ::fork();
  if (pid < 0) {
    return {KvmProbeOutcome::unusable, fmt::format("fork: {}", fs::errno_text(errno))};
  }
  if (pid == 0) {
    probe_child(write_end.get());
  }
  write_end.close();

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  bool exited = false;
  bool timed_out = false;
  while (true) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      exited = true;
      break;
    }
    if (r < 0 && errno != EINTR) {
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (timed_out) {
    ::kill(pid, SIGKILL);
    // A vCPU thread stuck in the kernel may take a moment to die; do not wait
    // forever (an unreaped child only costs a zombie).
    const auto grace = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < grace) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // The last progress record says where the child got to.
  Progress last{Step::open, GuestMode::real, 0, 0};
  Progress p{};
  bool any = false;
  // (read_some retries EINTR: a signal to cvmforge must not cut the records short.)
  while (fs::read_some(read_end.get(), std::as_writable_bytes(std::span(&p, 1))) ==
         static_cast<ssize_t>(sizeof p)) {
    last = p;
    any = true;
  }
  const std::string where =
      any ? fmt::format("{} ({} guest)", step_name(last.step), mode_name(last.mode)) : "start-up";

  if (timed_out) {
    return {KvmProbeOutcome::timed_out,
            fmt::format(
                "{} present but {} did not return within {}", k_kvm_device, where, duration_text(timeout))};
  }
  if (!exited) {
    return {KvmProbeOutcome::unusable, fmt::format("waitpid: {}", fs::errno_text(errno))};
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && any && last.step == Step::done) {
    return {KvmProbeOutcome::ok,
            fmt::format("{} works (real-mode and long-mode test guests ran)", k_kvm_device)};
  }
  if (last.step == Step::open && last.err != 0) {
    return {KvmProbeOutcome::no_access, fmt::format("open {}: {}", k_kvm_device, fs::errno_text(last.err))};
  }
  if (last.step == Step::unexpected_exit) {
    return {KvmProbeOutcome::unusable,
            fmt::format("{} present but the {} test guest stopped with KVM exit reason {}",
                        k_kvm_device,
                        mode_name(last.mode),
                        last.exit_reason)};
  }
  if (last.step == Step::api_version) {
    return {KvmProbeOutcome::unusable,
            fmt::format(
                "{} reports API version {} (want {})", k_kvm_device, last.exit_reason, k_kvm_api_version)};
  }
  if (WIFSIGNALED(status)) {
    return {KvmProbeOutcome::unusable,
            fmt::format(
                "{} present but the probe died with signal {} in {}", k_kvm_device, WTERMSIG(status), where)};
  }
  return {KvmProbeOutcome::unusable,
          fmt::format("{} present but {} failed: {}",
                      k_kvm_device,
                      where,
                      last.err != 0 ? fs::errno_text(last.err) : std::string("unknown error"))};
}

AccelDecision
decide_accel(std::optional<std::string_view> env_override, const KvmProbe &probe) {
  if (env_override) {
    if (*env_override == "kvm") {
      return {Accel::kvm, "CVM_ACCEL=kvm"};
    }
    if (*env_override == "tcg") {
      return {Accel::tcg, "CVM_ACCEL=tcg"};
    }
    if (!env_override->empty()) {
      log::warning("ignoring CVM_ACCEL='{}' (want kvm or tcg); probing /dev/kvm", *env_override);
    }
  }
  const KvmProbeResult result = probe();
  if (result.outcome == KvmProbeOutcome::ok) {
    return {Accel::kvm, result.detail};
  }
  return {Accel::tcg, result.detail};
}

const AccelDecision &
accel_decision() {
  static const AccelDecision decision = [] {
    const char *env = std::getenv("CVM_ACCEL"); // NOLINT(concurrency-mt-unsafe)
    std::optional<std::string_view> override_value;
    if (env != nullptr) {
      override_value = env;
    }
    AccelDecision d = decide_accel(override_value, [] { return probe_kvm(); });
    log::debug("accelerator: {}: {}", to_string(d.accel), d.reason);
    return d;
  }();
  return decision;
}

std::string_view
to_string(Accel accel) noexcept {
  return accel == Accel::kvm ? "kvm" : "tcg";
}

std::string
accel_name() {
  return std::string(to_string(accel_decision().accel));
}

std::string
describe_accel() {
  const AccelDecision &d = accel_decision();
  return fmt::format("{}: {}", to_string(d.accel), d.reason);
}

} // namespace cvm::host
