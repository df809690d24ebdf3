// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/luks/header.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// The LUKS2 header policy: what the build produced, recorded at build time
// (written into the image as JSON) and enforced by the boot-time agent before
// it hands a key to libcryptsetup. A host that can write the disk can swap or
// edit the header (cipher_null, extra keyslot or token, forged reencryption
// "requirements", a huge Argon2 cost, a header for a key it knows); check()
// rejects all of those. Pure: no libcryptsetup.
namespace cvm::luks {

// Upper bounds for one keyslot's key-derivation function.
struct KdfBounds {
  std::string type;                 // "pbkdf2", "argon2i" or "argon2id" (exact)
  std::string hash;                 // pbkdf2 only (exact), e.g. "sha256"
  std::uint32_t max_iterations = 0; // pbkdf2 iterations
  std::uint32_t max_time = 0;       // argon2 time cost
  std::uint32_t max_memory_kib = 0; // argon2 memory
  std::uint32_t max_cpus = 0;       // argon2 parallelism
};

enum class KeyslotPresence { required, optional };

struct KeyslotPolicy {
  std::string id; // "0" = unlock key from the key broker, "1" = recovery
  KeyslotPresence presence = KeyslotPresence::required;
  KdfBounds kdf;
};

// The LUKS2 "digests" object that identifies the volume key, pinned whole.
struct PinnedDigest {
  std::string type; // "pbkdf2"
  std::string hash;
  std::uint32_t iterations = 0;
  std::vector<std::byte> salt;
  std::vector<std::byte> digest;

  // The same digest as a header Digest (base64), e.g. for verify_volume_key.
  [[nodiscard]] Digest as_digest() const;
};

struct Policy {
  std::string uuid;
  std::string label;
  std::string subsystem;
  std::string encryption = "aes-xts-plain64"; // segment cipher
  std::uint32_t key_size_bits = 512;          // volume key
  // How keyslot areas are encrypted (libcryptsetup picks aes-xts-plain64/512
  // when the segment cipher is not usable for keyslots).
  std::string keyslot_encryption = "aes-xts-plain64";
  std::uint32_t keyslot_key_size_bits = 512;
  std::uint32_t sector_size = 4096;
  std::uint64_t metadata_size = 0; // hdr_size of each copy
  std::uint64_t keyslots_size = 0;
  std::uint64_t data_offset = 0;        // bytes; the only segment starts here
  std::optional<std::string> integrity; // e.g. "hmac(sha256)"; nullopt = none
  std::vector<KeyslotPolicy> keyslots;  // every keyslot not listed is a violation
  PinnedDigest digest;
};

// One reason a header is not acceptable: `where` is a dotted path into the
// header ("segments.0.encryption", "binary.primary.checksum"), `what` explains.
struct Violation {
  std::string where;
  std::string what;
};

// Every way `header` departs from `policy`; empty means acceptable. Never throws
// for header contents (malformed values are violations), only for bugs.
std::vector<Violation> check(const Header &header, const Policy &policy);

// Throws cvm::Error(input) listing all violations, if there are any.
void require_compliant(const Header &header, const Policy &policy);

// The agent's entry point: reads the header region from `fd` once (never more
// than the policy's header region), and returns it if it complies with
// `policy`. Pass the result to write_header_copy() and activate from that
// copy. Throws cvm::Error(io / input).
Header read_compliant_header(int fd, const Policy &policy);

// "where: what; where: what" for messages and reports.
std::string describe(const std::vector<Violation> &violations);

// Build time: a policy that pins what `header` contains now (UUID, label,
// cipher, sizes, offset, digest, each keyslot's KDF as its own upper bound;
// keyslot "0" required, any other keyslot optional). Throws cvm::Error(input)
// if the header does not have the one-segment, one-digest shape cvmforge
// writes.
Policy derive_policy(const Header &header);

// Serialisation with a format tag ("cvmforge-luks-policy/1"), stable key order,
// base64 for binary values. policy_from_json() rejects unknown or missing
// members and wrong types with cvm::Error(input).
std::string policy_to_json(const Policy &policy);
Policy policy_from_json(std::string_view json);

} // namespace cvm::luks
