// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "measurement/predict.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

// The binding verdict: for an attested image, every input the host controls
// that can change the code or configuration running before and while the disk
// key is used, with the register and event that bind it and whether the
// verifier's policy can check that register (it has a reference value). The
// key is bound to the image only when every item is bound; anything else lets
// a host run code of its choosing that still attests like the image.
//
// Pure: derived from the measurement model's facts (which firmware measures,
// which kernels' EFI stubs measure initrd and command line, which GRUB builds
// measure their commands, what systemd's EFI stub does with load options), not
// from a boot. The same function serves `validate`/`plan` (before the base
// image is inspected: some facts unknown), `build` (after inspection) and
// `measure` (from the artifacts themselves).
namespace cvm::measure {

enum class BindingState {
  bound,       // measured into a register the policy pins
  unbound,     // the host can change it without changing a pinned register
  conditional, // bound if a fact that is not known yet holds (checked when it is)
};

std::string to_string(BindingState state);

struct BindingInputs {
  BootMode mode = BootMode::grub;
  // Attested with TDX evidence. false (sample evidence): nothing is measured.
  bool tdx = true;
  // A firmware file is named, so MRTD has a reference value.
  bool firmware = false;
  // edk2-stable tag (yyyymm) of the firmware; 0 = no measurement profile.
  int ovmf_version = 0;
  // The platform inputs RTMR0 needs are supplied (ACPI tables and, for grub
  // and UKI boot, the boot variables; or a reference event log).
  bool rtmr0_inputs = false;
  // The guest kernel's version; nullopt before the base image is inspected.
  std::optional<std::pair<int, int>> kernel_version;
  // Grub boot: how the guest's GRUB measures; nullopt before inspection.
  std::optional<GrubFlavor> grub_flavor;
  bool shim = false;
  // UKI boot: systemd-stub's major version; nullopt before inspection.
  std::optional<int> systemd_stub_version;
  // Registers that turned out not predicted after all (the build's measure
  // stage knows; validate/plan pass none).
  std::set<std::size_t> rtmr_not_predicted;
};

struct BindingItem {
  std::string input;               // "initramfs"
  std::string host_control;        // how the host reaches it
  std::string bound_by;            // "RTMR1 event uki (Authenticode SHA-384 of the UKI)"
  std::optional<std::size_t> rtmr; // nullopt = MRTD (when measured)
  bool measured = true;            // false: no register sees this input at all
  bool pinned = false;             // the policy checks that register (reference value present)
  BindingState state = BindingState::unbound;
  std::string reason; // why unbound or the condition; empty when bound
};

struct BindingVerdict {
  BootMode mode = BootMode::grub;
  std::vector<BindingItem> items;
  // Registers the policy must pin (MRTD is always pinned).
  std::set<std::size_t> rtmrs;
  // How to make an unbound verdict bound, most recommended first.
  std::vector<std::string> ways_out;

  // Every item bound.
  [[nodiscard]] bool bound() const;
  // No item unbound (conditional ones allowed): what validate/plan require.
  [[nodiscard]] bool bindable() const;
  [[nodiscard]] std::vector<const BindingItem *> unbound_items() const;
};

BindingVerdict binding_verdict(const BindingInputs &in);

nlohmann::ordered_json to_json(const BindingVerdict &verdict);

// A table for humans, one line per item, then the ways out if not bound.
std::string to_text(const BindingVerdict &verdict);

// One paragraph naming the unbound inputs and the ways out (for errors).
std::string unbound_summary(const BindingVerdict &verdict);

} // namespace cvm::measure
