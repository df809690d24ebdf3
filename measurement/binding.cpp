// SPDX-License-Identifier: Apache-2.0
#include "measurement/binding.hpp"

#include "lib/util/text.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace cvm::measure {

namespace {

// The facts the verdict rests on; each is cited in measurement/README.md
// ("What binds the key to the image").
constexpr int k_ovmf_first_cc_measurement = 202302; // edk2 4d37059d8e: TdTcg2Dxe in OvmfPkgX64
constexpr std::pair<int, int> k_linux_stub_cc_measurement{6, 9};
// systemd-stub <= 253 takes no SMBIOS command-line extras (added in v254).
constexpr int k_systemd_stub_no_extras = 253;

std::string
rtmr_name(std::optional<std::size_t> rtmr) {
  return rtmr ? fmt::format("RTMR{}", *rtmr) : std::string("MRTD");
}

class Builder {
public:
  explicit Builder(const BindingInputs &in)
    : m_in(in) {
    m_verdict.mode = in.mode;
  }

  // Is there a reference value for this register at all?
  [[nodiscard]] std::optional<std::string>
  why_not_pinned(std::optional<std::size_t> rtmr) const {
    if (!m_in.tdx) {
      return std::string("sample evidence measures nothing (INSECURE-TEST)");
    }
    if (!rtmr) {
      if (!m_in.firmware) {
        return std::string("no firmware file in the measurement profile, so there is no reference MRTD");
      }
      return std::nullopt;
    }
    if (m_in.ovmf_version == 0) {
      return std::string("no measurement profile, so there are no reference values to pin");
    }
    if (m_in.ovmf_version < k_ovmf_first_cc_measurement) {
      return fmt::format("the firmware (edk2-stable{}) measures nothing into the RTMRs; TDX RTMR "
                         "measurement arrived in edk2-stable{}",
                         m_in.ovmf_version,
                         k_ovmf_first_cc_measurement);
    }
    if (*rtmr == 0 && !m_in.rtmr0_inputs) {
      return std::string("RTMR0 cannot be predicted: the profile has neither the ACPI tables and boot "
                         "variables captured from a reference TD nor its event log (reference_ccel)");
    }
    if (m_in.rtmr_not_predicted.count(*rtmr) != 0) {
      return fmt::format("RTMR{} was not predicted (see the reference values' not-predicted events)", *rtmr);
    }
    return std::nullopt;
  }

  // An input measured into `rtmr` (nullopt: MRTD) by `bound_by`.
  void
  measured(std::string input,
           std::string host_control,
           std::string bound_by,
           std::optional<std::size_t> rtmr) {
    BindingItem item;
    item.input = std::move(input);
    item.host_control = std::move(host_control);
    item.bound_by = fmt::format("{}: {}", rtmr_name(rtmr), bound_by);
    item.rtmr = rtmr;
    const auto why = why_not_pinned(rtmr);
    item.pinned = !why;
    m_pin_missing = m_pin_missing || why.has_value();
    item.state = why ? BindingState::unbound : BindingState::bound;
    item.reason = why.value_or("");
    if (rtmr) {
      m_verdict.rtmrs.insert(*rtmr);
    }
    m_verdict.items.push_back(std::move(item));
  }

  // An input no register binds.
  void
  unmeasured(std::string input, std::string host_control, std::string reason) {
    BindingItem item;
    item.input = std::move(input);
    item.host_control = std::move(host_control);
    item.bound_by = "nothing";
    item.measured = false;
    item.state = BindingState::unbound;
    item.reason = std::move(reason);
    m_verdict.items.push_back(std::move(item));
    m_boot_path_unbound = true;
  }

  // An input measured into `rtmr` only if the guest kernel's EFI stub
  // measures initrd and command line (Linux >= 6.9).
  void
  by_kernel_stub(std::string input, std::string host_control, std::string event) {
    const auto &v = m_in.kernel_version;
    if (v && *v < k_linux_stub_cc_measurement) {
      unmeasured(std::move(input),
                 std::move(host_control),
                 fmt::format("the guest kernel (Linux {}.{}) predates Linux 6.9, whose EFI stub is the first "
                             "to measure the initrd and command line into RTMR2",
                             v->first,
                             v->second));
      return;
    }
    measured(std::move(input), std::move(host_control), std::move(event), 2);
    if (!v && m_verdict.items.back().state == BindingState::bound) {
      auto &item = m_verdict.items.back();
      item.state = BindingState::conditional;
      item.reason = "bound only if the guest kernel is Linux >= 6.9 (its EFI stub measures initrd and "
                    "command line); checked when the base image is inspected";
    }
  }

  // Kernel (RTMR1), then initramfs and command line, which only a Linux
  // >= 6.9 EFI stub measures (RTMR2): the GRUB and direct paths.
  struct KernelSource {
    std::string host_control;
    std::string bound_by;
  };
  void
  kernel_initrd_cmdline(KernelSource kernel, std::string initrd_from, std::string cmdline_from) {
    measured("kernel", std::move(kernel.host_control), std::move(kernel.bound_by), 1);
    by_kernel_stub("initramfs (agent, its configuration, KBS CA, LUKS2 header policy)",
                   std::move(initrd_from),
                   "event linux.initrd (Linux EFI stub)");
    by_kernel_stub(
        "kernel command line", std::move(cmdline_from), "event linux.load_options (Linux EFI stub)");
  }

  BindingItem &
  last() {
    return m_verdict.items.back();
  }

  BindingVerdict
  take() {
    add_ways_out();
    return std::move(m_verdict);
  }

private:
  void
  add_ways_out() {
    auto &w = m_verdict.ways_out;
    if (m_verdict.bindable()) {
      return;
    }
    if (!m_in.tdx) {
      w.emplace_back("sample evidence is for tests: use tee: tdx for real images");
      return;
    }
    if (m_boot_path_unbound && m_in.mode != BootMode::uki) {
      w.emplace_back("boot.mode: uki: a unified kernel image built with the guest's own systemd EFI stub, "
                     "started by the firmware from the ESP, binds kernel, initramfs and command line "
                     "into RTMR1 on any kernel");
    }
    if (m_boot_path_unbound && m_in.mode != BootMode::direct &&
        (!m_in.kernel_version || *m_in.kernel_version >= k_linux_stub_cc_measurement)) {
      w.emplace_back("boot.mode: direct with a Linux >= 6.9 guest kernel (QEMU -kernel/-initrd/-append; "
                     "the kernel's EFI stub measures initrd and command line)");
    }
    if (!m_pin_missing) {
      // nothing to add about the profile
    } else if (m_in.ovmf_version == 0 || !m_in.firmware) {
      w.emplace_back("measurement.profile naming the TD's firmware (a TDVF from edk2-stable202302 or later) "
                     "and a reference_ccel captured once from a reference TD");
    } else if (m_in.ovmf_version < k_ovmf_first_cc_measurement) {
      w.emplace_back("a measuring firmware: a TDVF built from edk2-stable202302 or later (e.g. Debian 13's "
                     "ovmf, edk2-stable202502)");
    } else if (!m_in.rtmr0_inputs) {
      w.emplace_back("measurement.profiles.<name>.reference_ccel: the event log of a reference TD of the "
                     "same VM shape (or platform: the captured ACPI tables and boot variables)");
    }
    w.emplace_back("attestation.insecure_allow_unbound: true, for test setups only: image, report and "
                   "resource policy are then marked NOT BOUND");
  }

  const BindingInputs &m_in;
  BindingVerdict m_verdict;
  bool m_boot_path_unbound = false; // an input the boot path measures nowhere
  bool m_pin_missing = false;       // a register without a reference value
};

} // namespace

std::string
to_string(BindingState state) {
  switch (state) {
  case BindingState::bound:
    return "bound";
  case BindingState::unbound:
    return "unbound";
  case BindingState::conditional:
    return "conditional";
  }
  return "unbound";
}

bool
BindingVerdict::bound() const {
  return std::all_of(
      items.begin(), items.end(), [](const BindingItem &i) { return i.state == BindingState::bound; });
}

bool
BindingVerdict::bindable() const {
  return std::none_of(
      items.begin(), items.end(), [](const BindingItem &i) { return i.state == BindingState::unbound; });
}

std::vector<const BindingItem *>
BindingVerdict::unbound_items() const {
  std::vector<const BindingItem *> out;
  for (const auto &i : items) {
    if (i.state != BindingState::bound) {
      out.push_back(&i);
    }
  }
  return out;
}

BindingVerdict
binding_verdict(const BindingInputs &in) {
  Builder b(in);

  // Firmware and platform: the same on every boot path.
  b.measured("firmware code (TDVF boot firmware volume)",
             "the firmware file the host passes to QEMU (-bios)",
             "TDH.MEM.PAGE.ADD/TDH.MR.EXTEND of the BFV while the TD is built",
             std::nullopt);
  b.measured("firmware configuration (TD HOB, variable store, Secure Boot variables)",
             "the host's QEMU: memory map, and the variable store inside the firmware file",
             "events td_hob, cfv, secure_boot.*",
             0);
  b.measured("boot variables (BootOrder, Boot####: which loader runs, with which load options)",
             "the variable store and QEMU's fw_cfg boot order",
             "events boot_variable.* (EV_EFI_VARIABLE_BOOT)",
             0);
  b.measured("ACPI tables (AML the kernel executes)",
             "QEMU's fw_cfg ACPI blobs",
             "events acpi.loader, acpi.rsdp, acpi.tables",
             0);

  switch (in.mode) {
  case BootMode::uki:
    b.measured("unified kernel image: systemd EFI stub, kernel, initramfs (agent, its configuration, KBS "
               "CA, LUKS2 header policy), command line, os-release",
               "the file \\EFI\\BOOT\\BOOTX64.EFI on the unencrypted ESP",
               "event uki (Authenticode SHA-384 of the whole PE, loaded by the firmware)",
               1);
    // systemd-stub replaces its .cmdline with the LoadOptions it was started
    // with unless Secure Boot is on. Only the firmware's boot manager (from a
    // Boot#### entry, RTMR0) or another EFI application (RTMR1) can pass them.
    b.measured("load options that replace the UKI's command line (systemd-stub honours them without Secure "
               "Boot)",
               "a Boot#### entry's optional data, or a loader that starts the UKI",
               "boot variables (RTMR0) and every loaded EFI application (RTMR1)",
               0);
    b.measured("GPT of the boot disk", "the disk's first sectors", "event gpt (EV_EFI_GPT_EVENT)", 1);
    if (!in.systemd_stub_version || *in.systemd_stub_version > k_systemd_stub_no_extras) {
      // systemd-stub 254 and later append SMBIOS type 11 command-line
      // extras and pass ESP add-ons to the initrd when Secure Boot is off;
      // only its own events (RTMR2) record them.
      b.measured("command-line extras and add-ons systemd-stub >= 254 accepts without Secure Boot (SMBIOS "
                 "type 11 io.systemd.stub.kernel-cmdline-extra, credentials, system extensions)",
                 "QEMU's -smbios options and files on the unencrypted ESP",
                 "systemd-stub's own events",
                 2);
      auto &last = b.last();
      if (!in.systemd_stub_version && last.state == BindingState::bound) {
        last.state = BindingState::conditional;
        last.reason = "bound if the guest's systemd-stub is 253 or older (it accepts none of these), or if "
                      "RTMR2 is predicted; checked when the UKI is made";
      }
    }
    break;
  case BootMode::direct:
    b.kernel_initrd_cmdline({"the file QEMU loads with -kernel",
                             "event kernel (Authenticode SHA-384 as QEMU hands it to the firmware)"},
                            "the file QEMU loads with -initrd",
                            "QEMU's -append");
    break;
  case BootMode::grub:
    if (in.shim) {
      b.measured("shim", "\\EFI\\BOOT\\BOOTX64.EFI on the unencrypted ESP", "event shim (Authenticode)", 1);
    }
    b.measured("GRUB image", "the GRUB EFI binary on the unencrypted ESP", "event grub (Authenticode)", 1);
    if (in.grub_flavor && *in.grub_flavor != GrubFlavor::none) {
      b.measured("GRUB configuration and commands (grub.cfg: what it loads, ACPI tables it may add)",
                 "grub.cfg and GRUB modules on the unencrypted /boot",
                 "events grub.command / grub.file",
                 2);
    } else {
      b.unmeasured("GRUB configuration and commands (grub.cfg: what it loads, ACPI tables it may add)",
                   "grub.cfg and GRUB modules on the unencrypted /boot",
                   in.grub_flavor ? "the guest's GRUB measures none of its commands (Debian's GRUB 2.06 and "
                                    "2.12 have no TDX measurement)"
                                  : "cvmforge cannot show that the guest's GRUB measures its commands; "
                                    "Debian's GRUB 2.06 and 2.12 do not");
    }
    b.kernel_initrd_cmdline({"vmlinuz on the unencrypted /boot",
                             "event kernel (Authenticode, loaded by GRUB through the firmware)"},
                            "initrd.img on the unencrypted /boot",
                            "grub.cfg on the unencrypted /boot");
    break;
  }
  return b.take();
}

nlohmann::ordered_json
to_json(const BindingVerdict &verdict) {
  nlohmann::ordered_json j;
  j["bound"] = verdict.bound();
  j["boot_mode"] = to_string(verdict.mode);
  auto rtmrs = nlohmann::ordered_json::array();
  for (const auto r : verdict.rtmrs) {
    rtmrs.push_back(r);
  }
  j["pinned_registers"] = nlohmann::ordered_json::array({"mrtd"});
  for (const auto r : verdict.rtmrs) {
    j["pinned_registers"].push_back(fmt::format("rtmr{}", r));
  }
  auto items = nlohmann::ordered_json::array();
  for (const auto &i : verdict.items) {
    nlohmann::ordered_json ij;
    ij["input"] = i.input;
    ij["host_control"] = i.host_control;
    ij["bound_by"] = i.bound_by;
    ij["register"] = i.measured ? nlohmann::ordered_json(rtmr_name(i.rtmr)) : nlohmann::ordered_json(nullptr);
    ij["pinned_by_policy"] = i.pinned;
    ij["state"] = to_string(i.state);
    if (!i.reason.empty()) {
      ij["reason"] = i.reason;
    }
    items.push_back(std::move(ij));
  }
  j["items"] = std::move(items);
  j["ways_out"] = verdict.ways_out;
  return j;
}

std::string
to_text(const BindingVerdict &verdict) {
  std::string out = fmt::format("Binding ({} boot): {}\n",
                                to_string(verdict.mode),
                                verdict.bound()      ? "every host-controlled input is bound"
                                : verdict.bindable() ? "bound if the conditions below hold"
                                                     : "NOT BOUND");
  for (const auto &i : verdict.items) {
    out += text::wrap(i.input, fmt::format("  {:<11} ", to_string(i.state)), "              ");
    out += text::wrap(i.host_control, "              host: ", "                    ");
    out += text::wrap(
        i.bound_by + (i.pinned ? " (pinned)" : ""), "              by:   ", "                    ");
    if (!i.reason.empty()) {
      out += text::wrap(i.reason, "              why:  ", "                    ");
    }
  }
  if (!verdict.ways_out.empty()) {
    out += "  Ways out:\n";
    for (const auto &w : verdict.ways_out) {
      out += text::wrap(w, "    - ", "      ");
    }
  }
  return out;
}

std::string
unbound_summary(const BindingVerdict &verdict) {
  std::string out;
  for (const auto *i : verdict.unbound_items()) {
    if (i->state == BindingState::unbound) {
      out += fmt::format("{}{} is not bound ({})", out.empty() ? "" : "; ", i->input, i->reason);
    }
  }
  for (const auto *i : verdict.unbound_items()) {
    if (i->state == BindingState::conditional) {
      out += fmt::format("{}{}: {}", out.empty() ? "" : "; ", i->input, i->reason);
    }
  }
  return out;
}

} // namespace cvm::measure
