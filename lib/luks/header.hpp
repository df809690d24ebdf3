// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/util/secret.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// A pure LUKS2 on-disk header model: both binary headers, both JSON areas and
// the keyslots area, parsed from one in-memory copy. No libcryptsetup, so the
// boot-time agent can link it. A header on a host-controlled disk is attacker
// input: everything here is bounds-checked, and structural failures throw
// cvm::Error(ErrorKind::input). Whether a header is *acceptable* is decided by
// lib/luks/policy.hpp, not here: parsing tolerates a bad checksum, differing
// copies, unknown JSON fields etc. and records them so check() can report them.
namespace cvm::luks {

// Size of one binary header (struct luks2_hdr_disk plus padding).
inline constexpr std::size_t k_binary_header_size = 4096;
// hdr_size (binary header + JSON area) may be 16 KiB ... 4 MiB, a power of two.
inline constexpr std::uint64_t k_min_metadata_size = std::uint64_t{16} << 10U;
inline constexpr std::uint64_t k_max_metadata_size = std::uint64_t{4} << 20U;
// The LUKS2 specification caps the binary keyslots area at 128 MiB.
inline constexpr std::uint64_t k_max_keyslots_size = std::uint64_t{128} << 20U;
// Largest header region read_header() accepts by default.
inline constexpr std::uint64_t k_max_header_region = 2 * k_max_metadata_size + k_max_keyslots_size;

enum class HeaderCopy { primary, secondary };

// One binary header, decoded. Strings are cut at the first NUL of their field.
struct BinaryHeader {
  HeaderCopy copy = HeaderCopy::primary;
  std::uint16_t version = 0;
  std::uint64_t hdr_size = 0;
  std::uint64_t seqid = 0;
  std::string label;
  std::string checksum_algorithm;
  std::string uuid;
  std::string subsystem;
  std::uint64_t hdr_offset = 0;
  // The checksum stored in the header (digest-size prefix of the 64-byte
  // field) and the one recomputed over hdr_size bytes with the field zeroed;
  // `computed_checksum` is empty if `checksum_algorithm` is not "sha256".
  std::vector<std::byte> stored_checksum;
  std::vector<std::byte> computed_checksum;
  // JSON text of this copy's area, up to (not including) the first NUL.
  std::string json;
  // False if any byte after the JSON text's NUL terminator is non-zero.
  bool json_padding_zero = true;
  // False if the binary header's reserved padding is not all zero.
  bool padding_zero = true;

  [[nodiscard]] bool
  checksum_matches() const noexcept {
    return !computed_checksum.empty() && computed_checksum == stored_checksum;
  }
};

struct Kdf {
  std::string type;             // "pbkdf2", "argon2i", "argon2id"
  std::string hash;             // pbkdf2 only
  std::uint32_t iterations = 0; // pbkdf2 only
  std::uint32_t time = 0;       // argon2 only (time cost)
  std::uint32_t memory_kib = 0; // argon2 only
  std::uint32_t cpus = 0;       // argon2 only
  std::string salt;             // base64, as stored
};

struct AntiForensic {
  std::string type; // "luks1"
  std::uint32_t stripes = 0;
  std::string hash;
};

struct KeyslotArea {
  std::string type;         // "raw" (reencrypt keyslots use others)
  std::uint64_t offset = 0; // bytes from the start of the device
  std::uint64_t size = 0;
  std::string encryption;
  std::uint32_t key_size = 0; // bytes
};

struct Keyslot {
  std::string id;             // JSON object key, "0" ... "31"
  std::string type;           // "luks2" or "reencrypt"
  std::uint32_t key_size = 0; // bytes
  std::optional<std::int64_t> priority;
  std::optional<AntiForensic> af;
  KeyslotArea area;
  std::optional<Kdf> kdf;
};

struct SegmentIntegrity {
  std::string type;
  std::string journal_encryption;
  std::string journal_integrity;
};

struct Segment {
  std::string id;
  std::string type; // "crypt" or "linear"
  std::uint64_t offset = 0;
  std::optional<std::uint64_t> size; // nullopt = "dynamic"
  std::uint64_t iv_tweak = 0;
  std::string encryption;
  std::uint32_t sector_size = 0;
  std::optional<SegmentIntegrity> integrity;
  std::vector<std::string> flags;
};

struct Digest {
  std::string id;
  std::string type; // "pbkdf2"
  std::vector<std::string> keyslots;
  std::vector<std::string> segments;
  std::string hash;
  std::uint32_t iterations = 0;
  std::string salt;   // base64, as stored
  std::string digest; // base64, as stored
};

struct Token {
  std::string id;
  std::string type;
  std::string json; // the whole token object, re-serialised
};

struct Config {
  std::uint64_t json_size = 0;
  std::uint64_t keyslots_size = 0;
  std::vector<std::string> flags;
  // The "requirements" object re-serialised, if present at all.
  std::optional<std::string> requirements;
};

// The LUKS2 JSON metadata. Object members keep JSON key order sorted by id.
struct Metadata {
  std::vector<Keyslot> keyslots;
  std::vector<Token> tokens;
  std::vector<Segment> segments;
  std::vector<Digest> digests;
  Config config;
  // Dotted paths of members this parser does not know ("segments.0.foo").
  std::vector<std::string> unknown_fields;
};

// Parses LUKS2 JSON metadata text. Throws cvm::Error(input) naming the field if
// it is not JSON, nests deeper than the format needs, repeats an object key
// (json-c and nlohmann would disagree on which one wins), or a known field has
// the wrong type or an out-of-range value.
Metadata parse_metadata_json(std::string_view text);

// A parsed header region: [0, 2 * hdr_size + keyslots_size) of the device.
class Header {
public:
  // Parses `bytes`, which start at offset 0 of the LUKS2 device or header file
  // and hold at least the whole header region (extra bytes are dropped).
  // Throws cvm::Error(input) on a bad magic, unsupported version, invalid or
  // differing hdr_size, unparsable primary JSON, or truncation.
  static Header parse(std::vector<std::byte> bytes);

  [[nodiscard]] const BinaryHeader &
  primary() const noexcept {
    return m_primary;
  }
  [[nodiscard]] const BinaryHeader &
  secondary() const noexcept {
    return m_secondary;
  }
  // Metadata parsed from the primary JSON area. check() requires the
  // secondary JSON area to be byte-identical.
  [[nodiscard]] const Metadata &
  metadata() const noexcept {
    return m_metadata;
  }
  // True if both JSON areas (all hdr_size - 4096 bytes) are byte-identical.
  [[nodiscard]] bool
  json_areas_identical() const noexcept {
    return m_json_areas_identical;
  }
  [[nodiscard]] std::uint64_t
  metadata_size() const noexcept {
    return m_primary.hdr_size;
  }
  // The exact bytes parsed: both binary headers, both JSON areas, keyslots area.
  [[nodiscard]] std::span<const std::byte>
  bytes() const noexcept {
    return m_bytes;
  }

private:
  Header() = default;

  BinaryHeader m_primary;
  BinaryHeader m_secondary;
  Metadata m_metadata;
  bool m_json_areas_identical = false;
  std::vector<std::byte> m_bytes;
};

// Reads the header region from `fd` (offset 0, pread; the file offset is not
// used) or from `path`, reading each byte once, and parses it. Refuses regions
// larger than `max_region` bytes. Throws cvm::Error(io) on read errors and
// cvm::Error(input) as Header::parse.
Header read_header(int fd, std::uint64_t max_region = k_max_header_region);
Header read_header(const std::filesystem::path &path, std::uint64_t max_region = k_max_header_region);

// Writes `header.bytes()` -- exactly the bytes that were parsed and checked --
// to `fd` at offset 0 and fsyncs, so activation uses the validated copy and
// not a second read of the disk (the host could swap the header in between).
// Throws cvm::Error(io).
void write_header_copy(const Header &header, int fd);
// Same, into a new file `path` (mode 0600; fails if `path` exists), which
// appears atomically: complete or not at all.
void write_header_copy(const Header &header, const std::filesystem::path &path);

// True if PBKDF2(`digest`.hash, `volume_key`, salt, iterations) equals the
// stored digest (constant-time comparison). Throws cvm::Error(input) if the
// digest is not a pbkdf2 digest with a supported hash and valid base64.
bool verify_volume_key(const Digest &digest, const SecretBytes &volume_key);
// Same against the header's only digest; throws cvm::Error(input) unless the
// header has exactly one digest.
bool verify_volume_key(const Header &header, const SecretBytes &volume_key);

} // namespace cvm::luks
