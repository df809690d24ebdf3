// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test helpers for LUKS2 headers: build a header region from JSON, and edit
// the JSON of a real or synthetic header with valid checksums, so that only
// the policy (not the checksum) can catch the edit. Shared by the unit and
// integration tests.

#include "lib/crypto/crypto.hpp"
#include "lib/luks/header.hpp"
#include "lib/util/base64.hpp"
#include "lib/util/secret.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace cvm::luks::test {

using Json = nlohmann::json;

inline constexpr std::size_t k_csum_offset = 448;

enum class Copies { both, primary_only, secondary_only };
enum class Recovery { no, yes };

inline std::uint64_t
read_be64(const std::vector<std::byte> &bytes, std::size_t offset) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    v = (v << 8U) | std::to_integer<std::uint64_t>(bytes.at(offset + i));
  }
  return v;
}

inline void
write_be(std::vector<std::byte> &bytes, std::size_t offset, std::uint64_t value, std::size_t width) {
  for (std::size_t i = 0; i < width; ++i) {
    bytes.at(offset + width - 1 - i) = static_cast<std::byte>(value & 0xffU);
    value >>= 8U;
  }
}

inline void
write_str(std::vector<std::byte> &bytes, std::size_t offset, const std::string &s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    bytes.at(offset + i) = static_cast<std::byte>(s[i]);
  }
}

inline std::uint64_t
hdr_size_of(const std::vector<std::byte> &bytes) {
  return read_be64(bytes, 8);
}

// Recomputes the SHA-256 checksum of the copy at `offset`.
inline void
recompute_checksum(std::vector<std::byte> &bytes, std::size_t offset) {
  const auto size = static_cast<std::size_t>(hdr_size_of(bytes));
  for (std::size_t i = 0; i < 64; ++i) {
    bytes.at(offset + k_csum_offset + i) = std::byte{0};
  }
  const auto sum = crypto::sha256(std::span<const std::byte>(bytes).subspan(offset, size));
  std::copy(sum.begin(), sum.end(), bytes.begin() + static_cast<std::ptrdiff_t>(offset + k_csum_offset));
}

// The JSON of the primary (or secondary) copy.
inline Json
get_json(const std::vector<std::byte> &bytes, Copies which = Copies::primary_only) {
  const auto size = static_cast<std::size_t>(hdr_size_of(bytes));
  const std::size_t base = (which == Copies::secondary_only ? size : 0) + k_binary_header_size;
  std::string text;
  for (std::size_t i = base; i < base + size - k_binary_header_size && bytes.at(i) != std::byte{0}; ++i) {
    text.push_back(static_cast<char>(bytes[i]));
  }
  return Json::parse(text);
}

// Replaces the JSON text of the chosen copies and recomputes their checksums.
inline void
set_json_text(std::vector<std::byte> &bytes, const std::string &text, Copies which = Copies::both) {
  const auto size = static_cast<std::size_t>(hdr_size_of(bytes));
  if (text.size() + 1 > size - k_binary_header_size) {
    throw std::runtime_error("JSON too large for the area");
  }
  for (const std::size_t offset : {std::size_t{0}, size}) {
    if ((offset == 0 && which == Copies::secondary_only) || (offset != 0 && which == Copies::primary_only)) {
      continue;
    }
    for (std::size_t i = k_binary_header_size; i < size; ++i) {
      bytes.at(offset + i) = std::byte{0};
    }
    write_str(bytes, offset + k_binary_header_size, text);
    recompute_checksum(bytes, offset);
  }
}

inline void
set_json(std::vector<std::byte> &bytes, const Json &json, Copies which = Copies::both) {
  set_json_text(bytes, json.dump(), which);
}

struct SyntheticFields {
  std::uint64_t hdr_size = 16384;
  std::uint64_t keyslots_size = (1U << 20U) - 2 * 16384;
  std::uint64_t data_offset = 0; // 0 = right after the keyslots area (1 MiB)
  std::uint64_t seqid = 3;
  std::string uuid = "6b1c2d3e-4f50-4a61-8b72-9c8d7e6f5a4b";
  std::string label = "cvmroot";
  std::string subsystem = "cvmforge";
  std::string encryption = "aes-xts-plain64";
  std::uint32_t key_bytes = 64;
  std::uint32_t sector_size = 4096;
  std::uint32_t unlock_iterations = 1000;
  std::uint32_t recovery_time = 4;
  std::uint32_t recovery_memory_kib = 65536;
  std::uint32_t recovery_cpus = 2;
};

// A complete header region for `metadata` with valid checksums.
inline std::vector<std::byte>
build_header(const Json &metadata, const SyntheticFields &f = {}) {
  std::vector<std::byte> bytes(static_cast<std::size_t>(2 * f.hdr_size + f.keyslots_size));
  for (const std::size_t offset : {std::size_t{0}, static_cast<std::size_t>(f.hdr_size)}) {
    write_str(bytes, offset, offset == 0 ? std::string("LUKS\xba\xbe") : std::string("SKUL\xba\xbe"));
    write_be(bytes, offset + 6, 2, 2);
    write_be(bytes, offset + 8, f.hdr_size, 8);
    write_be(bytes, offset + 16, f.seqid, 8);
    write_str(bytes, offset + 24, f.label);
    write_str(bytes, offset + 72, "sha256");
    bytes.at(offset + 104) = static_cast<std::byte>(offset == 0 ? 0x11 : 0x22); // per-copy salt
    write_str(bytes, offset + 168, f.uuid);
    write_str(bytes, offset + 208, f.subsystem);
    write_be(bytes, offset + 256, offset, 8);
  }
  set_json(bytes, metadata);
  return bytes;
}

inline std::vector<std::byte>
fixed_bytes(std::size_t size, unsigned char value) {
  return std::vector<std::byte>(size, static_cast<std::byte>(value));
}

inline SecretBytes
fixed_secret(std::size_t size, unsigned char value) {
  return SecretBytes::copy_of(fixed_bytes(size, value));
}

// LUKS2 metadata shaped like libcryptsetup 2.6 writes it for cvmforge: one
// pbkdf2 unlock keyslot (+ an argon2id recovery keyslot), one dynamic crypt
// segment at 1 MiB, and a pbkdf2 digest that matches `volume_key`.
inline Json
make_metadata(const SecretBytes &volume_key, Recovery recovery, const SyntheticFields &f = {}) {
  const auto salt = fixed_bytes(32, 0x5a);
  const auto digest = crypto::pbkdf2_hmac(crypto::HashAlgorithm::sha256, volume_key.span(), salt, 1000, 32);
  const std::uint64_t area0 = 2 * f.hdr_size;
  // Anti-forensic split material (key size x 4000 stripes), in 4 KiB units.
  const std::uint64_t area_size = (std::uint64_t{f.key_bytes} * 4000 + 4095) / 4096 * 4096;
  auto keyslot = [&f, area_size](std::uint64_t offset, Json kdf) {
    return Json{{"type", "luks2"},
                {"key_size", f.key_bytes},
                {"af", {{"type", "luks1"}, {"stripes", 4000}, {"hash", "sha256"}}},
                {"area",
                 {{"type", "raw"},
                  {"offset", std::to_string(offset)},
                  {"size", std::to_string(area_size)},
                  {"encryption", f.encryption},
                  {"key_size", f.key_bytes}}},
                {"kdf", std::move(kdf)}};
  };
  Json keyslots = {{"0",
                    keyslot(area0,
                            {{"type", "pbkdf2"},
                             {"hash", "sha256"},
                             {"iterations", f.unlock_iterations},
                             {"salt", base64_encode(fixed_bytes(32, 0x01))}})}};
  Json digest_keyslots = Json::array({"0"});
  if (recovery == Recovery::yes) {
    keyslots["1"] = keyslot(area0 + area_size,
                            {{"type", "argon2id"},
                             {"time", f.recovery_time},
                             {"memory", f.recovery_memory_kib},
                             {"cpus", f.recovery_cpus},
                             {"salt", base64_encode(fixed_bytes(32, 0x02))}});
    digest_keyslots.push_back("1");
  }
  return Json{
      {"keyslots", keyslots},
      {"tokens", Json::object()},
      {"segments",
       {{"0",
         {{"type", "crypt"},
          {"offset", std::to_string(f.data_offset != 0 ? f.data_offset : 2 * f.hdr_size + f.keyslots_size)},
          {"size", "dynamic"},
          {"iv_tweak", "0"},
          {"encryption", f.encryption},
          {"sector_size", f.sector_size}}}}},
      {"digests",
       {{"0",
         {{"type", "pbkdf2"},
          {"keyslots", digest_keyslots},
          {"segments", Json::array({"0"})},
          {"hash", "sha256"},
          {"iterations", 1000},
          {"salt", base64_encode(salt)},
          {"digest", base64_encode(digest)}}}}},
      {"config",
       {{"json_size", std::to_string(f.hdr_size - k_binary_header_size)},
        {"keyslots_size", std::to_string(f.keyslots_size)}}},
  };
}

// True if some violation's `where` starts with `prefix`.
template<typename Violations>
bool
has_violation(const Violations &violations, const std::string &prefix) {
  for (const auto &v : violations) {
    if (v.where.rfind(prefix, 0) == 0) {
      return true;
    }
  }
  return false;
}

} // namespace cvm::luks::test
