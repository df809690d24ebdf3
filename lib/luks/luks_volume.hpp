// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/luks/header.hpp"
#include "lib/util/secret.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// The LUKS operations the build pipeline needs, behind an interface so stage
// unit tests can use a fake (rule 7), and their parameter types. The real
// implementation is libcryptsetup (make_cryptsetup_volume() in
// lib/luks/cryptsetup.hpp, target cvm_luks); this header and its helpers are
// pure (target cvm_luks_header).
namespace cvm::luks {

inline constexpr std::uint64_t k_mib = std::uint64_t{1} << 20U;
// Size in bytes of the keyslot passphrase the key broker releases.
inline constexpr std::size_t k_unlock_key_size = 64;
// Keyslot numbers cvmforge writes, and "try every keyslot".
inline constexpr int k_unlock_keyslot = 0;
inline constexpr int k_recovery_keyslot = 1;
inline constexpr int k_any_keyslot = -1;

enum class PbkdfType { pbkdf2, argon2i, argon2id };

std::string_view pbkdf_type_name(PbkdfType type) noexcept;

// Key-derivation parameters of one keyslot. Always applied without a
// benchmark (CRYPT_PBKDF_NO_BENCHMARK), so the header does not depend on the
// build host's speed.
struct PbkdfParams {
  PbkdfType type = PbkdfType::pbkdf2;
  std::string hash = "sha256";     // pbkdf2 only
  std::uint32_t iterations = 1000; // pbkdf2: iterations; argon2: time cost
  std::uint32_t memory_kib = 0;    // argon2 only
  std::uint32_t parallel = 0;      // argon2 only
};

// The unlock keyslot's default: the passphrase is 64 random bytes from the key
// broker, not a human secret, so stretching buys nothing and Argon2 memory
// would only burden a small TD (and give a hostile header a DoS lever).
// PBKDF2-SHA256 with libcryptsetup's minimum of 1000 iterations.
PbkdfParams minimal_pbkdf2();

// For a human recovery passphrase.
PbkdfParams argon2id(std::uint32_t time_cost, std::uint32_t memory_kib, std::uint32_t parallel);

// TEST ONLY: the cheapest Argon2id libcryptsetup accepts (time 4, 32 KiB,
// 1 thread). Never use it for a real recovery passphrase.
PbkdfParams insecure_fast_argon2id_for_tests();

struct CipherSpec {
  std::string cipher; // "aes"
  std::string mode;   // "xts-plain64"
};

// Splits a dm-crypt cipher spec at the first '-': "aes-xts-plain64" ->
// {"aes", "xts-plain64"}. Throws cvm::Error(input) without a '-'.
CipherSpec parse_cipher_spec(std::string_view spec);

struct LuksParams {
  std::string cipher = "aes";
  std::string cipher_mode = "xts-plain64";
  // Volume key size. With integrity it includes the integrity key
  // (aes-xts-plain64 + hmac(sha256): 512 + 256).
  std::uint32_t key_size_bits = 512;
  std::uint32_t sector_size = 4096;
  // Where the encrypted data starts, in bytes from the start of the partition
  // that will hold the header; the header region fills everything before it.
  // Must be a multiple of 4096 and of `sector_size`.
  std::uint64_t data_offset = 16 * k_mib;
  // LUKS2 metadata (binary header + JSON area) per copy: 16 KiB ... 4 MiB.
  std::uint64_t metadata_size = std::uint64_t{16} * 1024;
  // Binary keyslots area after the two metadata copies; 0 = all the space up
  // to `data_offset` (libcryptsetup's layout: 16 MiB - 32 KiB). libcryptsetup
  // fills the whole area with random bytes, so a smaller area (e.g. 1 MiB,
  // room for 4 keyslots of 512-bit keys) keeps the rest of the gap before the
  // data zero and sparse. Multiple of 4096.
  std::uint64_t keyslots_size = 0;
  // Size of the encrypted data area in bytes (0 = unknown). The segment is
  // always "dynamic" (it spans the rest of the device); this only sizes the
  // placeholder data device when `data_device` is not given.
  std::uint64_t data_size = 0;
  PbkdfParams unlock_pbkdf = minimal_pbkdf2();
  // Set = a second keyslot (1) for FormatKeys::recovery_passphrase.
  std::optional<PbkdfParams> recovery_pbkdf;
  std::string label;
  std::string subsystem;
  // Required: derived by the caller from the manifest seed so builds repeat.
  std::string uuid;
  // dm-integrity algorithm, e.g. "hmac(sha256)". Formatting integrity needs
  // device-mapper, which an offline build host does not have: with this set,
  // format_detached_header() fails with cvm::Error(crypto) saying so.
  std::optional<std::string> integrity;
  // The data device libcryptsetup is told about; nullopt = a sparse
  // placeholder file in a private temporary directory (header-only format).
  // It is never written to.
  std::optional<std::filesystem::path> data_device;
};

// Key material for format_detached_header(); the caller owns all of it.
struct FormatKeys {
  const SecretBytes &volume_key;                    // key_size_bits / 8 bytes, from the caller's CSPRNG
  const SecretBytes &unlock_key;                    // k_unlock_key_size bytes; keyslot 0 passphrase
  const SecretBytes *recovery_passphrase = nullptr; // keyslot 1; iff recovery_pbkdf
};

// Layout facts of a formatted header file.
struct FormatResult {
  // Bytes in the header file = header region = 2 * metadata_size +
  // keyslots_size; <= data_offset (equal with the default keyslots_size).
  std::uint64_t header_file_size = 0;
  std::uint64_t metadata_size = 0; // hdr_size: binary header + JSON area, per copy
  std::uint64_t keyslots_size = 0; // binary keyslots area
  std::uint64_t data_offset = 0;   // bytes; segment 0 starts here
  std::string uuid;
};

struct KeyslotInfo {
  int slot = 0;
  std::string status; // "active" or "active_last"
  std::uint32_t key_size_bits = 0;
  PbkdfParams pbkdf;
};

// What `cvmforge inspect` and build reports show about a header. No key needed.
struct HeaderInfo {
  std::string cipher;
  std::string cipher_mode;
  std::uint32_t key_size_bits = 0;
  std::uint32_t sector_size = 0;
  std::string uuid;
  std::string label;
  std::string subsystem;
  std::uint64_t data_offset = 0; // bytes
  std::uint64_t metadata_size = 0;
  std::uint64_t keyslots_size = 0;
  std::vector<KeyslotInfo> keyslots;
  // CRYPT_REQUIREMENT_* bits from libcryptsetup (0 = none).
  std::uint32_t requirement_flags = 0;
  // The full JSON metadata as libcryptsetup holds it (segments, tokens,
  // digests, config flags and requirements).
  Metadata metadata;
};

class LuksVolume {
public:
  LuksVolume() = default;
  LuksVolume(const LuksVolume &) = delete;
  LuksVolume &operator=(const LuksVolume &) = delete;
  LuksVolume(LuksVolume &&) = delete;
  LuksVolume &operator=(LuksVolume &&) = delete;
  virtual ~LuksVolume() = default;

  // See cvm::luks::format_detached_header().
  virtual FormatResult format_detached_header(const std::filesystem::path &header_file,
                                              const LuksParams &params,
                                              const FormatKeys &keys) = 0;

  // See cvm::luks::read_header_info().
  virtual HeaderInfo read_header_info(const std::filesystem::path &header_file) = 0;

  // See cvm::luks::unlock_keyslot().
  virtual int
  unlock_keyslot(const std::filesystem::path &header_file, const SecretBytes &passphrase, int keyslot) = 0;
};

} // namespace cvm::luks

#include <nlohmann/json.hpp>

namespace cvm::luks {

// `info` for reports and `cvmforge inspect --json`: UUID, label, cipher, key
// and sector size, layout, each keyslot's role and KDF, token count and
// requirement flags. Never key material (a header holds none in the clear).
nlohmann::ordered_json header_info_to_json(const HeaderInfo &info);

} // namespace cvm::luks
