// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cvm {

// Lower-case hex of `bytes`.
std::string to_hex(std::span<const std::byte> bytes);

// Bytes of `hex` (upper or lower case, even length); nullopt if it is not hex.
std::optional<std::vector<std::byte>> from_hex(std::string_view hex);

// View of a string's characters as bytes.
std::span<const std::byte> as_bytes(std::string_view s) noexcept;

} // namespace cvm
