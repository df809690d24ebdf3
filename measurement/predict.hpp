// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/crypto/crypto.hpp"
#include "measurement/eventlog.hpp"
#include "measurement/tdvf.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

// The prediction model: from boot artifacts, a firmware image and a platform
// profile, the ordered event list of every RTMR (each event labelled, with
// what it depends on), the registers, and both MRTD candidates. Whatever the
// model cannot know is an explicit input or an explicit "not predicted" event;
// it never guesses silently.
namespace cvm::measure {

struct QemuVersion {
  int major = 0;
  int minor = 0;
  int micro = 0;

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads the defaulted comparison
  auto operator<=>(const QemuVersion &) const = default;
};

// Parses "10.2.1" / "9.2" / "8.2.2"; throws cvm::Error(usage) if malformed.
QemuVersion parse_qemu_version(std::string_view text);

std::string to_string(const QemuVersion &version);

// Parses "edk2-stable202411" or "202411" into 202411; throws cvm::Error(usage).
int parse_ovmf_version(std::string_view text);

// A digest the model takes as given (captured from a reference TD, or computed
// by another tool), with where it came from.
struct ProvidedEvent {
  std::uint32_t type = 0;
  std::string label;
  crypto::Sha384 digest{};
  std::string source; // e.g. "reference-ccel", "profile"
};

// A named UEFI variable's data.
struct VariableValue {
  std::string name;
  std::vector<std::byte> data;
};

// The VM shape and host stack. Every field that changes a measurement is
// explicit: nothing is assumed from the machine running cvmforge.
struct PlatformProfile {
  std::string name;        // free text, echoed in the output
  std::uint32_t vcpus = 0; // recorded; only the ACPI blobs depend on it
  std::uint64_t memory_bytes = 0;
  QemuVersion qemu_version;
  int ovmf_version = 0;                       // edk2-stable tag (yyyymm) of the firmware's source
  std::optional<PageAddOrder> page_add_order; // nullopt: both candidates, none selected
  // QEMU fw_cfg blobs exactly as exported (captured in a reference TD from
  // /sys/firmware/qemu_fw_cfg/by_name/etc/...): without them the three ACPI
  // events are "not predicted".
  std::optional<std::vector<std::byte>> acpi_table_loader;
  std::optional<std::vector<std::byte>> acpi_rsdp;
  std::optional<std::vector<std::byte>> acpi_tables;
  // SecureBoot, PK, KEK, db, dbx data; a missing name is an absent (empty) variable.
  std::map<std::string, std::vector<std::byte>> secure_boot_variables;
  // BootOrder then Boot#### as measured (captured from efivars). Empty: QEMU
  // direct boot's default (BootOrder {0}, Boot0000 UiApp); for grub boot the
  // boot variables are then "not predicted".
  std::vector<VariableValue> boot_variables;
  // Digests of the three ACPI events taken from a reference TD's log, used
  // when the blobs themselves are not supplied (in loader, rsdp, tables order).
  std::vector<ProvidedEvent> acpi_events;
  // A captured RTMR0 event list that replaces the RTMR0 model entirely (for
  // layouts the model does not derive, e.g. edk2 >= 202505).
  std::optional<std::vector<ProvidedEvent>> rtmr0_events;
};

// "Golden boot once": fills what the model cannot derive from the RTMR0 events
// of a reference TD's event log (same VM shape, QEMU and OVMF), leaving every
// value already in `profile` alone: the three ACPI digests (if no blobs), the
// Secure Boot variables (if none), the boot variables (if none), and for edk2
// >= 202505 the whole RTMR0 list (if none). Throws cvm::Error(input) if the
// log's RTMR0 events are not shaped like a TDVF log (e.g. fewer than three
// ACPI events where blobs are missing).
void adopt_reference_log(PlatformProfile &profile, const EventLog &log);

// Reads a platform profile from JSON (schema in measurement/README.md).
// File-valued fields are read through `read_file`, so the library does no
// I/O of its own. Throws cvm::Error(usage) naming the field on bad input.
PlatformProfile
parse_platform_profile(const nlohmann::json &json,
                       const std::function<std::vector<std::byte>(const std::string &)> &read_file);

enum class BootMode { direct, grub, uki };

std::string to_string(BootMode mode);

// One record grub measures when it has CC-measurement support.
struct GrubRecord {
  enum class Kind { command, kernel_cmdline, module_cmdline, file };
  Kind kind = Kind::command;
  std::string text;             // the command / cmdline / file path
  std::vector<std::byte> bytes; // file content (Kind::file)
};

enum class GrubFlavor {
  none,     // grub measures nothing (Debian/Ubuntu builds without CC support)
  upstream, // "grub_cmd: <cmd>", digest of the command without NUL
  rhel,     // "grub_cmd <cmd>", digest of the command with NUL
};

struct BootArtifacts {
  BootMode mode = BootMode::direct;
  std::vector<std::byte> kernel; // the bzImage / EFI-stub kernel as on disk
  std::string kernel_name;       // for labels, e.g. "vmlinuz-6.1.0-56-amd64"
  std::optional<std::vector<std::byte>> initrd;
  std::string initrd_name;
  // Direct boot: QEMU's -append. Grub boot: the command line grub passes to
  // the kernel ("BOOT_IMAGE=/vmlinuz-… root=…").
  std::string cmdline;
  // (major, minor); default: read from the bzImage header.
  std::optional<std::pair<int, int>> linux_version;

  // UKI boot: the whole unified kernel image as the firmware loads it, and
  // its systemd-stub major version. kernel/initrd/cmdline above are its
  // .linux/.initrd/.cmdline sections.
  std::optional<std::vector<std::byte>> uki;
  std::optional<int> systemd_stub_version;

  // Grub boot only.
  std::optional<std::vector<std::byte>> shim;
  std::optional<std::vector<std::byte>> grub;
  std::optional<std::vector<std::byte>> fallback;  // fbx64.efi, when shim's fallback runs
  bool shim_fallback_run = false;                  // BOOTX64 → fbx64 → shim again
  std::optional<std::vector<std::byte>> disk_head; // first sectors of the disk (GPT event; grub and UKI)
  std::uint32_t sector_size = 512;
  std::optional<std::string> sbat_level;              // shim's SbatLevel variable content
  std::map<std::string, crypto::Sha384> mok_digests;  // MokList/MokListX/MokListTrusted
  std::optional<ProvidedEvent> secure_boot_authority; // db entry that verified shim
  GrubFlavor grub_flavor = GrubFlavor::none;
  std::vector<GrubRecord> grub_records;
};

struct PredictedEvent {
  std::size_t rtmr = 0; // 0..3; MR index = rtmr + 1
  std::uint32_t type = 0;
  std::string label;                    // stable machine name, e.g. "td_hob", "kernel"
  std::string description;              // human text, e.g. the action string or variable name
  std::vector<std::string> depends_on;  // inputs, e.g. "platform.memory_bytes"
  std::optional<crypto::Sha384> digest; // nullopt: not predicted
  std::string not_predicted_reason;     // why, when digest is nullopt
};

// bugprone-exception-escape: the implicit noexcept members reach nlohmann::json
// internals the check cannot prove non-throwing.
// NOLINTNEXTLINE(bugprone-exception-escape)
struct Prediction {
  TdvfMetadata tdvf;
  MrtdCandidates mrtd;
  std::optional<PageAddOrder> selected_page_add_order;
  std::vector<PredictedEvent> events; // grouped by RTMR, each in measurement order
  // nullopt when an event of that register is not predicted.
  std::array<std::optional<crypto::Sha384>, 4> rtmr;
  nlohmann::json inputs;          // what went in (digests of files, profile values)
  std::vector<std::string> notes; // assumptions and caveats, for humans
};

// Predicts MRTD and RTMR0..3 for booting `artifacts` on `firmware` under
// `profile`. Throws cvm::Error(input) for unusable artifacts or firmware and
// cvm::Error(usage) for a profile missing a required value.
Prediction
predict(const BootArtifacts &artifacts, std::span<const std::byte> firmware, const PlatformProfile &profile);

// How many of `p`'s events carry no predicted digest.
std::size_t events_not_predicted(const Prediction &p);

} // namespace cvm::measure
