// SPDX-License-Identifier: Apache-2.0
// JWE decryption against JWEs produced at test time by the independent Python
// broker (tests/kbs/kbs_broker.py make-jwe, python3-cryptography).
#include "lib/kbs/jwe.hpp"
#include "lib/kbs/tee_key.hpp"
#include "lib/util/base64.hpp"
#include "lib/util/error.hpp"
#include "lib/util/exec.hpp"
#include "lib/util/hex.hpp"

#include <gtest/gtest.h>

#include "kbs_test_support.hpp"

namespace {

using namespace cvm::kbs;
using cvm::base64_encode;
using cvm::base64url_decode;
using cvm::base64url_encode;
using nlohmann::json;

constexpr std::string_view k_plaintext_hex =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";

class JweTest : public ::testing::Test {
protected:
  void
  SetUp() override {
    const auto src = cvm::kbs::test::source_dir();
    if (!src || !cvm::exec::find_program("python3")) {
      GTEST_SKIP() << "skipped: needs CVM_SOURCE_DIR and python3 (with python3-cryptography)";
    }
    m_broker = (*src / "tests/kbs/kbs_broker.py").string();
  }

  // A JWE for `jwk` from the Python broker, optionally tampered with.
  std::string
  python_jwe(const json &jwk, std::string_view tamper = "none", std::string_view hex = k_plaintext_hex) {
    const auto result = cvm::exec::run({"python3",
                                        m_broker,
                                        "make-jwe",
                                        "--jwk",
                                        jwk.dump(),
                                        "--plaintext-hex",
                                        std::string(hex),
                                        "--tamper",
                                        std::string(tamper)});
    EXPECT_EQ(result.exit_status, 0) << result.err;
    return result.out;
  }

  std::string m_broker;
};

TEST_F(JweTest, DecryptsPythonBrokerJwe) {
  const TeeKey key = TeeKey::generate();
  const json jwk = key.public_jwk();
  ASSERT_EQ(jwk.size(), 5U);
  EXPECT_EQ(jwk.at("kty"), "EC");
  EXPECT_EQ(jwk.at("crv"), "P-256");
  EXPECT_EQ(jwk.at("alg"), "ECDH-ES+A256KW");
  EXPECT_EQ(base64url_decode(jwk.at("x").get<std::string>())->size(), 32U);
  EXPECT_EQ(base64url_decode(jwk.at("y").get<std::string>())->size(), 32U);

  const std::string jwe = python_jwe(jwk);
  const json parsed = json::parse(jwe);
  EXPECT_EQ(base64url_decode(parsed.at("encrypted_key").get<std::string>())->size(), 40U);
  const cvm::SecretBytes plaintext = decrypt_jwe(jwe, key);
  EXPECT_EQ(cvm::to_hex(plaintext.span()), k_plaintext_hex);
}

TEST_F(JweTest, DecryptsShortAndLongPlaintexts) {
  const TeeKey key = TeeKey::generate();
  EXPECT_EQ(cvm::to_hex(decrypt_jwe(python_jwe(key.public_jwk(), "none", "ab"), key).span()), "ab");
  const std::string big(2 * 4096, 'c');
  EXPECT_EQ(cvm::to_hex(decrypt_jwe(python_jwe(key.public_jwk(), "none", big), key).span()), big);
}

TEST_F(JweTest, RejectsTamperedJwe) {
  const TeeKey key = TeeKey::generate();
  for (const char *tamper : {"ciphertext", "tag", "iv", "encrypted_key", "header", "alg", "enc"}) {
    const std::string jwe = python_jwe(key.public_jwk(), tamper);
    try {
      (void)decrypt_jwe(jwe, key);
      ADD_FAILURE() << "tampered " << tamper << " was accepted";
    } catch (const cvm::Error &e) {
      EXPECT_EQ(e.kind(), cvm::ErrorKind::crypto) << tamper;
      EXPECT_NE(std::string(e.what()).find("resource JWE rejected"), std::string::npos) << e.what();
      // The error must not leak plaintext.
      EXPECT_EQ(std::string(e.what()).find("0001020304"), std::string::npos);
    }
  }
}

TEST_F(JweTest, RejectsJweForAnotherKey) {
  const TeeKey key = TeeKey::generate();
  const TeeKey other = TeeKey::generate();
  EXPECT_THROW((void)decrypt_jwe(python_jwe(other.public_jwk()), key), cvm::Error);
}

TEST_F(JweTest, RejectsStructuralProblems) {
  const TeeKey key = TeeKey::generate();
  const json good = json::parse(python_jwe(key.public_jwk()));

  auto expect_rejected = [&](const json &jwe, std::string_view why) {
    EXPECT_THROW((void)decrypt_jwe(jwe.dump(), key), cvm::Error) << why;
  };
  json with_aad = good;
  with_aad["aad"] = "AA";
  expect_rejected(with_aad, "aad member");
  for (const char *member : {"protected", "encrypted_key", "iv", "ciphertext", "tag"}) {
    json missing = good;
    missing.erase(member);
    expect_rejected(missing, member);
  }
  json short_key = good;
  short_key["encrypted_key"] = base64url_encode(std::vector<std::byte>(32));
  expect_rejected(short_key, "32-byte encrypted_key");
  json short_tag = good;
  short_tag["tag"] = base64url_encode(std::vector<std::byte>(12));
  expect_rejected(short_tag, "12-byte tag");

  // A "zip" header, a P-521 epk and an off-curve epk, each correctly encoded.
  json header = json::parse(std::string(
      reinterpret_cast<const char *>(base64url_decode(good.at("protected").get<std::string>())->data()),
      base64url_decode(good.at("protected").get<std::string>())->size()));
  auto with_header = [&](const json &h) {
    json jwe = good;
    jwe["protected"] = base64url_encode(cvm::as_bytes(h.dump()));
    return jwe;
  };
  json zip = header;
  zip["zip"] = "DEF";
  expect_rejected(with_header(zip), "zip");
  json p521 = header;
  p521["epk"]["crv"] = "P-521";
  expect_rejected(with_header(p521), "P-521");
  json off_curve = header;
  off_curve["epk"]["y"] = base64url_encode(std::vector<std::byte>(32, std::byte{0x01}));
  expect_rejected(with_header(off_curve), "off-curve epk");
  expect_rejected(json::array(), "not an object");
  EXPECT_THROW((void)decrypt_jwe("{not json", key), cvm::Error);
}

} // namespace
