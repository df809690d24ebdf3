// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/util/secret.hpp"

#include <cstdint>
#include <string>
#include <string_view>

// Identifiers and generated secrets of a build.
namespace cvm::pipeline {

// A UUID derived from `seed` for `purpose` ("luks", "esp-partuuid", ...):
// the first 16 bytes of SHA-256("cvmforge-uuid\0" purpose "\0" seed), stamped
// as an RFC 9562 version-8 (vendor-specific) UUID. Same seed, same UUID.
std::string uuid_from_seed(std::string_view seed, std::string_view purpose);

// A random RFC 9562 version-4 UUID from OpenSSL's CSPRNG.
std::string random_uuid();

// `seed`-derived UUID when `seed` is non-empty, else random.
std::string make_uuid(std::string_view seed, std::string_view purpose);

// A human-typable recovery passphrase: 8 groups of 5 characters from a
// 32-symbol alphabet without look-alikes (200 bits), e.g. "k7m2p-...".
SecretBytes generate_recovery_passphrase();

// A printable one-time passphrase (64 characters, base64url of 48 random
// bytes) for the build-only keyslot that opens the volume inside the
// libguestfs appliance, whose API takes keys as C strings.
SecretBytes generate_build_passphrase();

// Is `uuid` of the canonical 8-4-4-4-12 lower-case hex form?
bool is_canonical_uuid(std::string_view uuid);

} // namespace cvm::pipeline
