// SPDX-License-Identifier: Apache-2.0
#include "lib/pipeline/ids.hpp"

#include "lib/crypto/crypto.hpp"
#include "lib/util/hex.hpp"

#include <array>
#include <cstring>

namespace cvm::pipeline {

namespace {

std::string
format_uuid(std::array<std::byte, 16> b, unsigned version) {
  b[6] = static_cast<std::byte>((static_cast<unsigned>(b[6]) & 0x0fU) | (version << 4U));
  b[8] = static_cast<std::byte>((static_cast<unsigned>(b[8]) & 0x3fU) | 0x80U);
  const std::string h = to_hex(b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" +
         h.substr(20, 12);
}

} // namespace

std::string
uuid_from_seed(std::string_view seed, std::string_view purpose) {
  crypto::Hasher h(crypto::HashAlgorithm::sha256);
  const std::string prefix("cvmforge-uuid\0", 14);
  h.update(as_bytes(prefix));
  h.update(as_bytes(purpose));
  h.update(as_bytes(std::string_view("\0", 1)));
  h.update(as_bytes(seed));
  const auto digest = h.final();
  std::array<std::byte, 16> b{};
  std::memcpy(b.data(), digest.data(), b.size());
  return format_uuid(b, 8);
}

std::string
random_uuid() {
  const auto r = crypto::random_bytes(16);
  std::array<std::byte, 16> b{};
  std::memcpy(b.data(), r.data(), b.size());
  return format_uuid(b, 4);
}

std::string
make_uuid(std::string_view seed, std::string_view purpose) {
  return seed.empty() ? random_uuid() : uuid_from_seed(seed, purpose);
}

SecretBytes
generate_recovery_passphrase() {
  // Crockford-like alphabet: no 0/o, 1/l/i, u.
  static constexpr std::string_view k_alphabet = "abcdefghjkmnpqrstvwxyz23456789AB";
  static_assert(k_alphabet.size() == 32);
  constexpr std::size_t k_groups = 8;
  constexpr std::size_t k_group_len = 5;
  const SecretBytes random = crypto::random_secret(k_groups * k_group_len);
  SecretBytes out(k_groups * k_group_len + (k_groups - 1));
  std::size_t o = 0;
  for (std::size_t i = 0; i < k_groups * k_group_len; ++i) {
    if (i > 0 && i % k_group_len == 0) {
      out.data()[o++] = std::byte{'-'};
    }
    out.data()[o++] = static_cast<std::byte>(k_alphabet[static_cast<unsigned>(random.data()[i]) & 31U]);
  }
  return out;
}

SecretBytes
generate_build_passphrase() {
  static constexpr std::string_view k_b64url =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const SecretBytes random = crypto::random_secret(48);
  SecretBytes out(64);
  for (std::size_t i = 0, o = 0; i < 48; i += 3) {
    const unsigned v = (static_cast<unsigned>(random.data()[i]) << 16U) |
                       (static_cast<unsigned>(random.data()[i + 1]) << 8U) |
                       static_cast<unsigned>(random.data()[i + 2]);
    out.data()[o++] = static_cast<std::byte>(k_b64url[(v >> 18U) & 63U]);
    out.data()[o++] = static_cast<std::byte>(k_b64url[(v >> 12U) & 63U]);
    out.data()[o++] = static_cast<std::byte>(k_b64url[(v >> 6U) & 63U]);
    out.data()[o++] = static_cast<std::byte>(k_b64url[v & 63U]);
  }
  return out;
}

bool
is_canonical_uuid(std::string_view uuid) {
  if (uuid.size() != 36) {
    return false;
  }
  for (std::size_t i = 0; i < uuid.size(); ++i) {
    const char c = uuid[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') {
        return false;
      }
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

} // namespace cvm::pipeline
