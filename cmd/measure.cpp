// SPDX-License-Identifier: Apache-2.0
// cvmforge measure: TDX reference values (MRTD, RTMR0-3) from boot artifacts,
// a firmware file and a platform profile; `measure replay` checks a real CC
// event log against a quote and against a prediction. All computation lives
// in measurement/; this file only reads files and prints.
#include "cmd/app.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/log.hpp"
#include "measurement/binding.hpp"
#include "measurement/boot_inputs.hpp"
#include "measurement/compare.hpp"
#include "measurement/eventlog.hpp"
#include "measurement/firmware_db.hpp"
#include "measurement/kernel.hpp"
#include "measurement/predict.hpp"
#include "measurement/quote.hpp"
#include "measurement/reference.hpp"
#include "measurement/rtmr.hpp"
#include "measurement/tpm_log.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cvm::cli {

namespace {

namespace stdfs = std::filesystem;

// Where --help sends readers: the installed copy of measurement/README.md.
const std::string k_measure_doc = std::string(CVM_DOC_DIR) + "/measurement/README.md";

// Untrusted inputs are bounded: firmware and kernels well below this.
constexpr std::size_t k_max_input_size = std::size_t{512} << 20U;

struct MeasureOptions {
  std::string firmware;
  std::string platform;
  std::string artifacts;
  std::string image;
  std::string boot = "direct";
  std::string uki;
  std::string kernel;
  std::string initrd;
  std::string cmdline;
  bool cmdline_set = false;
  std::string linux_version;
  std::string shim;
  std::string grub;
  std::string fallback;
  bool shim_fallback_run = false;
  std::string disk_head;
  std::string sbat_level_file;
  std::string grub_records;
  std::string grub_flavor = "none";
  std::string mok_digests;
  // Profile fields given on the command line (override --platform).
  std::optional<std::uint32_t> vcpus;
  std::string memory;
  std::string qemu_version;
  std::string ovmf_version;
  std::string page_add_order;
  std::string acpi_tables;
  std::string acpi_rsdp;
  std::string acpi_loader;
  std::string reference_ccel;
  std::string format;
  std::string output;
};

struct ReplayOptions {
  std::string ccel;
  std::string tpm_log;
  bool image_layer = false;
  std::string quote;
  std::string expected;
  std::string format;
  std::string output;
};

bool
is_dir(const std::string &path) {
  std::error_code ec;
  return stdfs::is_directory(path, ec);
}

// -o names the file to write: a directory is refused before any work is
// done (the file is written next to it atomically, never inside "/").
const CLI::Validator k_output_file(
    [](std::string &path) -> std::string {
      if (path.empty() || path.back() == '/' || is_dir(path)) {
        return path + " is a directory; give the name of the file to write, e.g. " +
               (stdfs::path(path) / "reference.json").string();
      }
      return {};
    },
    "FILE");

std::vector<std::byte>
read_input(const std::string &path) {
  return fs::read_file(path, k_max_input_size);
}

// QEMU -m semantics: a bare number is MiB; K, M, G, T suffixes.
std::uint64_t
parse_memory(std::string_view text) {
  std::uint64_t value = 0;
  const auto res = std::from_chars(text.data(), text.data() + text.size(), value);
  if (res.ec != std::errc{} || value == 0) {
    throw Error(ErrorKind::usage, R"(--memory "{}": expected a size like 2048, 2048M or 4G)", text);
  }
  const std::string_view suffix(res.ptr, static_cast<std::size_t>(text.data() + text.size() - res.ptr));
  unsigned shift = 20;
  if (suffix == "K" || suffix == "k") {
    shift = 10;
  } else if (suffix == "G" || suffix == "g") {
    shift = 30;
  } else if (suffix == "T" || suffix == "t") {
    shift = 40;
  } else if (!suffix.empty() && suffix != "M" && suffix != "m") {
    throw Error(ErrorKind::usage, R"(--memory "{}": unknown unit "{}")", text, suffix);
  }
  return value << shift;
}

// Explicit files are read with the CLI's size bound; a missing one is reported
// by the loader.
std::optional<std::vector<std::byte>>
read_if_exists(const stdfs::path &path) {
  return fs::read_file_if_exists(path, k_max_input_size);
}

measure::PlatformProfile
load_profile(const MeasureOptions &o) {
  measure::PlatformProfile p;
  if (!o.platform.empty()) {
    p = measure::load_platform_profile(o.platform, read_if_exists);
  }
  if (o.vcpus) {
    p.vcpus = *o.vcpus;
  }
  if (!o.memory.empty()) {
    p.memory_bytes = parse_memory(o.memory);
  }
  if (!o.qemu_version.empty()) {
    p.qemu_version = measure::parse_qemu_version(o.qemu_version);
  }
  if (!o.ovmf_version.empty()) {
    p.ovmf_version = measure::parse_ovmf_version(o.ovmf_version);
  }
  if (o.page_add_order == "single_pass") {
    p.page_add_order = measure::PageAddOrder::single_pass;
  } else if (o.page_add_order == "two_pass") {
    p.page_add_order = measure::PageAddOrder::two_pass;
  } else if (o.page_add_order == "both") {
    p.page_add_order.reset();
  }
  if (!o.acpi_tables.empty()) {
    p.acpi_tables = read_input(o.acpi_tables);
  }
  if (!o.acpi_rsdp.empty()) {
    p.acpi_rsdp = read_input(o.acpi_rsdp);
  }
  if (!o.acpi_loader.empty()) {
    p.acpi_table_loader = read_input(o.acpi_loader);
  }
  if (!o.reference_ccel.empty()) {
    measure::adopt_reference_log_file(p, o.reference_ccel, read_if_exists);
  }
  if (p.memory_bytes == 0 || p.qemu_version == measure::QemuVersion{} || p.ovmf_version == 0) {
    throw Error(ErrorKind::usage,
                "the platform is incomplete: give --platform FILE or --memory, --qemu-version and "
                "--ovmf-version (nothing is assumed from this host)");
  }
  return p;
}

// `value` of the option `flag`, one of `choices` (name, meaning).
template<typename T>
T
choice(std::string_view flag,
       std::string_view value,
       std::initializer_list<std::pair<std::string_view, T>> choices) {
  for (const auto &[name, meaning] : choices) {
    if (value == name) {
      return meaning;
    }
  }
  std::string names;
  for (const auto &c : choices) {
    names += (names.empty() ? "" : ", ") + std::string(c.first);
  }
  throw Error(ErrorKind::usage, "{} must be one of {}", flag, names);
}

std::optional<std::pair<int, int>>
linux_version(const std::string &text) {
  if (text.empty()) {
    return std::nullopt;
  }
  int major = 0;
  int minor = 0;
  const char *end = text.data() + text.size();
  const auto dot = std::from_chars(text.data(), end, major);
  if (dot.ec != std::errc{} || dot.ptr == end || *dot.ptr != '.' ||
      std::from_chars(dot.ptr + 1, end, minor).ec != std::errc{}) {
    throw Error(ErrorKind::usage, R"(--linux-version "{}": expected MAJOR.MINOR)", text);
  }
  return std::make_pair(major, minor);
}

measure::BootArtifacts
load_artifacts(const MeasureOptions &o) {
  using measure::BootMode;
  using measure::GrubFlavor;
  if (!o.artifacts.empty() && !stdfs::is_directory(o.artifacts)) {
    throw Error(ErrorKind::usage, "--artifacts {}: not a directory", o.artifacts);
  }
  const measure::BootFiles files{
      .mode = choice<BootMode>(
          "--boot", o.boot, {{"direct", BootMode::direct}, {"grub", BootMode::grub}, {"uki", BootMode::uki}}),
      .artifacts_dir = o.artifacts,
      .uki = o.uki,
      .kernel = o.kernel,
      .initrd = o.initrd,
      .cmdline = o.cmdline_set ? std::optional(o.cmdline) : std::nullopt,
      .linux_version = linux_version(o.linux_version),
      .disk_head = o.disk_head,
      .shim = o.shim,
      .grub = o.grub,
      .fallback = o.fallback,
      .shim_fallback_run = o.shim_fallback_run,
      .sbat_level = o.sbat_level_file,
      .grub_records = o.grub_records,
      .mok_digests = o.mok_digests,
      .grub_flavor = choice<GrubFlavor>(
          "--grub-flavor",
          o.grub_flavor,
          {{"none", GrubFlavor::none}, {"upstream", GrubFlavor::upstream}, {"rhel", GrubFlavor::rhel}}),
  };
  return measure::load_boot_artifacts(files, read_if_exists);
}

void
emit(const std::string &text, const std::string &output) {
  if (output.empty()) {
    fmt::print("{}", text);
    return;
  }
  fs::write_file_atomic(output, text);
  log::info("wrote {}", output);
}

std::string
effective_format(const std::string &format, const GlobalOptions &g) {
  if (!format.empty()) {
    return format;
  }
  return g.json ? "json" : "text";
}

// Flags that do not apply to the chosen boot path are mistakes, not no-ops:
// the reference values would silently not depend on them.
void
refuse_inapplicable(const MeasureOptions &o) {
  struct Flag {
    const char *name;
    bool given;
  };
  const std::vector<Flag> grub_only = {{"--shim", !o.shim.empty()},
                                       {"--grub", !o.grub.empty()},
                                       {"--fallback", !o.fallback.empty()},
                                       {"--shim-fallback-run", o.shim_fallback_run},
                                       {"--sbat-level", !o.sbat_level_file.empty()},
                                       {"--grub-records", !o.grub_records.empty()},
                                       {"--grub-flavor", o.grub_flavor != "none"},
                                       {"--mok-digests", !o.mok_digests.empty()}};
  const std::vector<Flag> outside_uki = {{"--kernel", !o.kernel.empty()},
                                         {"--initrd", !o.initrd.empty()},
                                         {"--cmdline", o.cmdline_set},
                                         {"--linux-version", !o.linux_version.empty()}};
  const auto refuse = [&](const std::vector<Flag> &flags, const std::string &why) {
    for (const auto &f : flags) {
      if (f.given) {
        throw Error(ErrorKind::usage, "{} does not apply to --boot {}: {}", f.name, o.boot, why);
      }
    }
  };
  if (o.boot != "grub") {
    refuse(grub_only, "only GRUB boot loads shim and GRUB");
  }
  if (o.boot == "uki") {
    refuse(outside_uki, "the UKI's own .linux, .initrd and .cmdline sections are what boots");
  } else if (!o.uki.empty()) {
    throw Error(ErrorKind::usage, "--uki applies only to --boot uki");
  }
  if (o.boot == "direct" && !o.disk_head.empty()) {
    throw Error(ErrorKind::usage,
                "--disk-head does not apply to --boot direct: no disk is read before the kernel");
  }
}

// A firmware build the model knows by its bytes must match the stated version.
void
check_firmware_version(std::span<const std::byte> firmware,
                       const std::string &path,
                       const measure::PlatformProfile &profile) {
  const auto known = measure::identify_firmware(firmware);
  if (known && known->ovmf_version != profile.ovmf_version) {
    throw Error(
        ErrorKind::usage,
        "--ovmf-version / profile ovmf_version edk2-stable{} contradicts {}, which is {} (edk2-stable{})",
        profile.ovmf_version,
        path,
        known->description,
        known->ovmf_version);
  }
}

// The binding verdict of this boot path, from the artifacts themselves.
measure::BindingVerdict
verdict_for(const measure::BootArtifacts &a,
            const measure::PlatformProfile &profile,
            const measure::Prediction &prediction) {
  measure::BindingInputs in;
  in.mode = a.mode;
  in.firmware = true;
  in.ovmf_version = profile.ovmf_version;
  in.rtmr0_inputs = true; // whether they sufficed shows as a register not predicted
  in.kernel_version = a.linux_version;
  if (!in.kernel_version) {
    try {
      in.kernel_version = measure::parse_bzimage(a.kernel).version;
    } catch (const Error &) { // NOLINT(bugprone-empty-catch): unknown version stays conditional
    }
  }
  in.grub_flavor = a.grub_flavor;
  in.shim = a.shim.has_value();
  in.systemd_stub_version = a.systemd_stub_version;
  for (std::size_t i = 0; i < prediction.rtmr.size(); ++i) {
    if (!prediction.rtmr[i]) {
      in.rtmr_not_predicted.insert(i);
    }
  }
  return measure::binding_verdict(in);
}

int
run_measure(const MeasureOptions &o, const GlobalOptions &g) {
  if (!o.image.empty()) {
    throw Error(ErrorKind::usage,
                "--image: reading a disk image needs the image pipeline; pass the boot artifacts "
                "`cvmforge build` extracts (--artifacts DIR) or the files themselves");
  }
  if (o.firmware.empty()) {
    throw Error(ErrorKind::usage, "--firmware FILE (the unified OVMF/TDVF image) is required");
  }
  refuse_inapplicable(o);
  const auto profile = load_profile(o);
  const auto artifacts = load_artifacts(o);
  const auto firmware = read_input(o.firmware);
  check_firmware_version(firmware, o.firmware, profile);
  const auto prediction = measure::predict(artifacts, firmware, profile);
  const auto verdict = verdict_for(artifacts, profile, prediction);
  for (std::size_t i = 0; i < prediction.rtmr.size(); ++i) {
    if (!prediction.rtmr[i]) {
      log::warning("RTMR{} is not predicted: some of its events depend on inputs not supplied", i);
    }
  }
  auto json = measure::prediction_to_json(prediction);
  json["inputs"]["firmware"]["path"] = o.firmware;
  json["binding"] = measure::to_json(verdict);
  if (!verdict.bound()) {
    log::warning("{}: an attested image booted this way is NOT BOUND to its key: {}",
                 measure::to_string(artifacts.mode),
                 measure::unbound_summary(verdict));
  }
  const std::string format = effective_format(o.format, g);
  if (format != "text") {
    // The text report lists the notes itself; print them once, not twice.
    for (const auto &note : prediction.notes) {
      log::info("{}", note);
    }
  }
  if (format == "json") {
    emit(json.dump(2) + "\n", o.output);
  } else if (format == "trustee") {
    emit(measure::trustee_rvps_message(prediction).dump(2) + "\n", o.output);
  } else if (format == "ita") {
    emit(measure::ita_policy(prediction).dump(2) + "\n", o.output);
  } else if (format == "ita-rego") {
    emit(measure::ita_policy_rego(prediction), o.output);
  } else if (format == "text") {
    emit(measure::prediction_to_text(prediction) + "\n" + measure::to_text(verdict), o.output);
  } else {
    throw Error(ErrorKind::usage, "--format must be json, trustee, ita, ita-rego or text");
  }
  return 0;
}

// Why the oracle leaves the platform layer alone, for the report.
constexpr std::string_view k_tpm_platform_note =
    "TPM log: RTMR0 (firmware, variables, ACPI, boot options), PCR 0 and the fixed actions and "
    "separators come from a VM with a software TPM, not from the TD's platform";
constexpr std::string_view k_cc_platform_note =
    "--image-layer: RTMR0 and the fixed actions and separators depend on the platform";

int
run_replay(const ReplayOptions &o, const GlobalOptions &g) {
  if (o.ccel.empty() == o.tpm_log.empty()) {
    throw Error(ErrorKind::usage, "give exactly one of --ccel FILE and --tpm-log FILE");
  }
  const std::string &log_path = o.ccel.empty() ? o.tpm_log : o.ccel;
  const auto log_bytes = read_input(log_path);
  measure::EventLog log;
  std::vector<measure::Event> unmapped;
  try {
    log = measure::parse_event_log(log_bytes);
    if (!o.tpm_log.empty()) {
      auto mapped = measure::map_tpm_log_to_cc(log);
      log = std::move(mapped.log);
      unmapped = std::move(mapped.unmapped);
    }
  } catch (const Error &e) {
    throw e.with_context(log_path);
  }
  if (!o.tpm_log.empty() && !unmapped.empty()) {
    log::info("{} events of PCR 0 or PCR 16+ map to no RTMR and are left out", unmapped.size());
  }
  const bool image_layer = o.image_layer || !o.tpm_log.empty();
  if (image_layer && o.expected.empty()) {
    throw Error(ErrorKind::usage,
                "--image-layer / --tpm-log compare against a prediction: give --expected FILE");
  }
  if (!o.tpm_log.empty() && !o.quote.empty()) {
    throw Error(ErrorKind::usage, "--quote checks a TD's RTMRs; a TPM log cannot reproduce them");
  }
  measure::RtmrBank bank;
  try {
    bank = measure::replay(log);
  } catch (const Error &e) {
    if (o.tpm_log.empty()) {
      throw e.with_context(log_path);
    }
    throw e.with_context(log_path + " (a TPM log needs an active SHA-384 PCR bank)");
  }
  std::optional<measure::Quote> quote;
  std::optional<measure::QuoteCheck> quote_check;
  if (!o.quote.empty()) {
    try {
      quote = measure::parse_quote(read_input(o.quote));
    } catch (const Error &e) {
      throw e.with_context(o.quote);
    }
    quote_check = measure::check_against_quote(bank, *quote);
  }
  std::optional<measure::ReplayComparison> comparison;
  std::optional<measure::ImageLayerComparison> image;
  if (!o.expected.empty()) {
    nlohmann::json expected;
    try {
      expected = nlohmann::json::parse(fs::read_text(o.expected));
    } catch (const nlohmann::json::exception &e) {
      throw Error(ErrorKind::input, "{}: not JSON: {}", o.expected, e.what());
    }
    const auto events = measure::events_from_json(expected);
    if (image_layer) {
      image = measure::compare_image_layer(log, events);
    } else {
      comparison = measure::compare_with_prediction(log, events);
    }
  }
  const std::string_view platform_note = o.tpm_log.empty() ? k_cc_platform_note : k_tpm_platform_note;
  const std::string format = effective_format(o.format, g);
  if (format == "json") {
    auto json = measure::replay_report_json(log, bank, quote, quote_check, comparison);
    if (!o.tpm_log.empty()) {
      json["log"]["kind"] = "tpm";
      json["log"]["unmapped_events"] = unmapped.size();
    }
    if (image) {
      json["image_layer"] = measure::image_layer_report_json(*image, platform_note);
    }
    emit(json.dump(2) + "\n", o.output);
  } else if (format == "text") {
    std::string text = measure::replay_report_text(log, bank, quote, quote_check, comparison);
    if (!o.tpm_log.empty()) {
      text += fmt::format("TPM log: PCRs mapped to RTMRs as TDVF does (PCR 1,7 -> RTMR0; 2-6 -> RTMR1; "
                          "8-15 -> RTMR2); {} events of PCR 0 / PCR 16+ left out\n",
                          unmapped.size());
    }
    if (image) {
      text += measure::image_layer_report_text(*image, platform_note);
    }
    emit(text, o.output);
  } else {
    throw Error(ErrorKind::usage, "--format must be json or text");
  }
  bool ok = true;
  if (image && !image->all_predicted_match()) {
    log::error("image layer: {} mismatched, {} missing in the log, {} not predicted",
               image->count(measure::EventStatus::digest_mismatch),
               image->count(measure::EventStatus::missing_in_log),
               image->count(measure::EventStatus::not_predicted));
    ok = false;
  }
  if (quote_check && !quote_check->all_match()) {
    log::error("the replayed event log does not match the quote's RTMRs");
    ok = false;
  }
  if (comparison && !comparison->all_match()) {
    for (const auto &reg : comparison->registers) {
      if (reg.first_divergence) {
        const auto &c = reg.events[*reg.first_divergence];
        std::string deps;
        if (c.expected) {
          for (const auto &d : c.expected->depends_on) {
            deps += (deps.empty() ? "" : ", ") + d;
          }
        }
        log::error("RTMR{}: first divergence at event {} ({}{}){}",
                   reg.rtmr,
                   c.position,
                   measure::to_string(c.status),
                   c.expected ? ", predicted " + c.expected->label : "",
                   deps.empty() ? "" : "; depends on " + deps);
      }
    }
    ok = false;
  }
  return ok ? 0 : exit_code(ErrorKind::mismatch);
}

} // namespace

void
// NOLINTNEXTLINE(performance-unnecessary-value-param): the signature of every register_* (app.hpp)
register_measure(CLI::App &app, const GlobalOptions &global, const std::shared_ptr<Action> &action) {
  auto o = std::make_shared<MeasureOptions>();
  CLI::App *sub =
      app.add_subcommand("measure",
                         "Compute TDX reference values (MRTD, RTMR0-3, event by event) from boot artifacts,\n"
                         "a firmware file and a platform profile; `measure replay` checks a real event log.");
  sub->footer(
      "What each register depends on:\n"
      "  MRTD   the firmware file only (both page-add orders are reported: per page on KVM/QEMU >= 9,\n"
      "         per section on QEMU 8.x stacks).\n"
      "  RTMR0  the platform: TD HOB (memory size, TDVF sections), the firmware's variable store,\n"
      "         Secure Boot variables, QEMU's three ACPI blobs (vCPUs, memory, devices, QEMU version),\n"
      "         boot variables.\n"
      "  RTMR1  the boot chain: EFI actions, the GPT (grub boot), Authenticode digests of shim, grub\n"
      "         and the kernel (direct boot: the kernel as QEMU patched it up to 10.1, unpatched later).\n"
      "  RTMR2  the kernel command line and initrd (Linux >= 6.9 EFI stub), grub's commands and files where\n"
      "         the guest's grub measures them, shim's MOK lists.\n"
      "  RTMR3  runtime only; never predicted.\n"
      "What the model cannot know is an explicit input or reported 'not predicted'. Capture the platform\n"
      "inputs once from a reference TD with the same VM shape: the fw_cfg blobs etc/table-loader,\n"
      "etc/acpi/rsdp and etc/acpi/tables from /sys/firmware/qemu_fw_cfg/by_name/ (modprobe qemu_fw_cfg),\n"
      "BootOrder/Boot#### from /sys/firmware/efi/efivars (drop the 4-byte attribute prefix), or simply its\n"
      "event log /sys/firmware/acpi/tables/data/CCEL for --reference-ccel. Details, schemas and the\n"
      "platform profile format: " +
      k_measure_doc);
  sub->require_subcommand(0, 1);
  sub->add_option("--firmware", o->firmware, "Unified OVMF/TDVF image loaded with -bios (e.g. OVMF.fd)")
      ->check(CLI::ExistingFile);
  sub->add_option("--platform", o->platform, "Platform profile JSON (format: see below)")
      ->check(CLI::ExistingFile);
  sub->add_option(
         "--artifacts",
         o->artifacts,
         "Directory of boot artifacts extracted by `cvmforge build` (vmlinuz, initrd.img, cmdline, ...)")
      ->check(CLI::ExistingDirectory);
  sub->add_option("--image", o->image, "A built image (needs the image pipeline; use --artifacts)");
  sub->add_option("--boot", o->boot, "direct (QEMU -kernel), grub (shim + grub from disk) or uki (ESP)")
      ->check(CLI::IsMember({"direct", "grub", "uki"}));
  sub->add_option("--uki", o->uki, "Unified kernel image the firmware starts (--boot uki)")
      ->check(CLI::ExistingFile);
  sub->add_option("--kernel", o->kernel, "Kernel (bzImage / EFI stub) as on disk")->check(CLI::ExistingFile);
  sub->add_option("--initrd", o->initrd, "Initrd as served to the kernel")->check(CLI::ExistingFile);
  sub->add_option("--cmdline", o->cmdline, "Kernel command line (direct: -append; grub: as grub passes it)")
      ->each([o](const std::string &) { o->cmdline_set = true; });
  sub->add_option("--linux-version", o->linux_version, "MAJOR.MINOR, if the bzImage header does not say");
  sub->add_option("--shim", o->shim, "shimx64.efi (grub boot)")->check(CLI::ExistingFile);
  sub->add_option("--grub", o->grub, "grubx64.efi (grub boot)")->check(CLI::ExistingFile);
  sub->add_option("--fallback", o->fallback, "fbx64.efi, with --shim-fallback-run")->check(CLI::ExistingFile);
  sub->add_flag("--shim-fallback-run", o->shim_fallback_run, "shim runs twice (BOOTX64 -> fbx64 -> shim)");
  sub->add_option("--disk-head", o->disk_head, "First 34 sectors of the disk (GPT event)")
      ->check(CLI::ExistingFile);
  sub->add_option("--sbat-level", o->sbat_level_file, "File with shim's SbatLevel content")
      ->check(CLI::ExistingFile);
  sub->add_option("--grub-records", o->grub_records, "JSON list of grub's measured commands/files")
      ->check(CLI::ExistingFile);
  sub->add_option("--grub-flavor", o->grub_flavor, "none, upstream or rhel (how grub measures)");
  sub->add_option("--mok-digests", o->mok_digests, "JSON {MokList: hex, MokListX: hex, MokListTrusted: hex}")
      ->check(CLI::ExistingFile);
  sub->add_option("--vcpus", o->vcpus, "vCPU count (overrides the profile)");
  sub->add_option("--memory", o->memory, "RAM, QEMU -m syntax: 2048, 2048M, 4G (overrides the profile)");
  sub->add_option("--qemu-version", o->qemu_version, "Host QEMU version, e.g. 10.2.1");
  sub->add_option(
      "--ovmf-version", o->ovmf_version, "edk2 tag the firmware was built from, e.g. edk2-stable202411");
  sub->add_option("--page-add-order", o->page_add_order, "single_pass, two_pass or both (default both)")
      ->check(CLI::IsMember({"single_pass", "two_pass", "both"}));
  sub->add_option("--acpi-tables", o->acpi_tables, "fw_cfg etc/acpi/tables captured from a reference TD")
      ->check(CLI::ExistingFile);
  sub->add_option("--acpi-rsdp", o->acpi_rsdp, "fw_cfg etc/acpi/rsdp")->check(CLI::ExistingFile);
  sub->add_option("--acpi-loader", o->acpi_loader, "fw_cfg etc/table-loader")->check(CLI::ExistingFile);
  sub->add_option("--reference-ccel",
                  o->reference_ccel,
                  "Event log of a reference TD with the same VM shape: ACPI digests, Secure Boot and\n"
                  "boot variables not given otherwise are taken from its RTMR0 events")
      ->check(CLI::ExistingFile);
  sub->add_option(
         "--format", o->format, "json, trustee, ita, ita-rego or text (default text; json with --json)")
      ->check(CLI::IsMember({"json", "trustee", "ita", "ita-rego", "text"}));
  sub->add_option("-o,--output", o->output, "Write the result to this file instead of stdout")
      ->check(k_output_file);

  auto r = std::make_shared<ReplayOptions>();
  CLI::App *replay = sub->add_subcommand(
      "replay",
      "Replay a CC event log (CCEL) into RTMR0-3, check it against a quote and diff it event by\n"
      "event against a prediction (`cvmforge measure --format json` output). With --tpm-log, the\n"
      "log of a VM with a software TPM: its PCRs are mapped to RTMRs and only the image layer is\n"
      "compared (\"Boot oracle\" in " +
          k_measure_doc + ").");
  replay->footer(""); // CLI11 copies the parent's footer: the register table is measure's
  replay->add_option("--ccel", r->ccel, "CCEL log area (/sys/firmware/acpi/tables/data/CCEL)")
      ->check(CLI::ExistingFile);
  replay
      ->add_option("--tpm-log",
                   r->tpm_log,
                   "Instead of --ccel: a TPM event log (binary_bios_measurements of a VM with a\n"
                   "software TPM and a SHA-384 bank); PCRs map to RTMRs as in TDVF and only the\n"
                   "image layer is compared with --expected (the boot oracle)")
      ->check(CLI::ExistingFile);
  replay->add_flag("--image-layer",
                   r->image_layer,
                   "With --expected: compare only the image layer (GPT, boot applications, kernel\n"
                   "stub, shim and grub events in RTMR1/RTMR2), aligned per register and event type");
  replay->add_option("--quote", r->quote, "TD quote (v4/v5) whose RTMRs the log must reproduce")
      ->check(CLI::ExistingFile);
  replay->add_option("--expected", r->expected, "Prediction JSON to diff against")->check(CLI::ExistingFile);
  replay->add_option("--format", r->format, "json or text (default text; json with --json)")
      ->check(CLI::IsMember({"json", "text"}));
  replay->add_option("-o,--output", r->output, "Write the report to this file instead of stdout")
      ->check(k_output_file);
  replay->callback(
      [r, action, &global]() { *action = [r, &global]() -> int { return run_replay(*r, global); }; });

  sub->callback([sub, replay, o, action, &global]() {
    if (replay->parsed()) {
      return;
    }
    (void)sub;
    *action = [o, &global]() -> int { return run_measure(*o, global); };
  });
}

} // namespace cvm::cli
