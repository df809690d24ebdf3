// SPDX-License-Identifier: Apache-2.0
#include "lib/util/text.hpp"

namespace cvm::text {

std::size_t
columns(std::string_view text) {
  std::size_t n = 0;
  for (const char c : text) {
    // Count every byte that is not a UTF-8 continuation byte.
    if ((static_cast<unsigned char>(c) & 0xC0U) != 0x80U) {
      ++n;
    }
  }
  return n;
}

std::string
wrap(std::string_view text, std::string_view first_prefix, std::string_view rest_prefix, std::size_t width) {
  std::string out(first_prefix);
  std::size_t used = columns(first_prefix);
  bool line_empty = true;
  std::size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && text[pos] == ' ') {
      ++pos;
    }
    if (pos >= text.size()) {
      break;
    }
    std::size_t end = text.find(' ', pos);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    const std::string_view word = text.substr(pos, end - pos);
    const std::size_t w = columns(word);
    if (!line_empty && used + 1 + w > width) {
      out += '\n';
      out += rest_prefix;
      used = columns(rest_prefix);
      line_empty = true;
    }
    if (!line_empty) {
      out += ' ';
      ++used;
    }
    out += word;
    used += w;
    line_empty = false;
    pos = end;
  }
  out += '\n';
  return out;
}

} // namespace cvm::text
