// SPDX-License-Identifier: Apache-2.0
#include "lib/manifest/values.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <limits>

namespace cvm::manifest::values {

namespace {

// The number `text` spells in full in base 10, if it fits in T.
template<typename T>
std::optional<T>
parse_whole(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  T v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return v;
}

} // namespace

std::optional<std::uint64_t>
parse_uint(std::string_view text) {
  if (text.empty() || std::isdigit(static_cast<unsigned char>(text.front())) == 0) {
    return std::nullopt;
  }
  return parse_whole<std::uint64_t>(text);
}

std::optional<std::int64_t>
parse_int(std::string_view text) {
  return parse_whole<std::int64_t>(text);
}

std::optional<std::uint64_t>
parse_size(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])) != 0) {
    ++digits;
  }
  if (digits == 0) {
    return std::nullopt;
  }
  const auto number = parse_uint(text.substr(0, digits));
  if (!number) {
    return std::nullopt;
  }
  std::string unit(text.substr(digits));
  if (unit.size() == 3 && (unit[1] == 'i' || unit[1] == 'I') && (unit[2] == 'B' || unit[2] == 'b')) {
    unit.resize(1); // "MiB" -> "M"
  }
  unsigned shift = 0;
  if (unit.empty()) {
    shift = 0;
  } else if (unit.size() == 1) {
    switch (std::toupper(static_cast<unsigned char>(unit[0]))) {
    case 'K':
      shift = 10;
      break;
    case 'M':
      shift = 20;
      break;
    case 'G':
      shift = 30;
      break;
    case 'T':
      shift = 40;
      break;
    default:
      return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  if (*number > (std::numeric_limits<std::uint64_t>::max() >> shift)) {
    return std::nullopt;
  }
  return *number << shift;
}

std::string
format_size(std::uint64_t bytes) {
  static constexpr std::array<std::pair<unsigned, char>, 4> k_units{
      {{40, 'T'}, {30, 'G'}, {20, 'M'}, {10, 'K'}}};
  for (const auto &[shift, suffix] : k_units) {
    const std::uint64_t unit = std::uint64_t{1} << shift;
    if (bytes != 0 && bytes % unit == 0) {
      return std::to_string(bytes / unit) + suffix;
    }
  }
  return std::to_string(bytes);
}

std::string
human_size(std::uint64_t bytes) {
  static constexpr std::array<const char *, 5> k_units{"B", "KiB", "MiB", "GiB", "TiB"};
  auto v = static_cast<double>(bytes);
  std::size_t u = 0;
  while (v >= 1024.0 && u + 1 < k_units.size()) {
    v /= 1024.0;
    ++u;
  }
  if (u == 0) {
    return std::to_string(bytes) + " B";
  }
  std::array<char, 32> buf{};
  (void)std::snprintf(buf.data(), buf.size(), "%.1f %s", v, k_units[u]);
  return buf.data();
}

std::optional<std::uint32_t>
parse_percent(std::string_view text) {
  if (text.size() < 2 || text.back() != '%') {
    return std::nullopt;
  }
  const auto v = parse_uint(text.substr(0, text.size() - 1));
  if (!v || *v > std::numeric_limits<std::uint32_t>::max()) {
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(*v);
}

std::optional<std::uint32_t>
parse_mode(std::string_view text) {
  if (text.starts_with("0o")) {
    text.remove_prefix(2);
  }
  if (text.empty() || text.size() > 5) {
    return std::nullopt;
  }
  std::uint32_t v = 0;
  for (const char c : text) {
    if (c < '0' || c > '7') {
      return std::nullopt;
    }
    v = v * 8 + static_cast<std::uint32_t>(c - '0');
  }
  if (v > 07777) {
    return std::nullopt;
  }
  return v;
}

std::optional<std::string>
expand_env(std::string_view text,
           const std::function<std::optional<std::string>(const std::string &)> &lookup,
           std::string &error) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    if (i + 1 >= text.size() || text[i + 1] != '{') {
      error = "a '$' must start ${NAME} or ${NAME:-default}; write '$$' for a literal '$'";
      return std::nullopt;
    }
    const auto close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      error = "unterminated ${...}";
      return std::nullopt;
    }
    const std::string_view inner = text.substr(i + 2, close - i - 2);
    const auto sep = inner.find(":-");
    const std::string name(inner.substr(0, sep));
    const bool valid_name = !name.empty() && std::isdigit(static_cast<unsigned char>(name[0])) == 0 &&
                            std::all_of(name.begin(), name.end(), [](char c) {
                              return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
                            });
    if (!valid_name) {
      error = "'" + std::string(inner) + "' is not a valid environment variable reference";
      return std::nullopt;
    }
    const auto value = lookup(name);
    if (value && !value->empty()) {
      out += *value;
    } else if (sep != std::string_view::npos) {
      out += inner.substr(sep + 2);
    } else {
      error = "environment variable " + name + " is not set";
      return std::nullopt;
    }
    i = close;
  }
  return out;
}

std::size_t
edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1);
  std::vector<std::size_t> cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    prev[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::optional<std::string>
closest(std::string_view word, const std::vector<std::string> &candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (const auto &c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  // A typo: about a third of the word (1 to 3 edits), never the whole word.
  const std::size_t limit = std::clamp<std::size_t>((word.size() + 2) / 3, 1, 3);
  if (best && best_distance <= limit && best_distance < word.size()) {
    return best;
  }
  return std::nullopt;
}

} // namespace cvm::manifest::values
