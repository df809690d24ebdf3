// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/crypto/crypto.hpp"
#include "measurement/uefi.hpp"

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// Digests of the fixed-format events TDVF, shim and the Linux EFI stub log,
// built from first principles (see README.md "Event digests").
namespace cvm::measure {

// EV_EFI_ACTION: SHA-384 of the ASCII string without NUL.
crypto::Sha384 action_digest(std::string_view action);

// EV_SEPARATOR: SHA-384 of four zero bytes.
crypto::Sha384 separator_digest();

// EV_EFI_VARIABLE_DRIVER_CONFIG / EV_EFI_VARIABLE_AUTHORITY: SHA-384 of the
// whole UEFI_VARIABLE_DATA.
crypto::Sha384 variable_digest(const Guid &vendor, std::string_view name, std::span<const std::byte> data);

// The GUID a Secure Boot variable lives under: db/dbx under
// EFI_IMAGE_SECURITY_DATABASE_GUID, everything else under EFI_GLOBAL_VARIABLE.
Guid secure_boot_variable_guid(std::string_view name);

// The LOADED_IMAGE::LoadOptions string OVMF builds for QEMU direct boot:
// "<cmdline> initrd=initrd" (edk2 < 202508) or "initrd=initrd <cmdline>"
// (edk2 >= 202508) when an initrd is present, otherwise "<cmdline>".
std::string ovmf_load_options(std::string_view cmdline, bool has_initrd, int ovmf_version);

// EFI_LOAD_OPTION of QEMU direct boot's Boot0000 "UiApp" (attributes 0x109,
// Fv(7cb8bdc9-…)/FvFile(462caa21-…)).
std::vector<std::byte> uiapp_boot_option();

// The vendor certificate (DER) shim embeds in its ".vendor_cert" section, or
// an empty vector when it has none. Throws cvm::Error(input) for a malformed
// section.
std::vector<std::byte> shim_vendor_cert(std::span<const std::byte> shim);

// The SbatLevel payloads shim carries in its ".sbatlevel" section
// ("previous" and "latest" policies), or nullopt when it has none.
struct ShimSbatLevels {
  std::string previous;
  std::string latest;
};

std::optional<ShimSbatLevels> shim_sbat_levels(std::span<const std::byte> shim);

} // namespace cvm::measure
