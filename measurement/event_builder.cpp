// SPDX-License-Identifier: Apache-2.0
#include "measurement/event_builder.hpp"

#include "lib/util/error.hpp"
#include "lib/util/hex.hpp"
#include "measurement/byte_reader.hpp"
#include "measurement/pe.hpp"

#include <algorithm>

namespace cvm::measure {

crypto::Sha384
action_digest(std::string_view action) {
  return crypto::sha384(as_bytes(action));
}

crypto::Sha384
separator_digest() {
  const std::array<std::byte, 4> zero{};
  return crypto::sha384(zero);
}

crypto::Sha384
variable_digest(const Guid &vendor, std::string_view name, std::span<const std::byte> data) {
  return crypto::sha384(encode_uefi_variable_data(vendor, name, data));
}

Guid
secure_boot_variable_guid(std::string_view name) {
  if (name == "db" || name == "dbx") {
    return k_image_security_database_guid;
  }
  return k_efi_global_variable_guid;
}

std::string
ovmf_load_options(std::string_view cmdline, bool has_initrd, int ovmf_version) {
  if (!has_initrd) {
    return std::string(cmdline);
  }
  if (ovmf_version >= 202508) {
    return "initrd=initrd " + std::string(cmdline);
  }
  return std::string(cmdline) + " initrd=initrd";
}

std::vector<std::byte>
uiapp_boot_option() {
  std::vector<std::byte> path;
  const auto node = [&](std::uint8_t subtype, std::string_view guid) {
    path.push_back(std::byte{0x04});
    path.push_back(static_cast<std::byte>(subtype));
    append_le(path, 20, 2);
    append_bytes(path, parse_guid(guid).bytes);
  };
  node(0x07, "7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1"); // Fv (OVMF DXEFV)
  node(0x06, "462caa21-7614-4503-836e-8ab6f4662331"); // FvFile (UiApp)
  path.push_back(std::byte{0x7f});
  path.push_back(std::byte{0xff});
  append_le(path, 4, 2);
  return encode_load_option(0x109, "UiApp", path);
}

std::vector<std::byte>
shim_vendor_cert(std::span<const std::byte> shim) {
  const PeImage pe = parse_pe(shim);
  for (const auto &s : pe.sections) {
    if (s.name != ".vendor_cert") {
      continue;
    }
    const auto section =
        checked_subspan(shim, s.pointer_to_raw_data, s.size_of_raw_data, "shim", ".vendor_cert");
    ByteReader r(section, "shim .vendor_cert", s.pointer_to_raw_data);
    const std::uint32_t authorized_size = r.u32("vendor_authorized_size");
    r.skip(4, "vendor_deauthorized_size");
    const std::uint32_t authorized_offset = r.u32("vendor_authorized_offset");
    const auto cert = checked_subspan(
        section, authorized_offset, authorized_size, "shim .vendor_cert", "vendor certificate");
    return {cert.begin(), cert.end()};
  }
  return {};
}

std::optional<ShimSbatLevels>
shim_sbat_levels(std::span<const std::byte> shim) {
  const PeImage pe = parse_pe(shim);
  for (const auto &s : pe.sections) {
    if (s.name != ".sbatlevel") {
      continue;
    }
    const std::uint32_t size = std::min(s.virtual_size, s.size_of_raw_data);
    const auto section = checked_subspan(shim, s.pointer_to_raw_data, size, "shim", ".sbatlevel");
    ByteReader r(section, "shim .sbatlevel", s.pointer_to_raw_data);
    r.skip(4, "version");
    const std::uint32_t previous = r.u32("previous offset");
    const std::uint32_t latest = r.u32("latest offset");
    // Offsets count from just after the version field.
    const auto string_at = [&](std::uint32_t offset) {
      const auto rest =
          checked_subspan(section,
                          std::uint64_t{offset} + 4,
                          section.size() - std::min<std::size_t>(section.size(), std::size_t{offset} + 4),
                          "shim .sbatlevel",
                          "SbatLevel string");
      std::string out;
      for (const auto b : rest) {
        if (b == std::byte{0}) {
          return out;
        }
        out.push_back(static_cast<char>(b));
      }
      throw Error(ErrorKind::input, "shim .sbatlevel: SbatLevel string at {:#x} is not terminated", offset);
    };
    return ShimSbatLevels{string_at(previous), string_at(latest)};
  }
  return std::nullopt;
}

} // namespace cvm::measure
