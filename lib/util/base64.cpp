// SPDX-License-Identifier: Apache-2.0
#include "lib/util/base64.hpp"

#include <array>
#include <cstdint>

namespace cvm {

namespace {

constexpr std::string_view k_std_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view k_url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

enum class Padding { yes, no };

std::string
encode(std::span<const std::byte> bytes, std::string_view alphabet, Padding padding) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (std::to_integer<std::uint32_t>(bytes[i]) << 16U) |
                            (std::to_integer<std::uint32_t>(bytes[i + 1]) << 8U) |
                            std::to_integer<std::uint32_t>(bytes[i + 2]);
    out.push_back(alphabet[(v >> 18U) & 0x3fU]);
    out.push_back(alphabet[(v >> 12U) & 0x3fU]);
    out.push_back(alphabet[(v >> 6U) & 0x3fU]);
    out.push_back(alphabet[v & 0x3fU]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t v = std::to_integer<std::uint32_t>(bytes[i]) << 16U;
    out.push_back(alphabet[(v >> 18U) & 0x3fU]);
    out.push_back(alphabet[(v >> 12U) & 0x3fU]);
    if (padding == Padding::yes) {
      out += "==";
    }
  } else if (rest == 2) {
    const std::uint32_t v = (std::to_integer<std::uint32_t>(bytes[i]) << 16U) |
                            (std::to_integer<std::uint32_t>(bytes[i + 1]) << 8U);
    out.push_back(alphabet[(v >> 18U) & 0x3fU]);
    out.push_back(alphabet[(v >> 12U) & 0x3fU]);
    out.push_back(alphabet[(v >> 6U) & 0x3fU]);
    if (padding == Padding::yes) {
      out += "=";
    }
  }
  return out;
}

std::array<int, 256>
make_table(std::string_view alphabet) {
  std::array<int, 256> table{};
  table.fill(-1);
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<int>(i);
  }
  return table;
}

// Decodes into `out` (which the caller sized with decoded_size); false on error.
bool
decode_into(std::string_view text,
            const std::array<int, 256> &table,
            Padding padding,
            std::span<std::byte> out) {
  std::size_t len = text.size();
  if (padding == Padding::yes) {
    if (len % 4 != 0) {
      return false;
    }
    if (len >= 1 && text[len - 1] == '=') {
      --len;
      if (len >= 1 && text[len - 1] == '=') {
        --len;
      }
    }
  }
  if (len % 4 == 1) {
    return false;
  }
  std::uint32_t acc = 0;
  unsigned bits = 0;
  std::size_t o = 0;
  for (std::size_t i = 0; i < len; ++i) {
    const int v = table[static_cast<unsigned char>(text[i])];
    if (v < 0) {
      return false;
    }
    acc = (acc << 6U) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (o >= out.size()) {
        return false;
      }
      out[o++] = static_cast<std::byte>((acc >> bits) & 0xffU);
    }
  }
  // Canonical encodings leave no set bits behind.
  if (bits > 0 && (acc & ((1U << bits) - 1U)) != 0) {
    return false;
  }
  return o == out.size();
}

std::size_t
decoded_size(std::string_view text, Padding padding) {
  std::size_t len = text.size();
  if (padding == Padding::yes) {
    while (len > 0 && text[len - 1] == '=') {
      --len;
    }
  }
  return len * 6 / 8;
}

// The bytes `text` encodes, or nullopt if it is not a canonical encoding.
std::optional<std::vector<std::byte>>
decode(std::string_view text, const std::array<int, 256> &table, Padding padding) {
  std::vector<std::byte> out(decoded_size(text, padding));
  if (!decode_into(text, table, padding, out)) {
    return std::nullopt;
  }
  return out;
}

} // namespace

std::string
base64_encode(std::span<const std::byte> bytes) {
  return encode(bytes, k_std_alphabet, Padding::yes);
}

std::string
base64url_encode(std::span<const std::byte> bytes) {
  return encode(bytes, k_url_alphabet, Padding::no);
}

std::optional<std::vector<std::byte>>
base64_decode(std::string_view text) {
  static const auto k_table = make_table(k_std_alphabet);
  return decode(text, k_table, Padding::yes);
}

std::optional<std::vector<std::byte>>
base64url_decode(std::string_view text) {
  static const auto k_table = make_table(k_url_alphabet);
  return decode(text, k_table, Padding::no);
}

std::optional<SecretBytes>
base64url_decode_secret(std::string_view text) {
  static const auto k_table = make_table(k_url_alphabet);
  SecretBytes out(decoded_size(text, Padding::no));
  if (!decode_into(text, k_table, Padding::no, out.mutable_span())) {
    return std::nullopt;
  }
  return out;
}

} // namespace cvm
