// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/kbs/tee_key.hpp"
#include "lib/util/secret.hpp"

#include <string_view>

// Decryption of the KBS resource response: a flattened JWE JSON serialisation
// (RFC 7516 §7.2.2) with alg ECDH-ES+A256KW (RFC 7518 §4.6, Concat KDF with
// SHA-256, empty PartyUInfo/PartyVInfo), enc A256GCM, and the AAD being the
// ASCII of the received "protected" member, as Trustee's kbs/src/jwe produces.
namespace cvm::kbs {

// The plaintext of `jwe_json`, decrypted with `key`, in locked memory.
// Anything else than alg ECDH-ES+A256KW / enc A256GCM / a P-256 "epk", a
// "zip" or "crit" header, an "aad" member, an encrypted_key that is not 40
// bytes, an iv that is not 12 bytes, a tag that is not 16 bytes, or a failed
// key unwrap / GCM tag check throws cvm::Error(crypto) whose message names
// the reason but never contains key material or plaintext.
SecretBytes decrypt_jwe(std::string_view jwe_json, const TeeKey &key);

} // namespace cvm::kbs
