// SPDX-License-Identifier: Apache-2.0
#include "measurement/firmware_db.hpp"

#include "lib/crypto/crypto.hpp"
#include "lib/util/hex.hpp"

#include <array>

namespace cvm::measure {

namespace {

// Add a build only with its provenance: the package and version it came
// from, and the sha256 of the file as installed.
const std::array<KnownFirmware, 1> k_known = {{
    {"7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773",
     "Debian 12 ovmf 2022.11-6+deb12u2, /usr/share/ovmf/OVMF.fd",
     202211},
}};

constexpr int k_first_cc_measurement = 202302; // edk2 4d37059d8e

} // namespace

std::optional<KnownFirmware>
identify_firmware(std::span<const std::byte> firmware) {
  const std::string digest = to_hex(crypto::sha256(firmware));
  for (const auto &k : k_known) {
    if (k.sha256 == digest) {
      return k;
    }
  }
  return std::nullopt;
}

bool
firmware_measures_rtmrs(int ovmf_version) {
  return ovmf_version >= k_first_cc_measurement;
}

} // namespace cvm::measure
