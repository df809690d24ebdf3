// SPDX-License-Identifier: Apache-2.0
#include "lib/plan/binding.hpp"

#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "measurement/firmware_db.hpp"
#include "measurement/predict.hpp"
#include "measurement/tdvf.hpp"

#include <fmt/format.h>

#include <charconv>

namespace cvm::plan {

namespace {

measure::BootMode
to_measure(manifest::BootMode mode) {
  switch (mode) {
  case manifest::BootMode::direct:
    return measure::BootMode::direct;
  case manifest::BootMode::uki:
    return measure::BootMode::uki;
  case manifest::BootMode::grub:
    break;
  }
  return measure::BootMode::grub;
}

const manifest::PlatformProfile *
selected_profile(const manifest::Manifest &m) {
  if (m.measurement.profile.empty()) {
    return nullptr;
  }
  const auto it = m.measurement.profiles.find(m.measurement.profile);
  return it == m.measurement.profiles.end() ? nullptr : &it->second;
}

// The key of the selected profile's field, for diagnostics.
std::string
profile_key(const manifest::Manifest &m, const std::string &field) {
  return fmt::format("measurement.profiles.{}.{}", m.measurement.profile, field);
}

void
check_firmware(const manifest::Manifest &m, const manifest::PlatformProfile &p, manifest::Diagnostics &d) {
  if (!p.firmware) {
    return;
  }
  const auto where = m.where(profile_key(m, "firmware"));
  std::vector<std::byte> bytes;
  try {
    bytes = fs::read_file(*p.firmware);
  } catch (const Error &e) {
    d.error(where, fmt::format("firmware: {}", e.what()));
    return;
  }
  try {
    (void)measure::parse_tdvf_metadata(bytes);
  } catch (const Error &e) {
    std::string_view why = e.what();
    if (why.starts_with("firmware: ")) {
      why.remove_prefix(std::string_view("firmware: ").size());
    }
    d.error(
        where,
        fmt::format("firmware: {} is not a TDX firmware (TDVF): {}", p.firmware->string(), why),
        "name the unified OVMF image the TD boots with -bios (OVMF.fd), not OVMF_CODE*.fd or a VARS file");
    return;
  }
  const auto known = measure::identify_firmware(bytes);
  if (!known || p.ovmf_version.empty()) {
    return;
  }
  int stated = 0;
  try {
    stated = measure::parse_ovmf_version(p.ovmf_version);
  } catch (const Error &) {
    return; // the manifest reader reported it
  }
  if (stated != known->ovmf_version) {
    d.error(m.where(profile_key(m, "ovmf_version")),
            fmt::format("ovmf_version: {} contradicts the firmware file, which is {} (edk2-stable{})",
                        p.ovmf_version,
                        known->description,
                        known->ovmf_version),
            fmt::format("write ovmf_version: edk2-stable{}", known->ovmf_version));
  }
}

} // namespace

std::optional<std::pair<int, int>>
kernel_major_minor(std::string_view kernel_version) {
  int major = 0;
  int minor = 0;
  const char *const end = kernel_version.data() + kernel_version.size();
  auto r = std::from_chars(kernel_version.data(), end, major);
  if (r.ec != std::errc{} || r.ptr == end || *r.ptr != '.') {
    return std::nullopt;
  }
  r = std::from_chars(r.ptr + 1, end, minor);
  if (r.ec != std::errc{}) {
    return std::nullopt;
  }
  return std::make_pair(major, minor);
}

measure::BindingVerdict
binding_verdict(const manifest::Manifest &m, const GuestBootFacts *facts) {
  measure::BindingInputs in;
  in.mode = to_measure(m.boot.mode);
  in.tdx = m.attestation.tee == manifest::Tee::tdx;
  if (const auto *p = selected_profile(m)) {
    in.firmware = p->firmware.has_value();
    try {
      in.ovmf_version = p->ovmf_version.empty() ? 0 : measure::parse_ovmf_version(p->ovmf_version);
    } catch (const Error &) {
      in.ovmf_version = 0;
    }
    in.rtmr0_inputs = p->reference_ccel.has_value() || p->platform.has_value();
  }
  if (facts != nullptr) {
    in.kernel_version = facts->kernel_version;
    in.grub_flavor = facts->grub_flavor;
    in.shim = facts->shim;
    in.systemd_stub_version = facts->systemd_stub_version;
    in.rtmr_not_predicted = facts->rtmr_not_predicted;
  }
  return measure::binding_verdict(in);
}

void
check_binding(const manifest::Manifest &m, manifest::Diagnostics &d, bool check_files) {
  const auto *profile = selected_profile(m);
  if (profile != nullptr && check_files) {
    check_firmware(m, *profile, d);
  }
  if (!m.attestation.enabled || m.attestation.tee != manifest::Tee::tdx) {
    return; // sample evidence is INSECURE-TEST already, and binds nothing by design
  }
  const auto verdict = binding_verdict(m);
  if (verdict.bindable()) {
    return;
  }
  const std::string what = measure::unbound_summary(verdict);
  std::string hint;
  for (const auto &w : verdict.ways_out) {
    hint += (hint.empty() ? "" : "; or ") + w;
  }
  if (m.attestation.insecure_allow_unbound) {
    d.warning(m.where("attestation.insecure_allow_unbound"),
              fmt::format("NOT BOUND (allowed for tests by attestation.insecure_allow_unbound): the host can "
                          "change what runs before the key is used and still obtain it: {}",
                          what));
    return;
  }
  d.error(m.where(m.locations.count("boot.mode") != 0 ? "boot.mode" : "attestation"),
          fmt::format("the disk key would not be bound to this image: {}", what),
          hint);
}

manifest::LoadResult
load_checked(const std::filesystem::path &path, const manifest::LoadOptions &options) {
  auto result = manifest::load(path, options);
  if (result.manifest) {
    check_binding(*result.manifest, result.diagnostics, options.check_files);
    if (result.diagnostics.has_errors()) {
      result.manifest.reset();
    }
    result.diagnostics.sort();
  }
  return result;
}

} // namespace cvm::plan
