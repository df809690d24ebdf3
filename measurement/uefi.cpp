// SPDX-License-Identifier: Apache-2.0
#include "measurement/uefi.hpp"

#include "lib/util/error.hpp"
#include "lib/util/hex.hpp"
#include "measurement/byte_reader.hpp"

#include <fmt/core.h>

namespace cvm::measure {

namespace {

constexpr std::size_t k_max_variable_name_chars = 1024;

// Byte positions, in the EFI byte order, of each hex pair of the text form.
constexpr std::array<std::size_t, 16> k_guid_byte_order = {
    3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};

std::string
render_node(std::uint8_t type, std::uint8_t subtype, std::span<const std::byte> body) {
  ByteReader r(body, "device path node");
  if (type == 1 && subtype == 1 && body.size() >= 2) {
    const auto function = r.u8("function");
    const auto device = r.u8("device");
    return fmt::format("Pci({:#x},{:#x})", device, function);
  }
  if (type == 2 && subtype == 1 && body.size() >= 8) {
    const std::uint32_t hid = r.u32("HID");
    const std::uint32_t uid = r.u32("UID");
    if (hid == 0x0a0341d0U || hid == 0x0a0841d0U) {
      return fmt::format("PciRoot({:#x})", uid);
    }
    return fmt::format("Acpi({:#x},{:#x})", hid, uid);
  }
  if (type == 4 && subtype == 1 && body.size() >= 38) {
    const std::uint32_t partition = r.u32("partition number");
    const std::uint64_t start = r.u64("partition start");
    const std::uint64_t size = r.u64("partition size");
    Guid sig;
    const auto sig_bytes = r.bytes(16, "partition signature");
    std::copy(sig_bytes.begin(), sig_bytes.end(), sig.bytes.begin());
    return fmt::format("HD({},GPT,{},{:#x},{:#x})", partition, to_string(sig), start, size);
  }
  if (type == 4 && subtype == 4) {
    return fmt::format("File({})", from_utf16le(body));
  }
  if (type == 4 && (subtype == 3 || subtype == 6 || subtype == 7) && body.size() >= 16) {
    Guid g;
    const auto guid_bytes = r.bytes(16, "GUID");
    std::copy(guid_bytes.begin(), guid_bytes.end(), g.bytes.begin());
    const std::string_view name = subtype == 3 ? "VenMedia" : (subtype == 6 ? "FvFile" : "Fv");
    return fmt::format("{}({})", name, to_string(g));
  }
  return fmt::format("Path({},{},{})", type, subtype, to_hex(body));
}

} // namespace

Guid
parse_guid(std::string_view text) {
  std::string hex;
  for (const char c : text) {
    if (c != '-') {
      hex.push_back(c);
    }
  }
  const auto bytes = from_hex(hex);
  if (text.size() != 36 || !bytes || bytes->size() != 16 || text[8] != '-' || text[13] != '-' ||
      text[18] != '-' || text[23] != '-') {
    throw Error(
        ErrorKind::input, "\"{}\" is not a GUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", text);
  }
  Guid g;
  for (std::size_t i = 0; i < 16; ++i) {
    g.bytes[k_guid_byte_order[i]] = (*bytes)[i];
  }
  return g;
}

std::string
to_string(const Guid &guid) {
  std::array<std::byte, 16> canonical{};
  for (std::size_t i = 0; i < 16; ++i) {
    canonical[i] = guid.bytes[k_guid_byte_order[i]];
  }
  const std::string hex = to_hex(canonical);
  return fmt::format("{}-{}-{}-{}-{}",
                     hex.substr(0, 8),
                     hex.substr(8, 4),
                     hex.substr(12, 4),
                     hex.substr(16, 4),
                     hex.substr(20, 12));
}

std::vector<std::byte>
to_utf16le(std::string_view text, NulTerminator nul) {
  std::vector<std::byte> out;
  out.reserve(text.size() * 2 + 2);
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    std::uint32_t code = c;
    std::size_t len = 1;
    if (c >= 0xe0 && i + 2 < text.size()) {
      code = ((c & 0x0fU) << 12U) | ((static_cast<unsigned char>(text[i + 1]) & 0x3fU) << 6U) |
             (static_cast<unsigned char>(text[i + 2]) & 0x3fU);
      len = 3;
    } else if (c >= 0xc0 && i + 1 < text.size()) {
      code = ((c & 0x1fU) << 6U) | (static_cast<unsigned char>(text[i + 1]) & 0x3fU);
      len = 2;
    }
    append_le(out, code & 0xffffU, 2);
    i += len;
  }
  if (nul == NulTerminator::yes) {
    append_le(out, 0, 2);
  }
  return out;
}

std::string
from_utf16le(std::span<const std::byte> bytes) {
  std::string out;
  for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) {
    const auto code = static_cast<std::uint32_t>(bytes[i]) | (static_cast<std::uint32_t>(bytes[i + 1]) << 8U);
    if (code == 0) {
      break;
    }
    if (code < 0x80) {
      out.push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out.push_back(static_cast<char>(0xc0U | (code >> 6U)));
      out.push_back(static_cast<char>(0x80U | (code & 0x3fU)));
    } else {
      out.push_back(static_cast<char>(0xe0U | (code >> 12U)));
      out.push_back(static_cast<char>(0x80U | ((code >> 6U) & 0x3fU)));
      out.push_back(static_cast<char>(0x80U | (code & 0x3fU)));
    }
  }
  return out;
}

UefiVariableData
parse_uefi_variable_data(std::span<const std::byte> bytes) {
  ByteReader r(bytes, "UEFI_VARIABLE_DATA");
  UefiVariableData var;
  const auto guid = r.bytes(16, "VariableName GUID");
  std::copy(guid.begin(), guid.end(), var.vendor.bytes.begin());
  const std::uint64_t name_chars = r.u64("UnicodeNameLength");
  const std::uint64_t data_len = r.u64("VariableDataLength");
  if (name_chars > k_max_variable_name_chars) {
    r.fail("UnicodeNameLength", fmt::format("{} characters is implausibly long", name_chars));
  }
  var.name = from_utf16le(r.bytes(static_cast<std::size_t>(name_chars) * 2, "UnicodeName"));
  if (data_len > r.remaining()) {
    r.fail("VariableData", fmt::format("expected {} bytes, only {} left", data_len, r.remaining()));
  }
  const auto data = r.bytes(static_cast<std::size_t>(data_len), "VariableData");
  var.data.assign(data.begin(), data.end());
  return var;
}

std::vector<std::byte>
encode_uefi_variable_data(const Guid &vendor, std::string_view name, std::span<const std::byte> data) {
  const auto name16 = to_utf16le(name, NulTerminator::no);
  std::vector<std::byte> out;
  append_bytes(out, vendor.bytes);
  append_le(out, name16.size() / 2, 8);
  append_le(out, data.size(), 8);
  append_bytes(out, name16);
  append_bytes(out, data);
  return out;
}

std::vector<std::byte>
encode_load_option(std::uint32_t attributes,
                   std::string_view description,
                   std::span<const std::byte> device_path,
                   std::span<const std::byte> optional_data) {
  std::vector<std::byte> out;
  append_le(out, attributes, 4);
  append_le(out, device_path.size(), 2);
  append_bytes(out, to_utf16le(description, NulTerminator::yes));
  append_bytes(out, device_path);
  append_bytes(out, optional_data);
  return out;
}

std::string
device_path_to_text(std::span<const std::byte> path) {
  std::string out;
  std::size_t pos = 0;
  while (pos + 4 <= path.size()) {
    const auto type = static_cast<std::uint8_t>(path[pos]);
    const auto subtype = static_cast<std::uint8_t>(path[pos + 1]);
    const auto len =
        static_cast<std::size_t>(path[pos + 2]) | (static_cast<std::size_t>(path[pos + 3]) << 8U);
    if (len < 4 || pos + len > path.size()) {
      return out + (out.empty() ? "" : "/") + "(malformed)";
    }
    if (type == 0x7f) {
      if (subtype == 0xff) {
        return out;
      }
      out += ",";
      pos += len;
      continue;
    }
    std::string node;
    try {
      node = render_node(type, subtype, path.subspan(pos + 4, len - 4));
    } catch (const Error &) {
      node = "(malformed)";
    }
    if (!out.empty() && out.back() != ',') {
      out += "/";
    }
    out += node;
    pos += len;
  }
  if (pos != path.size()) {
    out += out.empty() ? "(malformed)" : "/(malformed)";
  }
  return out;
}

void
append_le(std::vector<std::byte> &out, std::uint64_t value, std::size_t width) {
  for (std::size_t i = 0; i < width; ++i) {
    out.push_back(static_cast<std::byte>((value >> (8U * i)) & 0xffU));
  }
}

void
append_bytes(std::vector<std::byte> &out, std::span<const std::byte> bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

} // namespace cvm::measure
