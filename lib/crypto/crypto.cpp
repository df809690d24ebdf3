// SPDX-License-Identifier: Apache-2.0
#include "lib/crypto/crypto.hpp"

#include "lib/util/c_handle.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"

#include <climits>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>

namespace cvm::crypto {

CVM_DEFINE_C_PTR(EvpMdCtx, EVP_MD_CTX, EVP_MD_CTX_free);

std::string
openssl_errors() {
  std::string out;
  unsigned long code = 0;
  while ((code = ERR_get_error()) != 0) {
    std::array<char, 256> buf{};
    ERR_error_string_n(code, buf.data(), buf.size());
    if (!out.empty()) {
      out += "; ";
    }
    out += buf.data();
  }
  return out;
}

namespace {

const EVP_MD *
md_of(HashAlgorithm algorithm) {
  switch (algorithm) {
  case HashAlgorithm::sha1:
    return EVP_sha1();
  case HashAlgorithm::sha256:
    return EVP_sha256();
  case HashAlgorithm::sha384:
    return EVP_sha384();
  case HashAlgorithm::sha512:
    return EVP_sha512();
  }
  return nullptr;
}

[[noreturn]] void
fail(const char *what) {
  throw Error(ErrorKind::crypto, "{}: {}", what, openssl_errors());
}

} // namespace

std::size_t
digest_size(HashAlgorithm algorithm) noexcept {
  switch (algorithm) {
  case HashAlgorithm::sha1:
    return 20;
  case HashAlgorithm::sha256:
    return 32;
  case HashAlgorithm::sha384:
    return 48;
  case HashAlgorithm::sha512:
    return 64;
  }
  return 0;
}

struct Hasher::Impl {
  EvpMdCtxPtr ctx;
  bool finished = false;
};

Hasher::Hasher(HashAlgorithm algorithm)
  : m_impl(std::make_unique<Impl>()) {
  m_impl->ctx.reset(EVP_MD_CTX_new());
  if (!m_impl->ctx || EVP_DigestInit_ex(m_impl->ctx.get(), md_of(algorithm), nullptr) != 1) {
    fail("EVP_DigestInit_ex");
  }
}

Hasher::Hasher(Hasher &&) noexcept = default;
Hasher &Hasher::operator=(Hasher &&) noexcept = default;
Hasher::~Hasher() = default;

Hasher &
Hasher::update(std::span<const std::byte> data) {
  if (m_impl->finished) {
    throw Error(ErrorKind::internal, "Hasher::update after final");
  }
  if (!data.empty() && EVP_DigestUpdate(m_impl->ctx.get(), data.data(), data.size()) != 1) {
    fail("EVP_DigestUpdate");
  }
  return *this;
}

std::vector<std::byte>
Hasher::final() {
  if (m_impl->finished) {
    throw Error(ErrorKind::internal, "Hasher::final called twice");
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(m_impl->ctx.get(), md.data(), &len) != 1) {
    fail("EVP_DigestFinal_ex");
  }
  m_impl->finished = true;
  std::vector<std::byte> out(len);
  std::transform(md.begin(), md.begin() + len, out.begin(), [](unsigned char c) { return std::byte{c}; });
  return out;
}

std::vector<std::byte>
digest(HashAlgorithm algorithm, std::span<const std::byte> data) {
  Hasher h(algorithm);
  h.update(data);
  return h.final();
}

Sha384
sha384(std::span<const std::byte> data) {
  return to_fixed<Sha384>(digest(HashAlgorithm::sha384, data));
}

Sha256
sha256(std::span<const std::byte> data) {
  return to_fixed<Sha256>(digest(HashAlgorithm::sha256, data));
}

Sha256
sha256_of_file(const std::filesystem::path &path) {
  const fs::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)); // NOLINT(cppcoreguidelines-pro-type-vararg)
  if (!fd) {
    throw Error(ErrorKind::io, "cannot open {}: {}", path.string(), fs::errno_text(errno));
  }
  Hasher h(HashAlgorithm::sha256);
  std::vector<std::byte> buf(std::size_t{1} << 20U);
  for (;;) {
    const ssize_t n = fs::read_some(fd.get(), buf);
    if (n < 0) {
      throw Error(ErrorKind::io, "cannot read {}: {}", path.string(), fs::errno_text(errno));
    }
    if (n == 0) {
      break;
    }
    h.update(std::span(buf).first(static_cast<std::size_t>(n)));
  }
  return to_fixed<Sha256>(h.final());
}

std::vector<std::byte>
pbkdf2_hmac(HashAlgorithm algorithm,
            std::span<const std::byte> password,
            std::span<const std::byte> salt,
            std::uint32_t iterations,
            std::size_t size) {
  if (iterations == 0 || iterations > static_cast<std::uint32_t>(INT_MAX) || size > INT_MAX ||
      password.size() > INT_MAX || salt.size() > INT_MAX) {
    throw Error(ErrorKind::crypto, "PKCS5_PBKDF2_HMAC: parameters out of range");
  }
  std::vector<std::byte> out(size);
  // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast)
  if (size > 0 && PKCS5_PBKDF2_HMAC(reinterpret_cast<const char *>(password.data()),
                                    static_cast<int>(password.size()),
                                    reinterpret_cast<const unsigned char *>(salt.data()),
                                    static_cast<int>(salt.size()),
                                    static_cast<int>(iterations),
                                    md_of(algorithm),
                                    static_cast<int>(size),
                                    reinterpret_cast<unsigned char *>(out.data())) != 1) {
    fail("PKCS5_PBKDF2_HMAC");
  }
  // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
  return out;
}

SecretBytes
random_secret(std::size_t size) {
  SecretBytes s(size);
  if (size > 0 &&
      RAND_priv_bytes(reinterpret_cast<unsigned char *>(s.data()), static_cast<int>(size)) != 1) { // NOLINT
    fail("RAND_priv_bytes");
  }
  return s;
}

std::vector<std::byte>
random_bytes(std::size_t size) {
  std::vector<std::byte> out(size);
  if (size > 0 &&
      RAND_bytes(reinterpret_cast<unsigned char *>(out.data()), static_cast<int>(size)) != 1) { // NOLINT
    fail("RAND_bytes");
  }
  return out;
}

} // namespace cvm::crypto
