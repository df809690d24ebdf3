// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/util/secret.hpp"

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// Base64 (RFC 4648 §4, padded) and base64url (§5, unpadded, as JOSE uses it).
namespace cvm {

// Standard alphabet with '=' padding (KBS nonces, quotes, sample report data).
std::string base64_encode(std::span<const std::byte> bytes);

// URL-safe alphabet without padding (JWK coordinates, JWE members).
std::string base64url_encode(std::span<const std::byte> bytes);

// Strict decoders: nullopt on a character outside the alphabet, on wrong
// padding, or on non-zero trailing bits. base64url_decode rejects padding.
std::optional<std::vector<std::byte>> base64_decode(std::string_view text);

std::optional<std::vector<std::byte>> base64url_decode(std::string_view text);

// As base64url_decode, but into locked memory (for key material such as a
// JWK "d" member); throws nothing, nullopt on malformed input.
std::optional<SecretBytes> base64url_decode_secret(std::string_view text);

} // namespace cvm
