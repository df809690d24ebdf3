// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/util/secret.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>

// The ephemeral TEE key of one RCAR run: an EC P-256 key pair generated in
// memory; its public half goes into the runtime data (and so into
// REPORTDATA), its private half unwraps the resource JWE and never leaves the
// process. No OpenSSL type appears here.
namespace cvm::kbs {

// The JOSE key-management algorithm the agent announces and accepts.
inline constexpr std::string_view k_tee_key_alg = "ECDH-ES+A256KW";

class TeeKey {
public:
  // A fresh P-256 key pair from OpenSSL's CSPRNG. Throws cvm::Error(crypto).
  static TeeKey generate();

  TeeKey(TeeKey &&) noexcept;
  TeeKey &operator=(TeeKey &&) noexcept;
  TeeKey(const TeeKey &) = delete;
  TeeKey &operator=(const TeeKey &) = delete;
  ~TeeKey();

  // The public key as the KBS expects it, with exactly the members
  // kty, crv, alg, x, y (x/y: base64url of the 32-byte big-endian coordinates).
  [[nodiscard]] nlohmann::json public_jwk() const;

  // ECDH on P-256 with the peer public point (`x`, `y`: 32-byte big-endian
  // coordinates): the 32-byte shared x-coordinate Z. Throws cvm::Error(crypto)
  // if the point is not on the curve.
  [[nodiscard]] SecretBytes agree(std::span<const std::byte> x, std::span<const std::byte> y) const;

private:
  struct Impl;
  explicit TeeKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

} // namespace cvm::kbs
