// SPDX-License-Identifier: Apache-2.0
#include "lib/kbs/jwe.hpp"

#include "lib/crypto/crypto.hpp"
#include "lib/kbs/openssl_ptr.hpp"
#include "lib/util/base64.hpp"
#include "lib/util/error.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace cvm::kbs {

namespace {

constexpr std::string_view k_enc = "A256GCM";
constexpr std::size_t k_wrapped_cek_size = 40;
constexpr std::size_t k_cek_size = 32;
constexpr std::size_t k_iv_size = 12;
constexpr std::size_t k_tag_size = 16;

[[noreturn]] void
reject(std::string_view why) {
  throw Error(ErrorKind::crypto, "resource JWE rejected: {}", why);
}

const unsigned char *
uchars(const std::byte *p) {
  return reinterpret_cast<const unsigned char *>(p); // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
}

unsigned char *
uchars(std::byte *p) {
  return reinterpret_cast<unsigned char *>(p); // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
}

const std::string &
member(const nlohmann::json &object, const char *name) {
  const auto it = object.find(name);
  if (it == object.end() || !it->is_string()) {
    reject(fmt::format("member \"{}\" missing or not a string", name));
  }
  return it->get_ref<const std::string &>();
}

std::vector<std::byte>
b64url_member(const nlohmann::json &object, const char *name) {
  auto bytes = base64url_decode(member(object, name));
  if (!bytes) {
    reject(fmt::format("member \"{}\" is not base64url", name));
  }
  return std::move(*bytes);
}

void
append_u32be(std::vector<unsigned char> &out, std::uint32_t v) {
  out.push_back(static_cast<unsigned char>(v >> 24U));
  out.push_back(static_cast<unsigned char>(v >> 16U));
  out.push_back(static_cast<unsigned char>(v >> 8U));
  out.push_back(static_cast<unsigned char>(v));
}

// RFC 7518 §4.6.2 / NIST SP 800-56A Concat KDF, one SHA-256 round:
// SHA-256(counter=1 ‖ Z ‖ len(alg) ‖ alg ‖ len(apu)=0 ‖ len(apv)=0 ‖ keydatalen=256).
SecretBytes
concat_kdf(const SecretBytes &z) {
  std::vector<unsigned char> prefix;
  append_u32be(prefix, 1);
  std::vector<unsigned char> suffix;
  append_u32be(suffix, static_cast<std::uint32_t>(k_tee_key_alg.size()));
  suffix.insert(suffix.end(), k_tee_key_alg.begin(), k_tee_key_alg.end());
  append_u32be(suffix, 0);
  append_u32be(suffix, 0);
  append_u32be(suffix, 256);

  crypto::Hasher hasher(crypto::HashAlgorithm::sha256);
  hasher.update(std::as_bytes(std::span(prefix)));
  hasher.update(z.span());
  hasher.update(std::as_bytes(std::span(suffix)));
  std::vector<std::byte> digest = hasher.final();
  SecretBytes kek = SecretBytes::copy_of(digest);
  OPENSSL_cleanse(digest.data(), digest.size());
  return kek;
}

SecretBytes
unwrap_cek(const SecretBytes &kek, std::span<const std::byte> wrapped) {
  const EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) {
    throw Error(ErrorKind::crypto, "EVP_CIPHER_CTX_new: {}", crypto::openssl_errors());
  }
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  // Unwrap output can be up to the input size; the final size is checked below.
  SecretBytes out(wrapped.size());
  int len = 0;
  int final_len = 0;
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_wrap(), nullptr, uchars(kek.data()), nullptr) != 1 ||
      EVP_DecryptUpdate(
          ctx.get(), uchars(out.data()), &len, uchars(wrapped.data()), static_cast<int>(wrapped.size())) !=
          1 ||
      EVP_DecryptFinal_ex(ctx.get(), uchars(out.data()) + len, &final_len) != 1) {
    (void)crypto::openssl_errors(); // drain; the reason below is enough
    reject("AES key unwrap failed (wrong key or tampered encrypted_key)");
  }
  if (static_cast<std::size_t>(len) + static_cast<std::size_t>(final_len) != k_cek_size) {
    reject("unwrapped content key is not 32 bytes");
  }
  SecretBytes cek = SecretBytes::copy_of(out.span().first(k_cek_size));
  return cek;
}

SecretBytes
gcm_decrypt(const SecretBytes &cek,
            std::span<const std::byte> iv,
            std::span<const std::byte> ciphertext,
            std::span<const std::byte> tag,
            std::string_view aad) {
  const EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) {
    throw Error(ErrorKind::crypto, "EVP_CIPHER_CTX_new: {}", crypto::openssl_errors());
  }
  SecretBytes plaintext(ciphertext.size());
  int len = 0;
  int final_len = 0;
  std::array<unsigned char, k_tag_size> tag_copy{};
  std::memcpy(tag_copy.data(), tag.data(), k_tag_size);
  const bool ok =
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()), nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, uchars(cek.data()), uchars(iv.data())) == 1 &&
      EVP_DecryptUpdate(ctx.get(),
                        nullptr,
                        &len,
                        reinterpret_cast<const unsigned char *>(aad.data()), // NOLINT
                        static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(),
                        uchars(plaintext.data()),
                        &len,
                        uchars(ciphertext.data()),
                        static_cast<int>(ciphertext.size())) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(k_tag_size), tag_copy.data()) ==
          1 &&
      EVP_DecryptFinal_ex(ctx.get(), uchars(plaintext.data()) + len, &final_len) == 1;
  if (!ok) {
    (void)crypto::openssl_errors();
    // The partially decrypted buffer is wiped by SecretBytes' destructor.
    reject("AES-GCM authentication failed (tampered ciphertext, tag, iv or header)");
  }
  if (static_cast<std::size_t>(len) + static_cast<std::size_t>(final_len) != ciphertext.size()) {
    reject("AES-GCM produced an unexpected length");
  }
  return plaintext;
}

} // namespace

SecretBytes
decrypt_jwe(std::string_view jwe_json, const TeeKey &key) {
  const nlohmann::json jwe = nlohmann::json::parse(jwe_json, nullptr, /*allow_exceptions=*/false);
  if (!jwe.is_object()) {
    reject("response body is not a JSON object");
  }
  // Flattened serialisation only; Trustee sets no AAD and no unprotected header.
  for (const char *unsupported : {"aad", "header", "unprotected", "recipients"}) {
    const auto it = jwe.find(unsupported);
    if (it != jwe.end() && !it->is_null()) {
      reject(fmt::format("unsupported member \"{}\"", unsupported));
    }
  }
  const std::string &protected_b64 = member(jwe, "protected");
  const auto header_bytes = base64url_decode(protected_b64);
  if (!header_bytes) {
    reject("protected header is not base64url");
  }
  const std::string header_text(reinterpret_cast<const char *>(header_bytes->data()), // NOLINT
                                header_bytes->size());
  const nlohmann::json header = nlohmann::json::parse(header_text, nullptr, /*allow_exceptions=*/false);
  if (!header.is_object()) {
    reject("protected header is not a JSON object");
  }
  if (member(header, "alg") != k_tee_key_alg) {
    reject(fmt::format("alg must be {}", k_tee_key_alg));
  }
  if (member(header, "enc") != k_enc) {
    reject(fmt::format("enc must be {}", k_enc));
  }
  if (header.contains("zip") || header.contains("crit")) {
    reject("\"zip\" and \"crit\" headers are not supported");
  }
  const auto epk = header.find("epk");
  if (epk == header.end() || !epk->is_object()) {
    reject("header has no \"epk\" object");
  }
  if (member(*epk, "kty") != "EC" || member(*epk, "crv") != "P-256") {
    reject("epk must be an EC P-256 key");
  }
  const auto epk_x = b64url_member(*epk, "x");
  const auto epk_y = b64url_member(*epk, "y");
  if (epk_x.size() != 32 || epk_y.size() != 32) {
    reject("epk coordinates must be 32 bytes");
  }

  const auto wrapped = b64url_member(jwe, "encrypted_key");
  const auto iv = b64url_member(jwe, "iv");
  const auto ciphertext = b64url_member(jwe, "ciphertext");
  const auto tag = b64url_member(jwe, "tag");
  if (wrapped.size() != k_wrapped_cek_size) {
    reject("encrypted_key must be 40 bytes");
  }
  if (iv.size() != k_iv_size) {
    reject("iv must be 12 bytes");
  }
  if (tag.size() != k_tag_size) {
    reject("tag must be 16 bytes");
  }

  const SecretBytes z = key.agree(epk_x, epk_y);
  const SecretBytes kek = concat_kdf(z);
  const SecretBytes cek = unwrap_cek(kek, wrapped);
  // RFC 7516 §5.2 step 14: AAD = ASCII(BASE64URL(UTF8(protected header))) as received.
  return gcm_decrypt(cek, iv, ciphertext, tag, protected_b64);
}

} // namespace cvm::kbs
