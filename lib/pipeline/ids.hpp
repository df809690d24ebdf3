// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/util/secret.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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

// The seed-derived identifiers of one build, one purpose string each (the
// purposes are part of the image format: changing one changes every
// reproducible image's reference values).
namespace purpose {
inline constexpr std::string_view luks = "luks";
inline constexpr std::string_view root_fs = "root-fs";
inline constexpr std::string_view boot_fs = "boot-fs";
inline constexpr std::string_view esp_fs = "esp-fs";
inline constexpr std::string_view gpt_disk = "gpt-disk";
} // namespace purpose

// The purposes of a data volume's identifiers: "volume-luks-<name>" and
// "volume-fs-<name>" (the manifest's volume name, unique per manifest).
std::string volume_luks_purpose(std::string_view name);
std::string volume_fs_purpose(std::string_view name);

// The purpose of a partition's unique GUID: "gpt-partition-" + its role
// ("esp", "boot", "root"; the role, not the manifest's label, so two labels
// can never share a GUID).
std::string gpt_partition_purpose(std::string_view role);

// The FAT volume serial number ("volume ID", shown as XXXX-XXXX) derived from
// `seed`: the first four bytes of uuid_from_seed(seed, purpose::esp_fs), read
// little-endian as FAT stores it.
std::uint32_t fat_volume_id_from_seed(std::string_view seed);

// "XXXX-XXXX" (upper-case hex, high half first), as blkid shows a FAT
// volume ID.
std::string format_fat_volume_id(std::uint32_t id);

// Writes `id` into the FAT boot sector(s) at the start of `head` (the first
// bytes of a FAT12/16/32 filesystem: at least one sector, and for FAT32 up to
// and including its backup boot sector). Checks the boot signature and the
// extended boot signature (0x29) that say a volume ID field is there; throws
// Error(guest) otherwise. Returns the byte offsets written (4 bytes each).
std::vector<std::size_t> set_fat_volume_id(std::span<std::byte> head, std::uint32_t id);

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
