// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// UEFI data structures that appear in measured events: GUIDs, UEFI_VARIABLE_DATA,
// EFI_LOAD_OPTION, UTF-16 strings and device paths.
namespace cvm::measure {

// A GUID in EFI (mixed-endian) byte order, as stored in firmware and events.
struct Guid {
  std::array<std::byte, 16> bytes{};

  bool operator==(const Guid &) const = default;
};

// Parses "8be4df61-93ca-11d2-aa0d-00e098032b8c"; throws cvm::Error(input) if malformed.
Guid parse_guid(std::string_view text);

// The canonical lower-case text form of `guid`.
std::string to_string(const Guid &guid);

// EFI_GLOBAL_VARIABLE: SecureBoot, PK, KEK, BootOrder, Boot####.
inline const Guid k_efi_global_variable_guid = parse_guid("8be4df61-93ca-11d2-aa0d-00e098032b8c");
// EFI_IMAGE_SECURITY_DATABASE_GUID: db, dbx.
inline const Guid k_image_security_database_guid = parse_guid("d719b2cb-3d3a-4596-a3bc-dad00e67656f");
// shim's SHIM_LOCK_GUID: SbatLevel, MokListRT.
inline const Guid k_shim_lock_guid = parse_guid("605dab50-e046-4300-abb6-3dd810dd8b23");

enum class NulTerminator { yes, no };

// `text` (ASCII or UTF-8 limited to the BMP) as UTF-16LE bytes.
std::vector<std::byte> to_utf16le(std::string_view text, NulTerminator nul);

// UTF-16LE `bytes` as UTF-8, stopping at the first NUL; odd trailing byte ignored.
std::string from_utf16le(std::span<const std::byte> bytes);

// UEFI_VARIABLE_DATA as measured by TDVF: GUID, u64 name length (characters),
// u64 data length, UTF-16LE name without NUL, data.
struct UefiVariableData {
  Guid vendor;
  std::string name;
  std::vector<std::byte> data;
};

// Throws cvm::Error(input) naming the offset if `bytes` is not a complete UEFI_VARIABLE_DATA.
UefiVariableData parse_uefi_variable_data(std::span<const std::byte> bytes);

std::vector<std::byte>
encode_uefi_variable_data(const Guid &vendor, std::string_view name, std::span<const std::byte> data);

// EFI_LOAD_OPTION: u32 attributes, u16 device-path length, UTF-16LE
// description with NUL, device path, optional data.
std::vector<std::byte> encode_load_option(std::uint32_t attributes,
                                          std::string_view description,
                                          std::span<const std::byte> device_path,
                                          std::span<const std::byte> optional_data = {});

// A readable rendering of an EFI device path ("PciRoot(0x0)/Pci(0x3,0x0)/HD(1,…)/
// File(\EFI\BOOT\BOOTX64.EFI)"). Malformed paths render as far as they parse,
// followed by "/(malformed)"; never throws.
std::string device_path_to_text(std::span<const std::byte> path);

// Little-endian encoders for building measured structures.
void append_le(std::vector<std::byte> &out, std::uint64_t value, std::size_t width);

void append_bytes(std::vector<std::byte> &out, std::span<const std::byte> bytes);

} // namespace cvm::measure
