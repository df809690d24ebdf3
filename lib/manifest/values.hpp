// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// Value grammars of the manifest, as pure functions (unit-tested directly).
namespace cvm::manifest::values {

// "4096", "512K", "256M", "2G", "1T", also "256MiB"/"2GiB" (all binary units).
std::optional<std::uint64_t> parse_size(std::string_view text);

// A size as the manifest reader writes it back: "256M", "2G", or bytes.
std::string format_size(std::uint64_t bytes);

// For messages: "418.2 MiB", "1.5 GiB", "512 B".
std::string human_size(std::uint64_t bytes);

// "20%" -> 20.
std::optional<std::uint32_t> parse_percent(std::string_view text);

// Decimal integer without sign or leading '+', within uint64.
std::optional<std::uint64_t> parse_uint(std::string_view text);

// Signed decimal integer.
std::optional<std::int64_t> parse_int(std::string_view text);

// "0644" / "644" / "0o644" octal file mode up to 07777.
std::optional<std::uint32_t> parse_mode(std::string_view text);

// Expand ${NAME} and ${NAME:-default} using `lookup`; "$$" is a literal '$'.
// On failure returns nullopt and sets `error` (e.g. "environment variable
// IMAGES is not set").
std::optional<std::string>
expand_env(std::string_view text,
           const std::function<std::optional<std::string>(const std::string &)> &lookup,
           std::string &error);

// Levenshtein distance, for "did you mean" hints.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a likely typo.
std::optional<std::string> closest(std::string_view word, const std::vector<std::string> &candidates);

} // namespace cvm::manifest::values
