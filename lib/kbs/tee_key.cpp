// SPDX-License-Identifier: Apache-2.0
#include "lib/kbs/tee_key.hpp"

#include "lib/crypto/crypto.hpp"
#include "lib/kbs/openssl_ptr.hpp"
#include "lib/util/base64.hpp"
#include "lib/util/error.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <vector>

namespace cvm::kbs {

namespace {

constexpr std::size_t k_coordinate_size = 32;

[[noreturn]] void
fail(std::string_view what) {
  throw Error(ErrorKind::crypto, "{}: {}", what, crypto::openssl_errors());
}

std::array<std::byte, k_coordinate_size>
coordinate(const EVP_PKEY *pkey, const char *name) {
  BIGNUM *raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) {
    fail("reading the TEE public key");
  }
  const BignumPtr bn(raw);
  std::array<std::byte, k_coordinate_size> out{};
  // Left-padded to exactly 32 bytes: the KBS requires fixed-size coordinates.
  if (BN_bn2binpad(bn.get(),
                   reinterpret_cast<unsigned char *>(out.data()), // NOLINT
                   static_cast<int>(out.size())) != static_cast<int>(out.size())) {
    fail("encoding the TEE public key");
  }
  return out;
}

EvpPkeyPtr
peer_key(std::span<const std::byte> x, std::span<const std::byte> y) {
  if (x.size() != k_coordinate_size || y.size() != k_coordinate_size) {
    throw Error(ErrorKind::crypto, "peer EC key: coordinates must be 32 bytes each");
  }
  std::vector<unsigned char> point;
  point.reserve(1 + 2 * k_coordinate_size);
  point.push_back(0x04); // uncompressed
  for (const std::byte b : x) {
    point.push_back(std::to_integer<unsigned char>(b));
  }
  for (const std::byte b : y) {
    point.push_back(std::to_integer<unsigned char>(b));
  }
  const OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    fail("peer EC key: building parameters");
  }
  const OsslParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  const EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY *raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    throw Error(ErrorKind::crypto, "peer EC key is not a valid P-256 point: {}", crypto::openssl_errors());
  }
  EvpPkeyPtr key(raw);
  const EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    throw Error(ErrorKind::crypto, "peer EC key is not a valid P-256 point: {}", crypto::openssl_errors());
  }
  return key;
}

} // namespace

struct TeeKey::Impl {
  EvpPkeyPtr pkey;
};

TeeKey::TeeKey(std::unique_ptr<Impl> impl)
  : m_impl(std::move(impl)) {}

TeeKey::TeeKey(TeeKey &&) noexcept = default;
TeeKey &TeeKey::operator=(TeeKey &&) noexcept = default;
// EVP_PKEY_free clears the private scalar (OpenSSL uses BN_clear_free for it).
TeeKey::~TeeKey() = default;

TeeKey
TeeKey::generate() {
  EvpPkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!pkey) {
    fail("generating the P-256 TEE key");
  }
  auto impl = std::make_unique<Impl>();
  impl->pkey = std::move(pkey);
  return TeeKey(std::move(impl));
}

nlohmann::json
TeeKey::public_jwk() const {
  const auto x = coordinate(m_impl->pkey.get(), OSSL_PKEY_PARAM_EC_PUB_X);
  const auto y = coordinate(m_impl->pkey.get(), OSSL_PKEY_PARAM_EC_PUB_Y);
  return nlohmann::json{
      {"kty", "EC"},
      {"crv", "P-256"},
      {"alg", std::string(k_tee_key_alg)},
      {"x", base64url_encode(x)},
      {"y", base64url_encode(y)},
  };
}

SecretBytes
TeeKey::agree(std::span<const std::byte> x, std::span<const std::byte> y) const {
  const EvpPkeyPtr peer = peer_key(x, y);
  const EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, m_impl->pkey.get(), nullptr));
  std::size_t size = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &size) != 1 || size != k_coordinate_size) {
    fail("ECDH with the KBS ephemeral key");
  }
  SecretBytes z(size);
  if (EVP_PKEY_derive(ctx.get(),
                      reinterpret_cast<unsigned char *>(z.data()), // NOLINT
                      &size) != 1 ||
      size != k_coordinate_size) {
    fail("ECDH with the KBS ephemeral key");
  }
  return z;
}

} // namespace cvm::kbs
