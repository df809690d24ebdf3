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

namespace cvm::luks {

nlohmann::ordered_json
header_info_to_json(const HeaderInfo &info) {
  nlohmann::ordered_json slots = nlohmann::ordered_json::array();
  for (const auto &k : info.keyslots) {
    nlohmann::ordered_json pb{{"type", std::string(pbkdf_type_name(k.pbkdf.type))}};
    if (k.pbkdf.type == PbkdfType::pbkdf2) {
      pb["hash"] = k.pbkdf.hash;
      pb["iterations"] = k.pbkdf.iterations;
    } else {
      pb["time_cost"] = k.pbkdf.iterations;
      pb["memory_kib"] = k.pbkdf.memory_kib;
      pb["parallel"] = k.pbkdf.parallel;
    }
    slots.push_back({{"slot", k.slot},
                     {"role",
                      k.slot == k_unlock_keyslot     ? "disk key"
                      : k.slot == k_recovery_keyslot ? "recovery passphrase"
                                                     : "other"},
                     {"key_size_bits", k.key_size_bits},
                     {"pbkdf", pb}});
  }
  return {{"uuid", info.uuid},
          {"label", info.label},
          {"subsystem", info.subsystem},
          {"cipher", info.cipher + "-" + info.cipher_mode},
          {"key_size_bits", info.key_size_bits},
          {"sector_size", info.sector_size},
          {"data_offset", info.data_offset},
          {"metadata_size", info.metadata_size},
          {"keyslots_size", info.keyslots_size},
          {"keyslots", slots},
          {"tokens", info.metadata.tokens.size()},
          {"requirement_flags", info.requirement_flags}};
}

} // namespace cvm::luks
