// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>

// Firmware builds the measurement model knows by their bytes, so a profile's
// stated edk2 version can be checked against the file instead of trusted.
namespace cvm::measure {

struct KnownFirmware {
  std::string sha256;      // of the whole file, lower-case hex
  std::string description; // e.g. "Debian 12 ovmf 2022.11-6+deb12u2, /usr/share/ovmf/OVMF.fd"
  int ovmf_version = 0;    // edk2-stable tag (yyyymm) it was built from
};

// The entry for `firmware`, or nullopt for a build the model does not know.
std::optional<KnownFirmware> identify_firmware(std::span<const std::byte> firmware);

// Whether firmware built from edk2-stable`ovmf_version` measures the boot
// chain into the TDX RTMRs (TdTcg2Dxe, edk2-stable202302 and later).
bool firmware_measures_rtmrs(int ovmf_version);

} // namespace cvm::measure
