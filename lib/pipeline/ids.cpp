// SPDX-License-Identifier: Apache-2.0
#include "lib/pipeline/ids.hpp"

#include "lib/crypto/crypto.hpp"
#include "lib/util/error.hpp"
#include "lib/util/hex.hpp"

#include <fmt/format.h>

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

std::string
volume_luks_purpose(std::string_view name) {
  return "volume-luks-" + std::string(name);
}

std::string
volume_fs_purpose(std::string_view name) {
  return "volume-fs-" + std::string(name);
}

std::string
gpt_partition_purpose(std::string_view role) {
  return "gpt-partition-" + std::string(role);
}

std::uint32_t
fat_volume_id_from_seed(std::string_view seed) {
  const std::string u = uuid_from_seed(seed, purpose::esp_fs);
  // The first 8 hex digits of the UUID are its first four bytes.
  std::uint32_t id = 0;
  for (int i = 3; i >= 0; --i) {
    const auto byte = std::stoul(u.substr(static_cast<std::size_t>(i) * 2, 2), nullptr, 16);
    id = (id << 8U) | static_cast<std::uint32_t>(byte);
  }
  return id;
}

std::string
format_fat_volume_id(std::uint32_t id) {
  return fmt::format("{:04X}-{:04X}", id >> 16U, id & 0xffffU);
}

namespace {

std::uint16_t
le16(std::span<const std::byte> b, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned>(b[at]) | (static_cast<unsigned>(b[at + 1]) << 8U));
}

// The BPB fields this needs (Microsoft's FAT specification, "BPB"):
// BPB_BytsPerSec at 11, BPB_FATSz16 at 22 (0 on FAT32), and on FAT32
// BPB_BkBootSec at 50; the extended boot signature 0x29 at 38 (FAT12/16) or
// 66 (FAT32) announces BS_VolID at 39 or 67; 0x55 0xAA at 510.
constexpr std::size_t k_sector_min = 512;

} // namespace

std::vector<std::size_t>
set_fat_volume_id(std::span<std::byte> head, std::uint32_t id) {
  if (head.size() < k_sector_min) {
    throw Error(ErrorKind::guest, "FAT boot sector: {} bytes given, need {}", head.size(), k_sector_min);
  }
  if (head[510] != std::byte{0x55} || head[511] != std::byte{0xAA}) {
    throw Error(ErrorKind::guest, "FAT boot sector: no boot signature 55 AA at byte 510");
  }
  const std::size_t sector = le16(head, 11);
  if (sector < 512 || sector > 4096 || (sector & (sector - 1)) != 0) {
    throw Error(ErrorKind::guest, "FAT boot sector: {} bytes per sector is not a FAT sector size", sector);
  }
  const bool fat32 = le16(head, 22) == 0;
  const std::size_t sig_at = fat32 ? 66 : 38;
  if (head[sig_at] != std::byte{0x29}) {
    throw Error(ErrorKind::guest,
                "FAT boot sector: no extended boot signature 0x29 at byte {}, so no volume ID field",
                sig_at);
  }
  std::vector<std::size_t> sectors{0};
  if (fat32) {
    const std::size_t backup = le16(head, 50);
    if (backup != 0 && backup != 0xffff) {
      if ((backup + 1) * sector > head.size()) {
        throw Error(ErrorKind::guest,
                    "FAT32 backup boot sector {} lies beyond the {} bytes given",
                    backup,
                    head.size());
      }
      sectors.push_back(backup * sector);
    }
  }
  std::vector<std::size_t> written;
  for (const std::size_t base : sectors) {
    const std::size_t at = base + sig_at + 1;
    for (std::size_t i = 0; i < 4; ++i) {
      head[at + i] = static_cast<std::byte>((id >> (8U * i)) & 0xffU);
    }
    written.push_back(at);
  }
  return written;
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
