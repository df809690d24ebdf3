// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/crypto/crypto.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// Messages of the Trustee KBS attestation protocol (RCAR) version 0.4.0, as
// pure functions over strings and JSON: no I/O, so they are unit-testable.
namespace cvm::kbs {

inline constexpr std::string_view k_protocol_version = "0.4.0";
inline constexpr std::string_view k_session_cookie = "kbs-session-id";
inline constexpr std::string_view k_api_prefix = "/kbs/v0";

// A KBS resource path <repository>/<type>/<tag>.
struct ResourcePath {
  std::string repository;
  std::string type;
  std::string tag;

  // "repo/type/tag". Each segment is non-empty and limited to
  // [A-Za-z0-9._-] (no "." or ".." segments); throws cvm::Error(input).
  static ResourcePath parse(std::string_view text);

  [[nodiscard]] std::string str() const;
};

// Body of POST /kbs/v0/auth:
// {"version":"0.4.0","tee":<tee>,"extra-params":{"supported-hash-algorithms":[...]}}.
std::string make_request(std::string_view tee);

// The Challenge answered by /auth.
struct Challenge {
  std::string nonce;                    // opaque, echoed verbatim
  crypto::HashAlgorithm hash_algorithm; // SHA-384 unless the KBS selects another
};

// Parses a Challenge. `extra-params` may be "" (TDX), absent, or an object;
// an object's "selected-hash-algorithm" of sha256/sha384/sha512 is honoured,
// anything else throws cvm::Error(input), as does a missing or empty nonce.
Challenge parse_challenge(std::string_view body);

// The runtime data object both sides hash:
// {"tee-pubkey": <jwk>, "nonce": <nonce>, "additional-evidence": ""}.
nlohmann::json runtime_data(std::string_view nonce, const nlohmann::json &tee_pubkey);

// hash(JCS(runtime_data)), the value bound into the evidence.
std::vector<std::byte> runtime_data_digest(const nlohmann::json &runtime_data,
                                           crypto::HashAlgorithm algorithm);

// TDX REPORTDATA: `digest` followed by zero bytes up to 64 bytes.
// Throws cvm::Error(internal) if `digest` is longer than 64 bytes.
std::array<std::byte, 64> tdx_report_data(std::span<const std::byte> digest);

// Body of POST /kbs/v0/attest (no init-data):
// {"runtime-data":{"nonce","tee-pubkey"},
//  "tee-evidence":{"primary_evidence":<evidence>,"additional_evidence":""}}.
std::string make_attestation(std::string_view nonce,
                             const nlohmann::json &tee_pubkey,
                             const nlohmann::json &primary_evidence);

// A one-line, printable description of a failed KBS response: the HTTP
// status, the RFC 7807 problem kind (last segment of "type") and "detail"
// when the body is problem+json, otherwise a cleaned prefix of the body.
// Control characters are replaced and the text is bounded in length.
std::string describe_error_response(int status, std::string_view body);

// The value of the kbs-session-id cookie in one Set-Cookie header value, or
// nullopt if that header sets another cookie.
std::optional<std::string> session_cookie_from_set_cookie(std::string_view set_cookie);

} // namespace cvm::kbs
