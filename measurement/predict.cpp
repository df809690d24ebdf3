// SPDX-License-Identifier: Apache-2.0
#include "measurement/predict.hpp"

#include "lib/util/error.hpp"
#include "lib/util/hex.hpp"
#include "measurement/event_builder.hpp"
#include "measurement/eventlog.hpp"
#include "measurement/gpt.hpp"
#include "measurement/kernel.hpp"
#include "measurement/pe.hpp"
#include "measurement/rtmr.hpp"
#include "measurement/td_hob.hpp"
#include "measurement/uefi.hpp"
#include "measurement/uki.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <set>
#include <stdexcept>

namespace cvm::measure {

namespace {

constexpr int k_ovmf_first_cc_measurement = 202302;     // edk2 4d37059d8e
constexpr int k_ovmf_separator_moved = 202411;          // edk2 efaf8931bb
constexpr int k_ovmf_named_kernel_blob = 202502;        // edk2 20df7c42bd (etc/boot/kernel)
constexpr int k_ovmf_new_event_layout = 202505;         // fw_cfg items, SMBIOS, Boot0001
constexpr QemuVersion k_qemu_no_header_patch{10, 2, 0}; // QEMU a7542a38f399
constexpr QemuVersion k_qemu_etc_boot_kernel{10, 0, 0}; // assumed, see README
constexpr QemuVersion k_qemu_single_pass{9, 0, 0};
constexpr std::pair<int, int> k_linux_stub_cc_measurement{6, 9};
// systemd-stub up to this version measures only through TCG2 (systemd
// v253:src/boot/efi/measure.c tpm_log_event(); EFI_CC_MEASUREMENT_PROTOCOL
// support came with v256), so a TD sees none of its events. RTMR2 is
// modelled up to here.
constexpr int k_systemd_stub_tcg2_only = 253;
// From v252 on, systemd-stub starts the embedded kernel with LoadImage() +
// StartImage() when the kernel's PE header has MajorImageVersion >= 1 (Linux
// >= 5.8, LINUX_INITRD_MEDIA_GUID initrd loading), else through the EFI
// handover protocol (v252.31:src/boot/efi/linux.c:109-126, pe.c:230-232;
// v247..v251 always use the handover protocol). LoadImage() runs the
// firmware's Security2 handlers, and with Secure Boot off systemd-stub
// installs no override of them (secure-boot.c:187-188), so edk2's
// DxeTpm2MeasureBootLib measures the kernel as a second
// EV_EFI_BOOT_SERVICES_APPLICATION into PCR 4 = RTMR1 (seen by
// tests/e2e/tpm_oracle.sh on Debian 12's 252 stub and Linux 6.1).
constexpr int k_systemd_stub_load_image = 252;
// The last version whose linux.c / pe.c / secure-boot.c were read for this
// (v252..v257 decide the same way: v257 hands LoadImage() the .linux bytes
// with a vendor media device path, STUB_PAYLOAD_GUID 55c5d1f8-…; seen by a
// swtpm boot of Debian 13's 257.13); later stubs are not predicted.
constexpr int k_systemd_stub_load_image_checked = 257;
// From v256 on, systemd-stub measures through EFI_CC_MEASUREMENT_PROTOCOL
// when the firmware has it (a TD: TDVF maps PCR 8-15 to RTMR2). What v257
// measures without add-ons, credentials or load options: for each UKI
// section it knows, in the UKI specification's canonical order, one EV_IPL
// event over the section name with its NUL and one over the section's bytes
// (PCR 11). Only v257 is modelled (Debian 13's): its canonical list, and the
// initrd it hands the kernel (systemd_stub_257_initrd), were read from v257
// and checked against a swtpm boot of Debian 13's 257.13 UKI (tests/e2e:
// the attested Debian 13 `ok` and `onebyte` cases with the boot oracle).
constexpr int k_systemd_stub_cc_measurement = 256;
constexpr int k_systemd_stub_sections_checked = 257;
// The canonical order (UAPI.5 UKI specification, systemd v257
// src/fundamental/uki.c unified_sections[]). Sections cvmforge's own UKIs
// carry (.linux .osrel .cmdline .initrd .uname, and the stub's own .sbat)
// were seen measured by the oracle; a UKI with any other of these is not
// predicted rather than guessed (.pcrsig is never measured).
constexpr std::array<std::string_view, 6> k_stub_sections_seen = {
    ".linux", ".osrel", ".cmdline", ".initrd", ".uname", ".sbat"};
constexpr std::array<std::string_view, 8> k_stub_sections_not_modelled = {
    ".ucode", ".splash", ".dtb", ".pcrpkey", ".profile", ".dtbauto", ".hwids", ".efifw"};
constexpr std::uint16_t k_pe_machine_x86_64 = 0x8664;

constexpr std::string_view k_sbat_note =
    "assumed: shim applies its built-in \"previous\" SbatLevel (its default policy); supply "
    "sbat_level to override";
constexpr std::string_view k_calling_efi_app = "Calling EFI Application from Boot Option";
constexpr std::string_view k_exit_bs_invocation = "Exit Boot Services Invocation";
constexpr std::string_view k_exit_bs_success = "Exit Boot Services Returned with Success";

std::string
sha256_hex(std::span<const std::byte> data) {
  return to_hex(crypto::sha256(data));
}

std::string
sha384_hex(std::span<const std::byte> data) {
  return to_hex(crypto::sha384(data));
}

class EventList {
public:
  void
  add(std::size_t rtmr,
      std::uint32_t type,
      std::string label,
      std::string description,
      std::vector<std::string> depends_on,
      const crypto::Sha384 &digest) {
    append(rtmr, type, std::move(label), std::move(description), std::move(depends_on)).digest = digest;
  }

  void
  not_predicted(std::size_t rtmr,
                std::uint32_t type,
                std::string label,
                std::string description,
                std::vector<std::string> depends_on,
                std::string reason) {
    append(rtmr, type, std::move(label), std::move(description), std::move(depends_on)).not_predicted_reason =
        std::move(reason);
  }

  std::vector<PredictedEvent>
  take() {
    // Registers in order; within a register, measurement order (stable).
    std::stable_sort(
        m_events.begin(), m_events.end(), [](const auto &a, const auto &b) { return a.rtmr < b.rtmr; });
    return std::move(m_events);
  }

private:
  // A new event with what every event has; the caller adds its digest or the
  // reason it has none.
  PredictedEvent &
  append(std::size_t rtmr,
         std::uint32_t type,
         std::string label,
         std::string description,
         std::vector<std::string> depends_on) {
    PredictedEvent &e = m_events.emplace_back();
    e.rtmr = rtmr;
    e.type = type;
    e.label = std::move(label);
    e.description = std::move(description);
    e.depends_on = std::move(depends_on);
    return e;
  }

  std::vector<PredictedEvent> m_events;
};

struct Context {
  const BootArtifacts &artifacts;
  std::span<const std::byte> firmware;
  const PlatformProfile &profile;
  const TdvfMetadata &tdvf;
  EventList &events;
  std::vector<std::string> &notes;
};

void
rtmr0_secure_boot_and_separator(Context &c) {
  for (const std::string_view name : {"SecureBoot", "PK", "KEK", "db", "dbx"}) {
    const auto it = c.profile.secure_boot_variables.find(std::string(name));
    const std::vector<std::byte> empty;
    const auto &data = it == c.profile.secure_boot_variables.end() ? empty : it->second;
    c.events.add(0,
                 event_type::k_efi_variable_driver_config,
                 fmt::format("secure_boot_variable.{}", name),
                 fmt::format("{} ({} bytes{})", name, data.size(), data.empty() ? ", absent" : ""),
                 {"platform.secure_boot_variables"},
                 variable_digest(secure_boot_variable_guid(name), name, data));
  }
  c.events.add(0,
               event_type::k_separator,
               "separator.rtmr0",
               "PCR7 separator",
               {"firmware.ovmf_version"},
               separator_digest());
}

void
rtmr0_acpi(Context &c) {
  struct Blob {
    std::string_view label;
    std::string_view file;
    const std::optional<std::vector<std::byte>> *data;
  };
  const Blob blobs[] = {{"acpi.table_loader", "etc/table-loader", &c.profile.acpi_table_loader},
                        {"acpi.rsdp", "etc/acpi/rsdp", &c.profile.acpi_rsdp},
                        {"acpi.tables", "etc/acpi/tables", &c.profile.acpi_tables}};
  const std::vector<std::string> deps = {"platform.vcpus",
                                         "platform.memory_bytes",
                                         "platform.devices",
                                         "platform.qemu_version",
                                         "platform.acpi"};
  std::size_t index = 0;
  for (const auto &b : blobs) {
    const std::size_t i = index++;
    if (!*b.data && i < c.profile.acpi_events.size()) {
      const auto &e = c.profile.acpi_events[i];
      std::vector<std::string> captured = deps;
      captured.emplace_back("platform.reference_ccel");
      c.events.add(0,
                   event_type::k_platform_config_flags,
                   std::string(b.label),
                   fmt::format("ACPI DATA {} (digest from {})", b.file, e.source),
                   captured,
                   e.digest);
      continue;
    }
    if (*b.data) {
      c.events.add(0,
                   event_type::k_platform_config_flags,
                   std::string(b.label),
                   fmt::format("ACPI DATA {} ({} bytes)", b.file, (*b.data)->size()),
                   deps,
                   crypto::sha384(**b.data));
    } else {
      c.events.not_predicted(0,
                             event_type::k_platform_config_flags,
                             std::string(b.label),
                             fmt::format("ACPI DATA {}", b.file),
                             deps,
                             fmt::format("QEMU's fw_cfg {} blob was not supplied (capture it once "
                                         "from a reference TD, see measurement/README.md)",
                                         b.file));
    }
  }
}

void
rtmr0_boot_variables(Context &c) {
  const std::vector<std::string> deps = {
      "platform.boot_variables", "platform.devices", "firmware.ovmf_version"};
  if (!c.profile.boot_variables.empty()) {
    for (const auto &v : c.profile.boot_variables) {
      c.events.add(0,
                   event_type::k_efi_variable_boot,
                   "boot_variable." + v.name,
                   fmt::format("{} ({} bytes)", v.name, v.data.size()),
                   deps,
                   crypto::sha384(v.data));
    }
    return;
  }
  if (c.artifacts.mode != BootMode::direct) {
    c.events.not_predicted(0,
                           event_type::k_efi_variable_boot,
                           "boot_variables",
                           "BootOrder and Boot####",
                           deps,
                           "disk boot: BootOrder/Boot#### depend on the disk's device path; "
                           "capture them from a reference TD (platform.boot_variables)");
    return;
  }
  // QEMU direct boot: OVMF's only boot option is the UiApp.
  const std::array<std::byte, 2> order{};
  c.events.add(0,
               event_type::k_efi_variable_boot,
               "boot_variable.BootOrder",
               "BootOrder {0x0000}",
               deps,
               crypto::sha384(order));
  c.events.add(0,
               event_type::k_efi_variable_boot,
               "boot_variable.Boot0000",
               "Boot0000 UiApp",
               deps,
               crypto::sha384(uiapp_boot_option()));
}

void
rtmr0_shim_authority(Context &c, std::size_t run) {
  const std::vector<std::string> deps = {"image.shim", "platform.secure_boot_variables"};
  const auto sb = c.profile.secure_boot_variables.find("SecureBoot");
  const bool secure_boot =
      sb != c.profile.secure_boot_variables.end() && !sb->second.empty() && sb->second[0] != std::byte{0};
  // edk2 measures each db authority once per boot, so a second shim run adds none.
  if (secure_boot && run == 0) {
    if (c.artifacts.secure_boot_authority) {
      const auto &a = *c.artifacts.secure_boot_authority;
      c.events.add(0,
                   event_type::k_efi_variable_authority,
                   "authority.db",
                   a.label,
                   {"platform.secure_boot_variables", "image.shim"},
                   a.digest);
    } else {
      c.events.not_predicted(0,
                             event_type::k_efi_variable_authority,
                             "authority.db",
                             "db entry that verified shim",
                             {"platform.secure_boot_variables", "image.shim"},
                             "the db certificate that verifies shim was not supplied");
    }
  }
  if (c.artifacts.sbat_level) {
    c.events.add(0,
                 event_type::k_efi_variable_authority,
                 "authority.SbatLevel",
                 "SbatLevel",
                 deps,
                 variable_digest(k_shim_lock_guid, "SbatLevel", as_bytes(*c.artifacts.sbat_level)));
  } else if (const auto levels =
                 c.artifacts.shim ? shim_sbat_levels(*c.artifacts.shim) : std::optional<ShimSbatLevels>{}) {
    // TDVF variables do not persist under TDX, so shim writes its default
    // ("previous") SbatLevel on every boot.
    c.events.add(0,
                 event_type::k_efi_variable_authority,
                 "authority.SbatLevel",
                 "SbatLevel (shim's built-in \"previous\" level)",
                 deps,
                 variable_digest(k_shim_lock_guid, "SbatLevel", as_bytes(levels->previous)));
    if (std::find(c.notes.begin(), c.notes.end(), k_sbat_note) == c.notes.end()) {
      c.notes.emplace_back(k_sbat_note);
    }
  } else {
    c.events.not_predicted(0,
                           event_type::k_efi_variable_authority,
                           "authority.SbatLevel",
                           "SbatLevel",
                           deps,
                           "shim's SbatLevel content was not supplied");
  }
  const auto cert = c.artifacts.shim ? shim_vendor_cert(*c.artifacts.shim) : std::vector<std::byte>{};
  if (!cert.empty()) {
    std::vector<std::byte> data(k_shim_lock_guid.bytes.begin(), k_shim_lock_guid.bytes.end());
    data.insert(data.end(), cert.begin(), cert.end());
    c.events.add(0,
                 event_type::k_efi_variable_authority,
                 "authority.MokListRT",
                 "MokListRT (shim vendor certificate that verified grub)",
                 deps,
                 variable_digest(k_shim_lock_guid, "MokListRT", data));
  } else {
    c.events.not_predicted(0,
                           event_type::k_efi_variable_authority,
                           "authority.MokListRT",
                           "MokListRT",
                           deps,
                           "shim has no .vendor_cert section to derive it from");
  }
}

void
rtmr0(Context &c, std::size_t shim_runs) {
  if (c.profile.rtmr0_events) {
    for (const auto &e : *c.profile.rtmr0_events) {
      c.events.add(0, e.type, e.label, "provided by " + e.source, {"platform.rtmr0_events"}, e.digest);
    }
    c.notes.emplace_back("RTMR0 events were taken as given from platform.rtmr0_events");
    return;
  }
  if (c.profile.ovmf_version >= k_ovmf_new_event_layout) {
    c.events.not_predicted(0,
                           event_type::k_platform_config_flags,
                           "rtmr0.edk2_202505_layout",
                           "edk2 >= 202505 RTMR0 event layout",
                           {"firmware.ovmf_version", "platform.qemu_version"},
                           "edk2-stable202505 and later add fw_cfg, SMBIOS and boot-option "
                           "events the model does not derive; supply platform.rtmr0_events "
                           "captured from a reference TD");
    return;
  }
  const auto hob = build_td_hob(c.profile.memory_bytes, c.tdvf);
  c.events.add(0,
               event_type::k_efi_handoff_tables2,
               "td_hob",
               fmt::format("TD HOB ({} bytes)", hob.size()),
               {"platform.memory_bytes", "firmware.tdvf_sections", "platform.qemu_version"},
               crypto::sha384(hob));
  const auto cfv = cfv_bytes(c.firmware, c.tdvf);
  c.events.add(0,
               event_type::k_efi_platform_firmware_blob2,
               "cfv",
               fmt::format("CFV variable store ({} bytes)", cfv.size()),
               {"firmware"},
               crypto::sha384(cfv));
  rtmr0_secure_boot_and_separator(c);
  rtmr0_acpi(c);
  rtmr0_boot_variables(c);
  if (c.profile.ovmf_version < k_ovmf_separator_moved) {
    c.events.add(0,
                 event_type::k_separator,
                 "separator.rtmr0_late",
                 "separator after boot variables (edk2 < 202411)",
                 {"firmware.ovmf_version"},
                 separator_digest());
  }
  for (std::size_t run = 0; run < shim_runs; ++run) {
    rtmr0_shim_authority(c, run);
  }
}

std::optional<std::pair<int, int>>
linux_version(const BootArtifacts &a) {
  if (a.linux_version) {
    return a.linux_version;
  }
  try {
    return parse_bzimage(a.kernel).version;
  } catch (const Error &) {
    return std::nullopt;
  }
}

// The kernel bytes TDVF measures in QEMU direct boot.
std::vector<std::byte>
direct_boot_kernel(Context &c, std::vector<std::string> &deps, std::string &how) {
  const auto &p = c.profile;
  const bool unpatched_blob =
      p.qemu_version >= k_qemu_etc_boot_kernel && p.ovmf_version >= k_ovmf_named_kernel_blob;
  if (p.qemu_version >= k_qemu_no_header_patch || unpatched_blob) {
    how = p.qemu_version >= k_qemu_no_header_patch
              ? "QEMU >= 10.2 does not patch the setup header of CoCo guests"
              : "OVMF >= 202502 with QEMU >= 10.0 loads the unpatched etc/boot/kernel";
    if (unpatched_blob && p.qemu_version < k_qemu_no_header_patch) {
      c.notes.emplace_back("assumed: QEMU >= 10.0 exports the unpatched etc/boot/kernel and OVMF >= "
                           "202502 prefers it (the exact first QEMU release is unconfirmed)");
    }
    return c.artifacts.kernel;
  }
  how = "setup header patched as QEMU <= 10.1 does (depends on RAM and initrd size)";
  deps.insert(deps.end(), {"platform.memory_bytes", "image.initrd", "image.cmdline"});
  QemuKernelPatch patch;
  patch.below_4g_memory = q35_below_4g_memory(p.memory_bytes);
  if (c.artifacts.initrd) {
    patch.initrd_size = c.artifacts.initrd->size();
  }
  patch.cmdline = c.artifacts.cmdline;
  return qemu_patch_kernel(c.artifacts.kernel, patch);
}

void add_action(Context &c, std::string label, std::string_view action);
void add_exit_boot_services(Context &c);
void linux_stub_events(Context &c);
void uki_kernel_event(Context &c);
void uki_stub_events(Context &c);
void uki_cc_stub_events(Context &c, int stub);

void
rtmr1_and_2(Context &c, std::size_t shim_runs) {
  const auto &a = c.artifacts;
  const auto &p = c.profile;
  const bool new_separator = p.ovmf_version >= k_ovmf_separator_moved;
  const std::vector<std::string> fw_deps = {"firmware.ovmf_version"};

  // "Calling EFI Application from Boot Option", then (edk2 >= 202411) the
  // RTMR1 separator: the same pair in direct and grub boot, at different
  // places.
  const auto add_calling_efi_application = [&] {
    add_action(c, "action.calling_efi_application", k_calling_efi_app);
    if (new_separator) {
      c.events.add(1,
                   event_type::k_separator,
                   "separator.rtmr1",
                   "separator (edk2 >= 202411)",
                   fw_deps,
                   separator_digest());
    }
  };
  if (a.mode == BootMode::direct) {
    std::vector<std::string> deps = {"image.kernel", "platform.qemu_version", "firmware.ovmf_version"};
    std::string how;
    const auto kernel = direct_boot_kernel(c, deps, how);
    c.events.add(1,
                 event_type::k_efi_boot_services_application,
                 "kernel",
                 fmt::format("{} (Authenticode SHA-384; {})", a.kernel_name, how),
                 deps,
                 authenticode_sha384(kernel));
    add_calling_efi_application();
  } else {
    add_calling_efi_application();
    if (a.disk_head) {
      c.events.add(1,
                   event_type::k_efi_gpt_event,
                   "gpt",
                   "GPT header and used partition entries",
                   {"image.disk_head", "image.disk_size"},
                   crypto::sha384(gpt_event_data(*a.disk_head, a.sector_size)));
    } else {
      c.events.not_predicted(1,
                             event_type::k_efi_gpt_event,
                             "gpt",
                             "GPT",
                             {"image.disk_head"},
                             "the disk's first sectors were not supplied");
    }
    const auto image_event =
        [&](const std::optional<std::vector<std::byte>> &pe, std::string label, const std::string &what) {
          if (pe) {
            c.events.add(1,
                         event_type::k_efi_boot_services_application,
                         std::move(label),
                         what + " (Authenticode SHA-384)",
                         {"image." + what},
                         authenticode_sha384(*pe));
          } else {
            c.events.not_predicted(1,
                                   event_type::k_efi_boot_services_application,
                                   std::move(label),
                                   what,
                                   {"image." + what},
                                   what + " image was not supplied");
          }
        };
    if (a.mode == BootMode::uki) {
      // The firmware's boot manager loads \\EFI\\BOOT\\BOOTX64.EFI, the UKI:
      // one Authenticode digest covers stub, kernel, initrd, cmdline, os-release.
      image_event(a.uki, "uki", "uki");
      uki_kernel_event(c);
    }
    if (a.mode == BootMode::grub) {
      if (shim_runs > 0) {
        image_event(a.shim, "shim", "shim");
      }
      if (shim_runs > 1) {
        image_event(a.fallback, "fallback", "fallback");
        image_event(a.shim, "shim.second_run", "shim");
      }
      image_event(a.grub, "grub", "grub");
      c.events.add(1,
                   event_type::k_efi_boot_services_application,
                   "kernel",
                   a.kernel_name + " (Authenticode SHA-384, loaded by grub)",
                   {"image.kernel"},
                   authenticode_sha384(a.kernel));

      // RTMR2: shim's MOK variables per run, then grub's own records.
      for (std::size_t run = 0; run < shim_runs; ++run) {
        for (const std::string_view name : {"MokList", "MokListX", "MokListTrusted"}) {
          const auto it = a.mok_digests.find(std::string(name));
          const std::string label = fmt::format("shim.{}{}", name, run == 0 ? "" : ".second_run");
          if (it != a.mok_digests.end()) {
            c.events.add(
                2, event_type::k_ipl, label, std::string(name), {"image.shim", "image.mok"}, it->second);
          } else {
            c.events.not_predicted(2,
                                   event_type::k_ipl,
                                   label,
                                   std::string(name),
                                   {"image.shim", "image.mok"},
                                   fmt::format("the {} digest was not supplied", name));
          }
        }
      }
      for (const auto &r : a.grub_records) {
        if (a.grub_flavor == GrubFlavor::none) {
          break;
        }
        switch (r.kind) {
        case GrubRecord::Kind::file:
          c.events.add(
              2, event_type::k_ipl, "grub.file", r.text, {"image.grub_files"}, crypto::sha384(r.bytes));
          break;
        case GrubRecord::Kind::command:
        case GrubRecord::Kind::kernel_cmdline:
        case GrubRecord::Kind::module_cmdline: {
          std::string measured = r.text;
          if (a.grub_flavor == GrubFlavor::rhel && r.kind == GrubRecord::Kind::command) {
            measured.push_back('\0');
          }
          c.events.add(2,
                       event_type::k_ipl,
                       "grub.command",
                       r.text,
                       {"image.grub_config"},
                       crypto::sha384(as_bytes(measured)));
          break;
        }
        }
      }
    }
  }

  if (a.mode == BootMode::uki) {
    uki_stub_events(c);
  } else {
    linux_stub_events(c);
  }
  add_exit_boot_services(c);
}

// A fixed EV_EFI_ACTION of the firmware in RTMR1.
void
add_action(Context &c, std::string label, std::string_view action) {
  c.events.add(1,
               event_type::k_efi_action,
               std::move(label),
               std::string(action),
               {"firmware.ovmf_version"},
               action_digest(action));
}

void
add_exit_boot_services(Context &c) {
  add_action(c, "action.exit_boot_services_invocation", k_exit_bs_invocation);
  add_action(c, "action.exit_boot_services_success", k_exit_bs_success);
}

// RTMR2: the Linux EFI stub (>= 6.9) measures LoadOptions and the initrd.
void
linux_stub_events(Context &c) {
  const auto &a = c.artifacts;
  const auto &p = c.profile;
  const auto version = linux_version(a);
  const std::vector<std::string> stub_deps = {"image.kernel_version"};
  if (!version) {
    c.events.not_predicted(2,
                           event_type::k_event_tag,
                           "linux.load_options",
                           "LOADED_IMAGE::LoadOptions",
                           stub_deps,
                           "the kernel version could not be read from the bzImage header");
  } else if (*version >= k_linux_stub_cc_measurement) {
    std::string options = a.cmdline;
    std::vector<std::string> deps = {"image.cmdline", "image.kernel_version"};
    // OVMF sizes the LoadOptions it builds for -append with the NUL; grub's
    // EFI linux loader sets load_options_size to the UTF-16 length of the
    // command line without it (grub_utf8_to_utf16 stops before the NUL). The
    // stub hashes exactly load_options_size bytes.
    auto nul = NulTerminator::yes;
    if (a.mode == BootMode::direct) {
      options = ovmf_load_options(a.cmdline, a.initrd.has_value(), p.ovmf_version);
      deps.emplace_back("firmware.ovmf_version");
    } else {
      nul = NulTerminator::no;
      c.notes.emplace_back("grub boot: LoadOptions taken as the UTF-16LE command line without a NUL "
                           "terminator, as grub's EFI linux loader sizes it (checked against Debian "
                           "13's grub 2.12 by tests/e2e/tpm_oracle.sh)");
    }
    c.events.add(2,
                 event_type::k_event_tag,
                 "linux.load_options",
                 "LOADED_IMAGE::LoadOptions \"" + options + "\"",
                 deps,
                 crypto::sha384(to_utf16le(options, nul)));
    if (a.initrd) {
      c.events.add(2,
                   event_type::k_event_tag,
                   "linux.initrd",
                   fmt::format("Linux initrd {} ({} bytes)", a.initrd_name, a.initrd->size()),
                   {"image.initrd", "image.kernel_version"},
                   crypto::sha384(*a.initrd));
    }
  } else {
    c.notes.push_back(fmt::format("Linux {}.{} < 6.9: the EFI stub does not measure the command "
                                  "line or initrd into RTMR2; they are unmeasured",
                                  version->first,
                                  version->second));
  }
}

// RTMR1 on the UKI path after the UKI itself: the embedded kernel, if
// systemd-stub starts it with LoadImage() and the firmware measures it (see
// k_systemd_stub_load_image). The firmware measures exactly the bytes the
// stub hands LoadImage(): the .linux section's VirtualSize bytes, so the
// digest is the kernel file's Authenticode digest, as in grub boot.
void
uki_kernel_event(Context &c) {
  const auto &a = c.artifacts;
  const auto stub = a.systemd_stub_version;
  const std::vector<std::string> deps = {
      "image.systemd_stub_version", "image.kernel", "platform.secure_boot_variables"};
  const auto not_predicted = [&](std::string reason) {
    c.events.not_predicted(1,
                           event_type::k_efi_boot_services_application,
                           "uki.kernel",
                           a.kernel_name + " started by systemd-stub",
                           deps,
                           std::move(reason));
  };
  if (!stub) {
    not_predicted("the systemd-stub version is unknown: whether it starts the kernel with LoadImage "
                  "(which the firmware measures) cannot be told");
    return;
  }
  if (*stub < k_systemd_stub_load_image) {
    c.notes.push_back(fmt::format("UKI: systemd-stub {} < {} starts the kernel through the EFI handover "
                                  "protocol: no firmware event for the embedded kernel",
                                  *stub,
                                  k_systemd_stub_load_image));
    return;
  }
  if (*stub > k_systemd_stub_load_image_checked) {
    not_predicted(fmt::format("systemd-stub {} > {}: how it starts the embedded kernel (and whether the "
                              "firmware measures it) is not modelled yet",
                              *stub,
                              k_systemd_stub_load_image_checked));
    return;
  }
  PeImage pe;
  try {
    pe = parse_pe(a.kernel);
  } catch (const Error &e) {
    not_predicted(fmt::format("the UKI's .linux is not a PE image systemd-stub could start ({})", e.what()));
    return;
  }
  if (pe.machine != k_pe_machine_x86_64) {
    not_predicted(fmt::format("the kernel's PE machine {:#06x} is not x86-64 (systemd-stub would look for "
                              "a compatibility entry point)",
                              pe.machine));
    return;
  }
  if (pe.major_image_version < 1) {
    c.notes.push_back(
        fmt::format("UKI: the kernel's PE MajorImageVersion is {} (< 1): systemd-stub {} starts "
                    "it through the EFI handover protocol, no firmware event for it",
                    pe.major_image_version,
                    *stub));
    return;
  }
  const auto sb = c.profile.secure_boot_variables.find("SecureBoot");
  if (sb != c.profile.secure_boot_variables.end() && !sb->second.empty() && sb->second[0] != std::byte{0}) {
    not_predicted("Secure Boot is on: systemd-stub then overrides the firmware's LoadImage security "
                  "handlers for the embedded kernel (src/boot/efi/secure-boot.c), which would skip its "
                  "measurement; not checked by the boot oracle, and an unsigned UKI does not boot");
    return;
  }
  c.events.add(1,
               event_type::k_efi_boot_services_application,
               "uki.kernel",
               fmt::format("{} (Authenticode SHA-384; systemd-stub {} starts it with LoadImage, kernel PE "
                           "MajorImageVersion {}, Secure Boot off)",
                           a.kernel_name,
                           *stub,
                           pe.major_image_version),
               deps,
               authenticode_sha384(a.kernel));
}

// RTMR2 on the UKI path with a systemd-stub that measures through the CC
// protocol (k_systemd_stub_cc_measurement .. k_systemd_stub_sections_checked):
// its section events, then those of the kernel it starts (Linux >= 6.9:
// LoadOptions and initrd, as the kernel's EFI stub measures them after
// systemd-stub hands them over).
void
uki_cc_stub_events(Context &c, int stub) {
  const auto &a = c.artifacts;
  const std::vector<std::string> deps = {"image.uki", "image.systemd_stub_version"};
  UkiInfo info;
  try {
    info = parse_uki(*a.uki);
  } catch (const Error &e) {
    c.events.not_predicted(
        2, event_type::k_ipl, "uki.section", "systemd-stub section events", deps, e.what());
    return;
  }
  for (const auto name : k_stub_sections_not_modelled) {
    if (info.sections.contains(std::string(name))) {
      c.events.not_predicted(2,
                             event_type::k_ipl,
                             "uki.section",
                             "systemd-stub section events",
                             deps,
                             fmt::format("the UKI has a {} section: systemd-stub {} measures it, and how is "
                                         "not checked by the model",
                                         name,
                                         stub));
      return;
    }
  }
  for (const auto name : k_stub_sections_seen) {
    const auto it = info.sections.find(std::string(name));
    if (it == info.sections.end()) {
      continue;
    }
    std::string with_nul(name);
    with_nul.push_back('\0');
    c.events.add(2,
                 event_type::k_ipl,
                 fmt::format("uki.section{}.name", name),
                 std::string(name),
                 deps,
                 crypto::sha384(std::as_bytes(std::span(with_nul))));
    c.events.add(2,
                 event_type::k_ipl,
                 fmt::format("uki.section{}", name),
                 fmt::format("{} ({} bytes)", name, it->second.size()),
                 deps,
                 crypto::sha384(it->second));
  }
  const auto version = linux_version(a);
  const std::vector<std::string> kernel_deps = {"image.uki", "image.kernel_version"};
  if (!version) {
    c.events.not_predicted(2,
                           event_type::k_event_tag,
                           "linux.load_options",
                           "LOADED_IMAGE::LoadOptions",
                           kernel_deps,
                           "the kernel version could not be read from the UKI's .linux section");
    return;
  }
  if (*version < k_linux_stub_cc_measurement) {
    c.notes.push_back(fmt::format("UKI: systemd-stub {} measures the UKI's sections into RTMR2; Linux {}.{} "
                                  "< 6.9 measures nothing more",
                                  stub,
                                  version->first,
                                  version->second));
    return;
  }
  // systemd-stub passes .cmdline as LoadOptions: UTF-16 with the NUL
  // (LoadOptionsSize = strsize16). It first turns control characters into
  // spaces and drops trailing whitespace; cvmforge writes neither, and a
  // .cmdline that has them is not predicted.
  const bool mangled = std::any_of(a.cmdline.begin(),
                                   a.cmdline.end(),
                                   [](char ch) { return static_cast<unsigned char>(ch) < 0x20; }) ||
                       (!a.cmdline.empty() && a.cmdline.back() == ' ');
  if (mangled) {
    c.events.not_predicted(2,
                           event_type::k_event_tag,
                           "linux.load_options",
                           "LOADED_IMAGE::LoadOptions",
                           kernel_deps,
                           "the UKI's .cmdline has control characters or trailing blanks, which systemd-stub "
                           "rewrites before handing it over");
  } else {
    c.events.add(2,
                 event_type::k_event_tag,
                 "linux.load_options",
                 "LOADED_IMAGE::LoadOptions \"" + a.cmdline + "\" (from systemd-stub)",
                 kernel_deps,
                 crypto::sha384(to_utf16le(a.cmdline, NulTerminator::yes)));
  }
  // The initrd systemd-stub hands over: .initrd, then /.extra/os-release
  // packed from .osrel (v257 stub.c generate_embedded_initrds()), each padded
  // to 4 bytes. Add-ons, credentials and extensions from the ESP would be
  // appended too: they are not part of the image, so they change RTMR2.
  if (const auto handed = systemd_stub_257_initrd(info)) {
    c.events.add(2,
                 event_type::k_event_tag,
                 "linux.initrd",
                 fmt::format("Linux initrd from systemd-stub {} ({} bytes: .initrd{})",
                             stub,
                             handed->size(),
                             info.sections.contains(".osrel") ? " + /.extra/os-release" : ""),
                 kernel_deps,
                 crypto::sha384(*handed));
  }
}

// RTMR2 on the UKI path. systemd-stub <= 253 measures only through the TCG2
// protocol, which a TD without a vTPM does not have (its PCR 11/12/13 events
// in a vTPM's log have no counterpart in a TD); a kernel < 6.9 measures
// nothing either (its PCR 9 events are TCG2 only). systemd-stub 257
// measures through the CC protocol: uki_cc_stub_events(). Other
// combinations (systemd-stub 254-256 or >= 258, or Linux >= 6.9 behind a
// stub <= 253) are "not predicted" rather than guessed.
void
uki_stub_events(Context &c) {
  const auto &a = c.artifacts;
  const auto version = linux_version(a);
  const auto stub = a.systemd_stub_version;
  const std::vector<std::string> deps = {"image.systemd_stub_version", "image.kernel_version"};
  if (!stub) {
    c.events.not_predicted(2,
                           event_type::k_event_tag,
                           "uki.stub",
                           "systemd-stub events",
                           deps,
                           "the systemd-stub version is unknown");
    return;
  }
  if (*stub == k_systemd_stub_sections_checked) {
    uki_cc_stub_events(c, *stub);
    return;
  }
  if (*stub > k_systemd_stub_tcg2_only) {
    c.events.not_predicted(
        2,
        event_type::k_event_tag,
        "uki.stub",
        "systemd-stub events",
        deps,
        fmt::format("systemd-stub {} {}; the model does not predict it",
                    *stub,
                    *stub < k_systemd_stub_cc_measurement
                        ? "measures through TCG2 only but accepts extras it measures nowhere a TD sees"
                        : "measures through the CC protocol, and only 257's events were checked"));
    return;
  }
  if (!version) {
    c.events.not_predicted(2,
                           event_type::k_event_tag,
                           "linux.initrd",
                           "Linux initrd",
                           deps,
                           "the kernel version could not be read from the UKI's .linux section");
    return;
  }
  if (*version >= k_linux_stub_cc_measurement) {
    c.events.not_predicted(2,
                           event_type::k_event_tag,
                           "linux.initrd",
                           "Linux initrd (from systemd-stub's LoadFile2)",
                           deps,
                           fmt::format("Linux {}.{} behind systemd-stub {}: the model does not predict the "
                                       "kernel stub's events on this path yet",
                                       version->first,
                                       version->second,
                                       *stub));
    return;
  }
  c.notes.push_back(fmt::format("UKI: systemd-stub {} measures nothing in a TD (TCG2 only) and Linux {}.{} "
                                "< 6.9 measures nothing: RTMR2 stays empty; the UKI's Authenticode digest "
                                "in RTMR1 covers kernel, initrd and command line",
                                *stub,
                                version->first,
                                version->second));
}

nlohmann::json
describe_inputs(const BootArtifacts &a,
                std::span<const std::byte> firmware,
                const PlatformProfile &p,
                const TdvfMetadata &tdvf) {
  nlohmann::json sections = nlohmann::json::array();
  for (const auto &s : tdvf.sections) {
    sections.push_back({{"type", tdvf_section_type_name(s.type)},
                        {"data_offset", fmt::format("{:#x}", s.data_offset)},
                        {"raw_data_size", fmt::format("{:#x}", s.raw_data_size)},
                        {"gpa", fmt::format("{:#x}", s.memory_address)},
                        {"size", fmt::format("{:#x}", s.memory_data_size)},
                        {"attributes", s.attributes}});
  }
  nlohmann::json platform = {
      {"name", p.name},
      {"vcpus", p.vcpus},
      {"memory_bytes", p.memory_bytes},
      {"qemu_version", to_string(p.qemu_version)},
      {"ovmf_version", fmt::format("edk2-stable{}", p.ovmf_version)},
      {"page_add_order", p.page_add_order ? to_string(*p.page_add_order) : "both"},
  };
  nlohmann::json acpi = nlohmann::json::object();
  if (p.acpi_table_loader) {
    acpi["table_loader_sha384"] = sha384_hex(*p.acpi_table_loader);
  }
  if (p.acpi_rsdp) {
    acpi["rsdp_sha384"] = sha384_hex(*p.acpi_rsdp);
  }
  if (p.acpi_tables) {
    acpi["tables_sha384"] = sha384_hex(*p.acpi_tables);
  }
  for (std::size_t i = 0; i < p.acpi_events.size() && i < 3; ++i) {
    static constexpr std::array<std::string_view, 3> k_keys = {
        "table_loader_event_digest", "rsdp_event_digest", "tables_event_digest"};
    acpi[std::string(k_keys[i])] = to_hex(p.acpi_events[i].digest);
  }
  acpi["source"] = acpi.empty() ? "not supplied" : (p.acpi_events.empty() ? "provided" : "reference-ccel");
  platform["acpi"] = acpi;
  nlohmann::json sb = nlohmann::json::object();
  for (const auto &[name, data] : p.secure_boot_variables) {
    sb[name] = sha256_hex(data);
  }
  platform["secure_boot_variables_sha256"] = sb;
  nlohmann::json boot_vars = nlohmann::json::object();
  for (const auto &v : p.boot_variables) {
    boot_vars[v.name] = to_hex(v.data);
  }
  platform["boot_variables"] = boot_vars;

  nlohmann::json image = {{"boot", to_string(a.mode)},
                          {"kernel", {{"name", a.kernel_name}, {"sha256", sha256_hex(a.kernel)}}},
                          {"cmdline", a.cmdline}};
  if (const auto v = linux_version(a)) {
    image["kernel"]["version"] = fmt::format("{}.{}", v->first, v->second);
  }
  if (a.initrd) {
    image["initrd"] = {
        {"name", a.initrd_name}, {"sha256", sha256_hex(*a.initrd)}, {"size", a.initrd->size()}};
  }
  if (a.shim) {
    image["shim"] = {{"sha256", sha256_hex(*a.shim)}};
  }
  if (a.grub) {
    image["grub"] = {{"sha256", sha256_hex(*a.grub)}};
  }
  if (a.disk_head) {
    image["disk_head_sha256"] = sha256_hex(*a.disk_head);
  }
  return {{"firmware",
           {{"sha256", sha256_hex(firmware)}, {"size", firmware.size()}, {"tdvf_sections", sections}}},
          {"platform", platform},
          {"image", image}};
}

} // namespace

void
adopt_reference_log(PlatformProfile &profile, const EventLog &log) {
  std::vector<const Event *> rtmr0;
  for (const auto &e : log.events) {
    if (is_extending(e) && e.mr_index == mr_index_of_rtmr(0)) {
      rtmr0.push_back(&e);
    }
  }
  const auto provided = [](const Event &e, std::string label) {
    ProvidedEvent p;
    p.type = e.type;
    p.label = std::move(label);
    p.source = fmt::format("reference-ccel record {}", e.sequence);
    const auto *d = e.digest(k_alg_sha384);
    if (d == nullptr || d->size() != p.digest.size()) {
      throw Error(ErrorKind::input, "reference log: record {} has no SHA-384 digest", e.sequence);
    }
    std::copy(d->begin(), d->end(), p.digest.begin());
    return p;
  };
  if (profile.ovmf_version >= k_ovmf_new_event_layout && !profile.rtmr0_events) {
    std::vector<ProvidedEvent> all;
    all.reserve(rtmr0.size());
    for (const auto *e : rtmr0) {
      all.push_back(provided(*e, event_type_name(e->type) + " " + describe_event(*e)));
    }
    profile.rtmr0_events = std::move(all);
    return;
  }
  const bool need_acpi =
      !profile.acpi_table_loader && !profile.acpi_rsdp && !profile.acpi_tables && profile.acpi_events.empty();
  const bool need_sb = profile.secure_boot_variables.empty();
  const bool need_boot = profile.boot_variables.empty();
  std::vector<ProvidedEvent> acpi;
  std::map<std::string, std::vector<std::byte>> sb;
  std::vector<VariableValue> boot;
  for (const auto *e : rtmr0) {
    if (e->type == event_type::k_platform_config_flags && describe_event(*e) == "ACPI DATA") {
      acpi.push_back(provided(*e, "ACPI DATA"));
    } else if (e->type == event_type::k_efi_variable_driver_config) {
      auto v = parse_uefi_variable_data(e->data);
      sb[v.name] = std::move(v.data);
    } else if (e->type == event_type::k_efi_variable_boot) {
      auto v = parse_uefi_variable_data(e->data);
      boot.push_back({std::move(v.name), std::move(v.data)});
    }
  }
  if (need_acpi) {
    if (acpi.size() != 3) {
      throw Error(
          ErrorKind::input, "reference log: expected 3 \"ACPI DATA\" events in RTMR0, found {}", acpi.size());
    }
    profile.acpi_events = std::move(acpi);
  }
  if (need_sb) {
    profile.secure_boot_variables = std::move(sb);
  }
  if (need_boot) {
    profile.boot_variables = std::move(boot);
  }
}

QemuVersion
parse_qemu_version(std::string_view text) {
  QemuVersion v;
  int *parts[] = {&v.major, &v.minor, &v.micro};
  const char *p = text.data();
  const char *end = text.data() + text.size();
  for (std::size_t i = 0; i < 3 && p < end; ++i) {
    const auto res = std::from_chars(p, end, *parts[i]);
    if (res.ec != std::errc{} || (res.ptr != end && *res.ptr != '.')) {
      throw Error(ErrorKind::usage, "QEMU version \"{}\" is not of the form 10.2.1", text);
    }
    p = res.ptr == end ? end : res.ptr + 1;
  }
  if (text.empty() || p != end) {
    throw Error(ErrorKind::usage, "QEMU version \"{}\" is not of the form 10.2.1", text);
  }
  return v;
}

std::string
to_string(const QemuVersion &version) {
  return fmt::format("{}.{}.{}", version.major, version.minor, version.micro);
}

int
parse_ovmf_version(std::string_view text) {
  std::string_view digits = text;
  if (digits.starts_with("edk2-stable")) {
    digits.remove_prefix(11);
  }
  int value = 0;
  const auto res = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (res.ec != std::errc{} || res.ptr != digits.data() + digits.size() || value < 201801 || value > 209912) {
    throw Error(
        ErrorKind::usage, "OVMF version \"{}\" is not an edk2 stable tag like edk2-stable202411", text);
  }
  return value;
}

std::string
to_string(BootMode mode) {
  switch (mode) {
  case BootMode::direct:
    return "direct";
  case BootMode::grub:
    return "grub";
  case BootMode::uki:
    return "uki";
  }
  return "grub";
}

Prediction
predict(const BootArtifacts &artifacts, std::span<const std::byte> firmware, const PlatformProfile &profile) {
  if (profile.memory_bytes == 0) {
    throw Error(ErrorKind::usage, "platform profile: memory_bytes is required");
  }
  if (profile.qemu_version == QemuVersion{}) {
    throw Error(ErrorKind::usage, "platform profile: qemu_version is required");
  }
  if (profile.ovmf_version == 0) {
    throw Error(ErrorKind::usage, "platform profile: ovmf_version (edk2 tag) is required");
  }
  if (artifacts.kernel.empty()) {
    throw Error(ErrorKind::usage, "boot artifacts: a kernel is required");
  }
  Prediction out;
  out.tdvf = parse_tdvf_metadata(firmware);
  out.mrtd = compute_mrtd_candidates(firmware, out.tdvf);
  out.selected_page_add_order = profile.page_add_order;
  if (!profile.page_add_order) {
    out.notes.push_back(
        fmt::format("page-add order not given: both MRTD candidates are emitted (QEMU {} suggests {})",
                    to_string(profile.qemu_version),
                    profile.qemu_version >= k_qemu_single_pass ? "single_pass with upstream KVM"
                                                               : "two_pass (QEMU 8.x TDX stacks)"));
  }
  out.inputs = describe_inputs(artifacts, firmware, profile, out.tdvf);

  EventList events;
  Context c{artifacts, firmware, profile, out.tdvf, events, out.notes};
  if (profile.ovmf_version < k_ovmf_first_cc_measurement) {
    out.notes.push_back(fmt::format("OVMF edk2-stable{} predates TDX RTMR measurement "
                                    "(edk2-stable202302): no events, RTMRs stay zero",
                                    profile.ovmf_version));
  } else {
    // Grub boot without a shim image: the firmware loads grub itself from the
    // removable path (\EFI\BOOT\BOOTX64.EFI is grub), so there are no shim,
    // MOK or shim authority events at all.
    std::size_t shim_runs = 0;
    if (artifacts.mode == BootMode::grub && artifacts.shim) {
      shim_runs = artifacts.shim_fallback_run ? 2 : 1;
    } else if (artifacts.mode == BootMode::grub) {
      out.notes.emplace_back("grub boot without shim: the firmware loads grub directly (no shim, MOK or "
                             "SbatLevel events); supply the shim image if the boot chain has one");
    }
    rtmr0(c, shim_runs);
    rtmr1_and_2(c, shim_runs);
  }
  out.events = events.take();

  RtmrBank bank;
  std::array<bool, 4> complete = {true, true, true, true};
  for (const auto &e : out.events) {
    if (e.digest) {
      bank.extend(e.rtmr, *e.digest);
    } else {
      complete.at(e.rtmr) = false;
    }
  }
  for (std::size_t i = 0; i < k_rtmr_count; ++i) {
    if (complete[i]) {
      out.rtmr[i] = bank.value(i);
    }
  }
  return out;
}

namespace {
PlatformProfile
parse_platform_profile_unchecked(const nlohmann::json &json,
                                 const std::function<std::vector<std::byte>(const std::string &)> &read_file);
} // namespace

PlatformProfile
parse_platform_profile(const nlohmann::json &json,
                       const std::function<std::vector<std::byte>(const std::string &)> &read_file) {
  try {
    return parse_platform_profile_unchecked(json, read_file);
  } catch (const nlohmann::json::exception &e) {
    throw Error(ErrorKind::usage, "platform profile: {}", e.what());
  } catch (const std::logic_error &e) {
    throw Error(ErrorKind::usage, "platform profile: {}", e.what());
  }
}

namespace {
PlatformProfile
parse_platform_profile_unchecked(
    const nlohmann::json &json, const std::function<std::vector<std::byte>(const std::string &)> &read_file) {
  if (!json.is_object()) {
    throw Error(ErrorKind::usage, "platform profile: expected a JSON object");
  }
  // A misspelt key would otherwise leave its value at the default (a
  // "vcpu": 4 silently became 0 vCPUs): every key must be known.
  static const std::set<std::string, std::less<>> k_keys = {"name",
                                                            "vcpus",
                                                            "memory_bytes",
                                                            "memory_mib",
                                                            "qemu_version",
                                                            "ovmf_version",
                                                            "page_add_order",
                                                            "acpi",
                                                            "secure_boot_variables",
                                                            "boot_variables",
                                                            "rtmr0_events"};
  for (const auto &[key, value] : json.items()) {
    if (!k_keys.contains(key)) {
      std::string known;
      for (const auto &k : k_keys) {
        known += (known.empty() ? "" : ", ") + k;
      }
      throw Error(ErrorKind::usage, "platform profile: unknown key \"{}\" (known keys: {})", key, known);
    }
  }
  if (json.contains("acpi")) {
    if (!json["acpi"].is_object()) {
      throw Error(ErrorKind::usage, "platform profile: \"acpi\" must be an object");
    }
    for (const auto &[key, value] : json["acpi"].items()) {
      if (key != "table_loader" && key != "rsdp" && key != "tables") {
        throw Error(ErrorKind::usage,
                    "platform profile: unknown key \"acpi.{}\" (known: table_loader, rsdp, tables)",
                    key);
      }
    }
  }
  PlatformProfile p;
  const auto str = [&](const char *key) -> std::optional<std::string> {
    if (!json.contains(key)) {
      return std::nullopt;
    }
    if (!json[key].is_string()) {
      throw Error(ErrorKind::usage, "platform profile: \"{}\" must be a string", key);
    }
    return json[key].get<std::string>();
  };
  const auto num = [&](const char *key) -> std::optional<std::uint64_t> {
    if (!json.contains(key)) {
      return std::nullopt;
    }
    if (!json[key].is_number_unsigned()) {
      throw Error(ErrorKind::usage, "platform profile: \"{}\" must be a non-negative integer", key);
    }
    return json[key].get<std::uint64_t>();
  };
  p.name = str("name").value_or("");
  p.vcpus = static_cast<std::uint32_t>(num("vcpus").value_or(0));
  if (const auto mem = num("memory_bytes")) {
    p.memory_bytes = *mem;
  } else if (const auto mib = num("memory_mib")) {
    p.memory_bytes = *mib << 20U;
  }
  if (const auto q = str("qemu_version")) {
    p.qemu_version = parse_qemu_version(*q);
  }
  if (const auto o = str("ovmf_version")) {
    p.ovmf_version = parse_ovmf_version(*o);
  }
  if (const auto order = str("page_add_order")) {
    if (*order == "single_pass") {
      p.page_add_order = PageAddOrder::single_pass;
    } else if (*order == "two_pass") {
      p.page_add_order = PageAddOrder::two_pass;
    } else if (*order != "both") {
      throw Error(ErrorKind::usage, "platform profile: page_add_order must be single_pass, two_pass or both");
    }
  }
  if (json.contains("acpi")) {
    const auto &acpi = json["acpi"];
    const auto file = [&](const char *key) -> std::optional<std::vector<std::byte>> {
      if (!acpi.contains(key)) {
        return std::nullopt;
      }
      return read_file(acpi[key].get<std::string>());
    };
    p.acpi_table_loader = file("table_loader");
    p.acpi_rsdp = file("rsdp");
    p.acpi_tables = file("tables");
  }
  if (json.contains("secure_boot_variables")) {
    for (const auto &[name, path] : json["secure_boot_variables"].items()) {
      p.secure_boot_variables[name] = read_file(path.get<std::string>());
    }
  }
  if (json.contains("boot_variables")) {
    for (const auto &entry : json["boot_variables"]) {
      p.boot_variables.push_back(
          {entry.at("name").get<std::string>(), read_file(entry.at("file").get<std::string>())});
    }
  }
  if (json.contains("rtmr0_events")) {
    std::vector<ProvidedEvent> events;
    for (const auto &entry : json["rtmr0_events"]) {
      ProvidedEvent e;
      e.label = entry.value("label", "provided");
      e.type = static_cast<std::uint32_t>(std::stoul(entry.value("type_id", "0x0"), nullptr, 16));
      const auto digest = from_hex(entry.at("digest").get<std::string>());
      if (!digest || digest->size() != 48) {
        throw Error(ErrorKind::usage, "platform profile: rtmr0_events digest must be 96 hex digits");
      }
      std::copy(digest->begin(), digest->end(), e.digest.begin());
      e.source = entry.value("source", "profile");
      events.push_back(std::move(e));
    }
    p.rtmr0_events = std::move(events);
  }
  return p;
}

} // namespace

std::size_t
events_not_predicted(const Prediction &p) {
  return static_cast<std::size_t>(
      std::count_if(p.events.begin(), p.events.end(), [](const PredictedEvent &e) { return !e.digest; }));
}

} // namespace cvm::measure
