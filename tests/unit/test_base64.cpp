// SPDX-License-Identifier: Apache-2.0
#include "lib/util/base64.hpp"
#include "lib/util/hex.hpp"

#include <gtest/gtest.h>

namespace {

using namespace cvm;

std::vector<std::byte>
bytes(std::string_view s) {
  const auto b = cvm::as_bytes(s);
  return {b.begin(), b.end()};
}

// RFC 4648 §10 test vectors.
TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char *, const char *> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto &[plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(bytes(plain)), encoded);
    EXPECT_EQ(base64_decode(encoded), bytes(plain));
  }
}

TEST(Base64, UrlSafeUnpadded) {
  const std::vector<std::byte> data = {std::byte{0xfb}, std::byte{0xff}, std::byte{0xbf}, std::byte{0x01}};
  EXPECT_EQ(base64_encode(data), "+/+/AQ==");
  EXPECT_EQ(base64url_encode(data), "-_-_AQ");
  EXPECT_EQ(base64url_decode("-_-_AQ"), data);
  EXPECT_EQ(base64url_decode_secret("-_-_AQ")->size(), 4U);
}

TEST(Base64, RejectsMalformed) {
  EXPECT_FALSE(base64_decode("Zg="));      // wrong padding length
  EXPECT_FALSE(base64_decode("Zm9v!A==")); // bad character
  EXPECT_FALSE(base64_decode("Zh=="));     // non-zero trailing bits
  EXPECT_FALSE(base64url_decode("Zg=="));  // padding in base64url
  EXPECT_FALSE(base64url_decode("+/+/"));  // standard alphabet in base64url
  EXPECT_FALSE(base64url_decode("Z"));     // impossible length
  // As LUKS2 stores salts and digests: canonical, padded, nothing else.
  EXPECT_FALSE(base64_decode("Zm9"));        // length
  EXPECT_FALSE(base64_decode("Z==="));       // too much padding
  EXPECT_FALSE(base64_decode("Zm=v"));       // padding in the middle
  EXPECT_FALSE(base64_decode("Zm9v\nYmFy")); // whitespace
  EXPECT_FALSE(base64_decode("Zm9_"));       // URL alphabet
}

} // namespace
