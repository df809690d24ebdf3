// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

// Which accelerator the libguestfs appliance (and any QEMU we start) uses: a
// property of the host, found by probing it. lib/guestfs turns the decision
// into appliance settings (lib/guestfs/backend_settings.hpp).
//
// On some hosts /dev/kvm exists and opens, yet a nested guest hangs as soon as
// it leaves real mode. So existence is not enough: probe_kvm() runs two tiny
// guests (real mode, then 64-bit long mode with paging) in a forked child that
// is killed after a timeout. The decision is made once per process.
namespace cvm::host {

enum class Accel { kvm, tcg };

// What probe_kvm() found.
enum class KvmProbeOutcome {
  ok,        // both guests ran `out` and `hlt` and returned to us
  no_device, // /dev/kvm does not exist
  no_access, // /dev/kvm cannot be opened read-write by this user
  unusable,  // an ioctl failed or the guest exited unexpectedly
  timed_out, // KVM_RUN did not return within the timeout
};

struct KvmProbeResult {
  KvmProbeOutcome outcome = KvmProbeOutcome::no_device;
  std::string detail; // human-readable, e.g. "KVM_RUN did not return within 3 s"
};

// The decision with its reason, for reports and `--verbose`.
struct AccelDecision {
  Accel accel = Accel::tcg;
  std::string reason; // e.g. "/dev/kvm present but KVM_RUN did not return within 3 s"
};

using KvmProbe = std::function<KvmProbeResult()>;

// Probes /dev/kvm: KVM_GET_API_VERSION, KVM_CREATE_VM, KVM_CREATE_VCPU and
// KVM_RUN of a real-mode and a long-mode guest that each execute `out` then
// `hlt`. Runs in a forked child that is SIGKILLed after `timeout`. Never throws
// (failure to fork is reported as `unusable`).
KvmProbeResult probe_kvm(std::chrono::milliseconds timeout = std::chrono::seconds(3));

// Pure decision logic: `env_override` is the value of CVM_ACCEL (nullopt if
// unset). "kvm" or "tcg" win without probing; any other value is logged as a
// warning and ignored. Otherwise `probe` decides: ok -> kvm, anything -> tcg.
AccelDecision decide_accel(std::optional<std::string_view> env_override, const KvmProbe &probe);

// The process-wide decision: decide_accel(getenv("CVM_ACCEL"), probe_kvm),
// computed on first use (thread-safe) and cached.
const AccelDecision &accel_decision();

// "kvm" or "tcg".
std::string_view to_string(Accel accel) noexcept;

// accel_decision() as "kvm" or "tcg".
std::string accel_name();

// accel_decision() as "<name>: <reason>", e.g.
// "tcg: /dev/kvm present but KVM_RUN did not return within 3 s".
std::string describe_accel();

} // namespace cvm::host
