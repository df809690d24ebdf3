// SPDX-License-Identifier: Apache-2.0
#include "lib/kbs/canonical_json.hpp"

#include "lib/util/error.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace cvm::kbs {

namespace {

// Decodes one UTF-8 sequence at `pos`; advances `pos`. Throws on malformed,
// overlong or surrogate encodings (JCS requires valid Unicode).
char32_t
next_code_point(std::string_view s, std::size_t &pos) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(pos);
  std::size_t len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if (b0 < 0x80U) {
    ++pos;
    return b0;
  }
  if ((b0 & 0xe0U) == 0xc0U) {
    len = 2;
    cp = b0 & 0x1fU;
    min = 0x80;
  } else if ((b0 & 0xf0U) == 0xe0U) {
    len = 3;
    cp = b0 & 0x0fU;
    min = 0x800;
  } else if ((b0 & 0xf8U) == 0xf0U) {
    len = 4;
    cp = b0 & 0x07U;
    min = 0x10000;
  } else {
    throw Error(ErrorKind::input, "canonical JSON: invalid UTF-8 lead byte");
  }
  if (pos + len > s.size()) {
    throw Error(ErrorKind::input, "canonical JSON: truncated UTF-8 sequence");
  }
  for (std::size_t i = 1; i < len; ++i) {
    const unsigned char b = byte(pos + i);
    if ((b & 0xc0U) != 0x80U) {
      throw Error(ErrorKind::input, "canonical JSON: invalid UTF-8 continuation byte");
    }
    cp = (cp << 6U) | (b & 0x3fU);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    throw Error(ErrorKind::input, "canonical JSON: invalid UTF-8 code point");
  }
  pos += len;
  return cp;
}

std::u16string
to_utf16(std::string_view s) {
  std::u16string out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    const char32_t cp = next_code_point(s, pos);
    if (cp >= 0x10000) {
      const char32_t v = cp - 0x10000;
      out.push_back(static_cast<char16_t>(0xd800 + (v >> 10U)));
      out.push_back(static_cast<char16_t>(0xdc00 + (v & 0x3ffU)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
  }
  return out;
}

void
append_string(std::string &out, std::string_view s) {
  static constexpr std::string_view k_hex = "0123456789abcdef";
  out.push_back('"');
  std::size_t pos = 0;
  while (pos < s.size()) {
    const std::size_t start = pos;
    const char32_t cp = next_code_point(s, pos);
    switch (cp) {
    case U'"':
      out += "\\\"";
      break;
    case U'\\':
      out += "\\\\";
      break;
    case U'\b':
      out += "\\b";
      break;
    case U'\f':
      out += "\\f";
      break;
    case U'\n':
      out += "\\n";
      break;
    case U'\r':
      out += "\\r";
      break;
    case U'\t':
      out += "\\t";
      break;
    default:
      if (cp < 0x20) {
        out += "\\u00";
        out.push_back(k_hex[(cp >> 4U) & 0xfU]);
        out.push_back(k_hex[cp & 0xfU]);
      } else {
        out.append(s.substr(start, pos - start));
      }
      break;
    }
  }
  out.push_back('"');
}

void
append_value(std::string &out, const nlohmann::json &value) {
  using Type = nlohmann::json::value_t;
  switch (value.type()) {
  case Type::null:
    out += "null";
    return;
  case Type::boolean:
    out += value.get<bool>() ? "true" : "false";
    return;
  case Type::number_integer:
    out += canonical_number(static_cast<double>(value.get<std::int64_t>()));
    return;
  case Type::number_unsigned:
    out += canonical_number(static_cast<double>(value.get<std::uint64_t>()));
    return;
  case Type::number_float:
    out += canonical_number(value.get<double>());
    return;
  case Type::string:
    append_string(out, value.get_ref<const std::string &>());
    return;
  case Type::array: {
    out.push_back('[');
    bool first = true;
    for (const auto &element : value) {
      if (!first) {
        out.push_back(',');
      }
      first = false;
      append_value(out, element);
    }
    out.push_back(']');
    return;
  }
  case Type::object: {
    std::vector<std::pair<std::u16string, const std::string *>> keys;
    keys.reserve(value.size());
    for (const auto &item : value.items()) {
      keys.emplace_back(to_utf16(item.key()), &item.key());
    }
    std::sort(keys.begin(), keys.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
    out.push_back('{');
    bool first = true;
    for (const auto &[utf16, key] : keys) {
      if (!first) {
        out.push_back(',');
      }
      first = false;
      append_string(out, *key);
      out.push_back(':');
      append_value(out, value.at(*key));
    }
    out.push_back('}');
    return;
  }
  case Type::binary:
  case Type::discarded:
    break;
  }
  throw Error(ErrorKind::input, "canonical JSON: value type has no JSON form");
}

} // namespace

std::string
canonical_number(double number) {
  if (!std::isfinite(number)) {
    throw Error(ErrorKind::input, "canonical JSON: NaN and infinity are not JSON numbers");
  }
  if (number == 0.0) {
    return "0"; // also for -0
  }
  std::string out;
  if (number < 0) {
    out.push_back('-');
    number = -number;
  }
  // Shortest round-trip digits in scientific form: "d[.ddd]e[+-]XX".
  std::array<char, 64> buf{};
  const auto result =
      std::to_chars(buf.data(), buf.data() + buf.size(), number, std::chars_format::scientific);
  if (result.ec != std::errc{}) {
    throw Error(ErrorKind::internal, "canonical JSON: cannot format number");
  }
  const std::string_view sci(buf.data(), static_cast<std::size_t>(result.ptr - buf.data()));
  const std::size_t e_pos = sci.find('e');
  std::string digits;
  for (const char c : sci.substr(0, e_pos)) {
    if (c != '.') {
      digits.push_back(c);
    }
  }
  int exponent = 0;
  const std::string_view exp_text = sci.substr(e_pos + 1);
  const char *exp_begin = exp_text.data() + (exp_text.front() == '+' ? 1 : 0);
  std::from_chars(exp_begin, exp_text.data() + exp_text.size(), exponent);

  // ECMAScript: value = digits * 10^(n - k), k = number of digits.
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, static_cast<std::size_t>(n));
    out.push_back('.');
    out += digits.substr(static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += digits;
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out += digits.substr(1);
    }
    out.push_back('e');
    out.push_back(n - 1 >= 0 ? '+' : '-');
    out += std::to_string(n - 1 >= 0 ? n - 1 : 1 - n);
  }
  return out;
}

std::string
canonical_json(const nlohmann::json &value) {
  std::string out;
  append_value(out, value);
  return out;
}

} // namespace cvm::kbs
