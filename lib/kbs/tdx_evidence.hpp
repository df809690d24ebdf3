// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/kbs/evidence.hpp"

#include <array>
#include <cstddef>
#include <filesystem>
#include <span>
#include <vector>

// TDX evidence through the Linux configfs-tsm report ABI
// (Documentation/ABI/testing/configfs-tsm-report, Linux >= 6.7) plus the
// firmware's CC event log from ACPI CCEL. Evidence JSON, as Trustee's TDX
// verifier expects it: {"cc_eventlog": <base64 or null>, "quote": <base64>}.
namespace cvm::kbs {

struct TdxPaths {
  std::filesystem::path tsm_report_root = "/sys/kernel/config/tsm/report";
  std::filesystem::path ccel = "/sys/firmware/acpi/tables/data/CCEL";
  // The tdx_guest measurement registers in sysfs (Linux >= 6.16,
  // Documentation/ABI/testing/sysfs-devices-virtual-misc-tdx_guest).
  std::filesystem::path measurements = "/sys/devices/virtual/misc/tdx_guest/measurements";
};

// The 48 bytes the agent extends RTMR3 with once the key was released:
// SHA-384 of the ASCII text "cvmforge: disk key released, leaving the
// initramfs". A verifier that pins RTMR3 to its boot value (48 zero bytes:
// nothing else extends RTMR3 before the agent) refuses every later quote.
const std::array<std::byte, 48> &rtmr3_release_marker();

// Extends `register_file` (an RTMR's sysfs attribute, e.g. "rtmr3:sha384")
// with `digest` and checks that the register then reads SHA-384(old value ||
// digest). Returns false if `register_file` does not exist. Throws
// cvm::Error(io/input) if it exists but cannot be read or written, or the
// read-back value is not the extension (a register that ignores writes).
bool extend_rtmr(const std::filesystem::path &register_file, std::span<const std::byte, 48> digest);

// One quote from configfs-tsm for `report_data`: mkdir a private report
// directory, require provider "tdx_guest", read generation, write the 64
// bytes to inblob, read outblob, require generation to have advanced by
// exactly one (no concurrent writer), rmdir. Throws cvm::Error(input/io) on
// any deviation, including an empty outblob.
std::vector<std::byte> tsm_quote(const std::filesystem::path &tsm_report_root,
                                 const std::array<std::byte, 64> &report_data);

class TdxEvidenceProvider final : public EvidenceProvider {
public:
  explicit TdxEvidenceProvider(TdxPaths paths = {});

  [[nodiscard]] std::string tee() const override;

  // Mounts configfs on /sys/kernel/config if the default TSM root is missing,
  // then creates and removes a report directory to check that the provider is
  // tdx_guest. Throws cvm::Error(input) otherwise.
  void preflight() override;

  // REPORTDATA = `digest` zero-padded to 64 bytes; the quote's REPORTDATA is
  // checked to equal it before the evidence is returned.
  nlohmann::json primary_evidence(std::span<const std::byte> digest) override;

  // Extends RTMR3 with rtmr3_release_marker() through
  // <measurements>/rtmr3:sha384; false on kernels without that attribute.
  bool close_release_window() override;

private:
  TdxPaths m_paths;
};

} // namespace cvm::kbs
