// SPDX-License-Identifier: Apache-2.0
#include "lib/kbs/canonical_json.hpp"
#include "lib/kbs/protocol.hpp"
#include "lib/kbs/sample/sample_evidence.hpp"
#include "lib/util/base64.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/hex.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "kbs_test_support.hpp"

namespace {

using namespace cvm::kbs;
using cvm::base64_encode;
using cvm::base64url_decode;
using cvm::base64url_encode;
using nlohmann::json;

// cvmforge's own vector, its expected digest computed independently with
// Python's json.dumps(sort_keys=True, separators=(",", ":")) and hashlib:
// nonce = base64(0..31), x = 32 x 0x01, y = 32 x 0x02.
json
vector_jwk() {
  const std::vector<std::byte> x(32, std::byte{0x01});
  const std::vector<std::byte> y(32, std::byte{0x02});
  return {{"kty", "EC"},
          {"crv", "P-256"},
          {"alg", "ECDH-ES+A256KW"},
          {"x", base64url_encode(x)},
          {"y", base64url_encode(y)}};
}

std::string
vector_nonce() {
  std::vector<std::byte> n;
  for (int i = 0; i < 32; ++i) {
    n.push_back(static_cast<std::byte>(i));
  }
  return base64_encode(n);
}

constexpr std::string_view k_vector_canonical =
    R"({"additional-evidence":"","nonce":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",)"
    R"("tee-pubkey":{"alg":"ECDH-ES+A256KW","crv":"P-256","kty":"EC",)"
    R"("x":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE","y":"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI"}})";
constexpr std::string_view k_vector_sha384 =
    "d934ba73c76ad6ce42e80746cefb42b74c7e0af0f0d30ace51557c3da2a8fe7608b3c6856f09e1f101fd459a86b1c846";

TEST(KbsRuntimeData, CanonicalFormAndSha384MatchKeyReleaseVector) {
  const json data = runtime_data(vector_nonce(), vector_jwk());
  EXPECT_EQ(canonical_json(data), k_vector_canonical);
  const auto digest = runtime_data_digest(data, cvm::crypto::HashAlgorithm::sha384);
  EXPECT_EQ(cvm::to_hex(digest), k_vector_sha384);
}

TEST(KbsRuntimeData, TrusteeAttestationServiceVector) {
  const json input = json::parse(R"({"b":1,"a":"test","c":{"d":"e"}})");
  EXPECT_EQ(canonical_json(input), R"({"a":"test","b":1,"c":{"d":"e"}})");
  EXPECT_EQ(cvm::to_hex(runtime_data_digest(input, cvm::crypto::HashAlgorithm::sha384)),
            "e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c4597480a186427c813ca9"
            "41da78870c3");
}

TEST(KbsRuntimeData, TdxReportDataIsDigestThenSixteenZeros) {
  const auto digest = cvm::from_hex(k_vector_sha384).value();
  const auto report_data = tdx_report_data(digest);
  EXPECT_EQ(cvm::to_hex(report_data), std::string(k_vector_sha384) + std::string(32, '0'));
  EXPECT_THROW(tdx_report_data(std::vector<std::byte>(65)), cvm::Error);
}

TEST(KbsRuntimeData, SampleEvidenceCarriesUnpaddedDigest) {
  const auto digest = cvm::from_hex(k_vector_sha384).value();
  SampleEvidenceProvider sample;
  const json evidence = sample.primary_evidence(digest);
  EXPECT_EQ(
      evidence,
      json::parse(
          R"({"svn":"1","report_data":"2TS6c8dq1s5C6AdGzvtCt0x+CvDw0wrOUVV8PaKo/nYIs8aFbwnh8QH9RZqGschG"})"));
  EXPECT_EQ(sample.tee(), "sample");
}

// The same vectors as recorded in the shared conformance data, if present.
TEST(KbsRuntimeData, ConformanceExpectedJsonVectors) {
  const auto dir = cvm::kbs::test::conformance_tdx_dir();
  if (!dir) {
    GTEST_SKIP() << "skipped: conformance data not found ($CVM_CONFORMANCE_DIR/tdx)";
  }
  const json expected = json::parse(cvm::fs::read_text(*dir / "expected.json"));
  ASSERT_TRUE(expected.contains("kbs_runtime_data"));
  for (const json &v : expected.at("kbs_runtime_data")) {
    const std::string canonical = v.at("canonical_json").get<std::string>();
    // Canonicalising the canonical form is the identity; its hash is the vector.
    EXPECT_EQ(canonical_json(json::parse(canonical)), canonical);
    EXPECT_EQ(cvm::to_hex(runtime_data_digest(json::parse(canonical), cvm::crypto::HashAlgorithm::sha384)),
              v.at("sha384").get<std::string>());
    if (v.contains("nonce")) {
      EXPECT_EQ(canonical_json(runtime_data(v.at("nonce").get<std::string>(), vector_jwk())), canonical);
    }
  }
}

TEST(KbsProtocol, RequestMessage) {
  const json request = json::parse(make_request("tdx"));
  EXPECT_EQ(request.at("version"), "0.4.0");
  EXPECT_EQ(request.at("tee"), "tdx");
  EXPECT_EQ(request.at("extra-params").at("supported-hash-algorithms"),
            json::array({"sha256", "sha384", "sha512"}));
}

TEST(KbsProtocol, ChallengeParsing) {
  const Challenge tdx = parse_challenge(R"({"nonce":"abc=","extra-params":""})");
  EXPECT_EQ(tdx.nonce, "abc=");
  EXPECT_EQ(tdx.hash_algorithm, cvm::crypto::HashAlgorithm::sha384);
  const Challenge selected =
      parse_challenge(R"({"nonce":"n","extra-params":{"selected-hash-algorithm":"sha512"}})");
  EXPECT_EQ(selected.hash_algorithm, cvm::crypto::HashAlgorithm::sha512);
  EXPECT_THROW(parse_challenge(R"({"nonce":"n","extra-params":{"selected-hash-algorithm":"sm3"}})"),
               cvm::Error);
  EXPECT_THROW(parse_challenge(R"({"extra-params":""})"), cvm::Error);
  EXPECT_THROW(parse_challenge(R"({"nonce":""})"), cvm::Error);
  EXPECT_THROW(parse_challenge("not json"), cvm::Error);
}

TEST(KbsProtocol, AttestationMessageShape) {
  const json attestation = json::parse(make_attestation("n0", vector_jwk(), json{{"quote", "AA=="}}));
  EXPECT_FALSE(attestation.contains("init-data"));
  EXPECT_EQ(attestation.at("runtime-data"), (json{{"nonce", "n0"}, {"tee-pubkey", vector_jwk()}}));
  EXPECT_EQ(attestation.at("tee-evidence").at("primary_evidence").at("quote"), "AA==");
  EXPECT_EQ(attestation.at("tee-evidence").at("additional_evidence"), "");
}

TEST(KbsProtocol, ProblemJsonIsDescribedOnOneLine) {
  EXPECT_EQ(
      describe_error_response(
          401,
          R"({"type":"https://github.com/confidential-containers/kbs/errors/PolicyDeny","detail":"denied\nby policy"})"),
      "HTTP 401 PolicyDeny: denied by policy");
  EXPECT_EQ(describe_error_response(502, "<html>bad gateway</html>"), "HTTP 502: <html>bad gateway</html>");
  EXPECT_EQ(describe_error_response(404, ""), "HTTP 404");
  const std::string long_detail(5000, 'x');
  EXPECT_LT(describe_error_response(401, json{{"detail", long_detail}}.dump()).size(), 400U);
}

TEST(KbsProtocol, SessionCookie) {
  EXPECT_EQ(session_cookie_from_set_cookie("kbs-session-id=abc123; Path=/; HttpOnly"), "abc123");
  EXPECT_EQ(session_cookie_from_set_cookie("kbs-session-id=\"q1\""), "q1");
  EXPECT_EQ(session_cookie_from_set_cookie("other=1; Path=/"), std::nullopt);
  EXPECT_EQ(session_cookie_from_set_cookie("kbs-session-id=a\r\nInjected: 1"), std::nullopt);
  EXPECT_EQ(session_cookie_from_set_cookie("kbs-session-id="), std::nullopt);
}

TEST(KbsProtocol, ResourcePath) {
  const ResourcePath path = ResourcePath::parse("cvmforge/image-1/luks");
  EXPECT_EQ(path.repository, "cvmforge");
  EXPECT_EQ(path.type, "image-1");
  EXPECT_EQ(path.tag, "luks");
  EXPECT_EQ(path.str(), "cvmforge/image-1/luks");
  for (const char *bad : {"a/b", "a/b/c/d", "a//c", "../b/c", "a/b/c?x=1", "a/b/c d", ""}) {
    EXPECT_THROW(ResourcePath::parse(bad), cvm::Error) << bad;
  }
}

} // namespace
