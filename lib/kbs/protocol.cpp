// SPDX-License-Identifier: Apache-2.0
#include "lib/kbs/protocol.hpp"

#include "lib/kbs/canonical_json.hpp"
#include "lib/util/error.hpp"
#include "lib/util/hex.hpp"

#include <algorithm>
#include <cstring>

namespace cvm::kbs {

namespace {

constexpr std::size_t k_max_description = 300;

bool
valid_segment(std::string_view s) {
  if (s.empty() || s == "." || s == "..") {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

std::string
printable(std::string_view text, std::size_t limit) {
  std::string out;
  for (const char c : text) {
    if (out.size() >= limit) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
  }
  return out;
}

} // namespace

ResourcePath
ResourcePath::parse(std::string_view text) {
  ResourcePath path;
  std::string *parts[] = {&path.repository, &path.type, &path.tag};
  std::size_t start = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    const std::size_t slash = text.find('/', start);
    const bool last = i == 2;
    if (last != (slash == std::string_view::npos)) {
      throw Error(
          ErrorKind::input, "resource path '{}' must be <repository>/<type>/<tag>", printable(text, 100));
    }
    const std::string_view segment = text.substr(start, last ? std::string_view::npos : slash - start);
    if (!valid_segment(segment)) {
      throw Error(ErrorKind::input,
                  "resource path '{}': segments must be non-empty [A-Za-z0-9._-]",
                  printable(text, 100));
    }
    *parts[i] = std::string(segment);
    start = slash + 1;
  }
  return path;
}

std::string
ResourcePath::str() const {
  return repository + "/" + type + "/" + tag;
}

std::string
make_request(std::string_view tee) {
  const nlohmann::json request = {
      {"version", std::string(k_protocol_version)},
      {"tee", std::string(tee)},
      {"extra-params", {{"supported-hash-algorithms", {"sha256", "sha384", "sha512"}}}},
  };
  return request.dump();
}

Challenge
parse_challenge(std::string_view body) {
  const nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    throw Error(ErrorKind::input, "KBS challenge is not a JSON object");
  }
  const auto nonce = json.find("nonce");
  if (nonce == json.end() || !nonce->is_string() || nonce->get_ref<const std::string &>().empty()) {
    throw Error(ErrorKind::input, "KBS challenge has no nonce");
  }
  Challenge challenge{nonce->get<std::string>(), crypto::HashAlgorithm::sha384};
  if (challenge.nonce.size() > 1024) {
    throw Error(ErrorKind::input, "KBS challenge nonce is implausibly long");
  }
  const auto extra = json.find("extra-params");
  if (extra != json.end() && extra->is_object()) {
    const auto selected = extra->find("selected-hash-algorithm");
    if (selected != extra->end()) {
      const std::string name = selected->is_string() ? selected->get<std::string>() : "";
      if (name == "sha256") {
        challenge.hash_algorithm = crypto::HashAlgorithm::sha256;
      } else if (name == "sha384") {
        challenge.hash_algorithm = crypto::HashAlgorithm::sha384;
      } else if (name == "sha512") {
        challenge.hash_algorithm = crypto::HashAlgorithm::sha512;
      } else {
        throw Error(ErrorKind::input, "KBS selected an unsupported hash algorithm '{}'", printable(name, 40));
      }
    }
  }
  return challenge;
}

nlohmann::json
runtime_data(std::string_view nonce, const nlohmann::json &tee_pubkey) {
  return nlohmann::json{
      {"tee-pubkey", tee_pubkey},
      {"nonce", std::string(nonce)},
      {"additional-evidence", ""},
  };
}

std::vector<std::byte>
runtime_data_digest(const nlohmann::json &data, crypto::HashAlgorithm algorithm) {
  const std::string canonical = canonical_json(data);
  return crypto::digest(algorithm, as_bytes(canonical));
}

std::array<std::byte, 64>
tdx_report_data(std::span<const std::byte> digest) {
  std::array<std::byte, 64> out{};
  if (digest.size() > out.size()) {
    throw Error(ErrorKind::internal, "report data digest longer than 64 bytes");
  }
  std::copy(digest.begin(), digest.end(), out.begin());
  return out;
}

std::string
make_attestation(std::string_view nonce,
                 const nlohmann::json &tee_pubkey,
                 const nlohmann::json &primary_evidence) {
  const nlohmann::json attestation = {
      {"runtime-data", {{"nonce", std::string(nonce)}, {"tee-pubkey", tee_pubkey}}},
      {"tee-evidence", {{"primary_evidence", primary_evidence}, {"additional_evidence", ""}}},
  };
  return attestation.dump();
}

std::string
describe_error_response(int status, std::string_view body) {
  std::string out = fmt::format("HTTP {}", status);
  const nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_object() && (json.contains("type") || json.contains("detail"))) {
    const auto type = json.find("type");
    if (type != json.end() && type->is_string()) {
      const std::string &t = type->get_ref<const std::string &>();
      const std::size_t slash = t.find_last_of('/');
      out += " " + printable(slash == std::string::npos ? t : t.substr(slash + 1), 60);
    }
    const auto detail = json.find("detail");
    if (detail != json.end() && detail->is_string()) {
      out += ": " + printable(detail->get_ref<const std::string &>(), k_max_description);
    }
    return out;
  }
  if (!body.empty()) {
    out += ": " + printable(body, 120);
  }
  return out;
}

std::optional<std::string>
session_cookie_from_set_cookie(std::string_view set_cookie) {
  const std::string_view pair = set_cookie.substr(0, set_cookie.find(';'));
  const std::size_t eq = pair.find('=');
  if (eq == std::string_view::npos) {
    return std::nullopt;
  }
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
      s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
      s.remove_suffix(1);
    }
    return s;
  };
  if (trim(pair.substr(0, eq)) != k_session_cookie) {
    return std::nullopt;
  }
  std::string_view value = trim(pair.substr(eq + 1));
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    value = value.substr(1, value.size() - 2);
  }
  // Cookie values are sent back verbatim in a header: refuse anything that
  // could split or extend it.
  const bool clean =
      !value.empty() && value.size() <= 512 && std::all_of(value.begin(), value.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u < 0x7f && c != ';' && c != ',' && c != '"' && c != '\\';
      });
  if (!clean) {
    return std::nullopt;
  }
  return std::string(value);
}

} // namespace cvm::kbs
