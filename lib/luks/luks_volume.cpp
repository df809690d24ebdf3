// SPDX-License-Identifier: Apache-2.0
#include "lib/luks/luks_volume.hpp"

#include "lib/util/error.hpp"

// The pure parts of luks_volume.hpp (no libcryptsetup), so that fakes and the
// agent can use the parameter types without linking libcryptsetup.
namespace cvm::luks {

std::string_view
pbkdf_type_name(PbkdfType type) noexcept {
  switch (type) {
  case PbkdfType::pbkdf2:
    return "pbkdf2";
  case PbkdfType::argon2i:
    return "argon2i";
  case PbkdfType::argon2id:
    return "argon2id";
  }
  return "?";
}

PbkdfParams
minimal_pbkdf2() {
  return PbkdfParams{PbkdfType::pbkdf2, "sha256", 1000, 0, 0};
}

PbkdfParams
argon2id(std::uint32_t time_cost, std::uint32_t memory_kib, std::uint32_t parallel) {
  return PbkdfParams{PbkdfType::argon2id, "sha256", time_cost, memory_kib, parallel};
}

PbkdfParams
insecure_fast_argon2id_for_tests() {
  return argon2id(4, 32, 1);
}

CipherSpec
parse_cipher_spec(std::string_view spec) {
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == spec.size()) {
    throw Error(
        ErrorKind::input, "cipher \"{}\" is not of the form <cipher>-<mode> (e.g. aes-xts-plain64)", spec);
  }
  return CipherSpec{std::string(spec.substr(0, dash)), std::string(spec.substr(dash + 1))};
}

} // namespace cvm::luks
