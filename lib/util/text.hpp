// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cvm::text {

// Terminal reports stay within this many columns.
inline constexpr std::size_t k_report_width = 100;

// `text` as lines of at most `width` columns (a word longer than a line gets
// a line of its own), the first starting with `first_prefix`, the others with
// `rest_prefix`; each line ends in '\n'. Columns are counted in UTF-8 code
// points.
std::string wrap(std::string_view text,
                 std::string_view first_prefix,
                 std::string_view rest_prefix,
                 std::size_t width = k_report_width);

// Columns of `text` in UTF-8 code points.
std::size_t columns(std::string_view text);

} // namespace cvm::text
