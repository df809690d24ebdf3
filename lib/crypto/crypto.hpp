// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/util/error.hpp"
#include "lib/util/secret.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

// Hashing and randomness over OpenSSL 3, without OpenSSL types in the
// interface (rule: C types stop at the wrapper).
namespace cvm::crypto {

enum class HashAlgorithm { sha1, sha256, sha384, sha512 };

std::size_t digest_size(HashAlgorithm algorithm) noexcept;

// Incremental hash. final() may be called once; it throws cvm::Error(crypto).
class Hasher {
public:
  explicit Hasher(HashAlgorithm algorithm);
  Hasher(const Hasher &) = delete;
  Hasher &operator=(const Hasher &) = delete;
  Hasher(Hasher &&other) noexcept;
  Hasher &operator=(Hasher &&other) noexcept;
  ~Hasher();

  Hasher &update(std::span<const std::byte> data);
  std::vector<std::byte> final();

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

std::vector<std::byte> digest(HashAlgorithm algorithm, std::span<const std::byte> data);

using Sha384 = std::array<std::byte, 48>;
using Sha256 = std::array<std::byte, 32>;

Sha384 sha384(std::span<const std::byte> data);
Sha256 sha256(std::span<const std::byte> data);

// `digest` (e.g. of Hasher::final()) as the fixed-size array `Digest`
// (Sha384, Sha256). Throws cvm::Error(internal) if the sizes differ.
template<typename Digest>
Digest
to_fixed(std::span<const std::byte> digest) {
  Digest out{};
  if (digest.size() != out.size()) {
    throw Error(
        ErrorKind::internal, "a digest of {} bytes where {} were expected", digest.size(), out.size());
  }
  std::copy(digest.begin(), digest.end(), out.begin());
  return out;
}

// SHA-256 of a whole file, read in 1 MiB pieces (a multi-GiB base image
// never sits in memory). Throws Error(io) naming the file.
Sha256 sha256_of_file(const std::filesystem::path &path);

// PBKDF2-HMAC-`algorithm` (RFC 8018) of `password` and `salt` with `iterations`
// rounds, `size` bytes long. Used to check a LUKS2 volume-key digest. Throws
// cvm::Error(crypto) if OpenSSL fails or `iterations` is 0.
std::vector<std::byte> pbkdf2_hmac(HashAlgorithm algorithm,
                                   std::span<const std::byte> password,
                                   std::span<const std::byte> salt,
                                   std::uint32_t iterations,
                                   std::size_t size);

// `size` bytes from OpenSSL's CSPRNG (RAND_priv_bytes), as a secret.
SecretBytes random_secret(std::size_t size);

// Non-secret random bytes (RAND_bytes), e.g. nonces.
std::vector<std::byte> random_bytes(std::size_t size);

// The OpenSSL error queue, drained, as one line ("" if empty).
std::string openssl_errors();

} // namespace cvm::crypto
