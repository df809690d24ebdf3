// SPDX-License-Identifier: Apache-2.0
#include "lib/kbs/client.hpp"

#include "lib/kbs/jwe.hpp"
#include "lib/kbs/tee_key.hpp"
#include "lib/util/error.hpp"
#include "lib/util/log.hpp"

#include <thread>

namespace cvm::kbs {

namespace {

void
expect_ok(const HttpResponse &response, std::string_view step) {
  if (response.status != 200) {
    throw Error(ErrorKind::io, "{}: {}", step, describe_error_response(response.status, response.body));
  }
}

std::optional<std::string>
session_cookie(const HttpResponse &response) {
  for (const std::string &header : response.set_cookies) {
    if (auto value = session_cookie_from_set_cookie(header)) {
      return value;
    }
  }
  return std::nullopt;
}

} // namespace

FetchResult
fetch_resources_once(HttpTransport &transport,
                     EvidenceProvider &evidence,
                     const ResourcePath &resource,
                     const std::vector<ResourceRequest> &more) {
  const std::string prefix(k_api_prefix);

  // Request -> Challenge.
  const HttpResponse auth = transport.post_json(prefix + "/auth", make_request(evidence.tee()), std::nullopt);
  expect_ok(auth, "KBS auth");
  std::optional<std::string> cookie = session_cookie(auth);
  if (!cookie) {
    throw Error(ErrorKind::input, "KBS auth: no {} cookie in the response", k_session_cookie);
  }
  const Challenge challenge = parse_challenge(auth.body);

  // Evidence bound to this session's nonce and a key made for this run only.
  const TeeKey key = TeeKey::generate();
  const nlohmann::json jwk = key.public_jwk();
  const auto digest = runtime_data_digest(runtime_data(challenge.nonce, jwk), challenge.hash_algorithm);
  const nlohmann::json primary = evidence.primary_evidence(digest);

  const HttpResponse attest =
      transport.post_json(prefix + "/attest", make_attestation(challenge.nonce, jwk, primary), cookie);
  expect_ok(attest, "KBS attest");
  if (auto refreshed = session_cookie(attest)) {
    cookie = std::move(refreshed);
  }
  log::info("kbs: attestation accepted");

  // Every resource is released to the same attestation: one GET each.
  const auto get = [&](const ResourcePath &path, bool required) -> std::optional<SecretBytes> {
    const HttpResponse answer = transport.get(prefix + "/resource/" + path.str(), cookie);
    if (answer.status != 200 && !required) {
      log::warning("kbs: optional resource {} not released: {}",
                   path.str(),
                   describe_error_response(answer.status, answer.body));
      return std::nullopt;
    }
    expect_ok(answer, fmt::format("KBS resource {}", path.str()));
    SecretBytes secret = decrypt_jwe(answer.body, key);
    if (secret.empty()) {
      throw Error(ErrorKind::input, "KBS resource {} is empty", path.str());
    }
    log::info("kbs: resource {} received ({} bytes)", path.str(), secret.size());
    return secret;
  };
  FetchResult result;
  result.primary = std::move(*get(resource, true));
  result.more.reserve(more.size());
  for (const ResourceRequest &request : more) {
    result.more.push_back(get(request.path, request.required));
  }
  return result;
}

SecretBytes
fetch_resource_once(HttpTransport &transport, EvidenceProvider &evidence, const ResourcePath &resource) {
  return std::move(fetch_resources_once(transport, evidence, resource, {}).primary);
}

std::chrono::milliseconds
backoff_delay(const RetryPolicy &retry, unsigned round) {
  auto delay = retry.initial_backoff;
  for (unsigned i = 0; i < round && delay < retry.max_backoff; ++i) {
    delay *= 2;
  }
  return std::min(delay, retry.max_backoff);
}

SecretBytes
fetch_resource(const FetchOptions &options,
               EvidenceProvider &evidence,
               const TransportFactory &make_transport,
               const Sleeper &sleep) {
  FetchOptions primary_only = options;
  primary_only.more.clear();
  return std::move(fetch_resources(primary_only, evidence, make_transport, sleep).primary);
}

FetchResult
fetch_resources(const FetchOptions &options,
                EvidenceProvider &evidence,
                const TransportFactory &make_transport,
                const Sleeper &sleep) {
  if (options.urls.empty()) {
    throw Error(ErrorKind::usage, "no KBS URL configured");
  }
  const unsigned rounds = std::max(1U, options.retry.attempts);
  std::string last_error;
  unsigned tries = 0;
  for (unsigned round = 0; round < rounds; ++round) {
    if (round > 0) {
      const auto delay = backoff_delay(options.retry, round - 1);
      log::info("kbs: retrying in {} ms", delay.count());
      if (sleep) {
        sleep(delay);
      } else {
        std::this_thread::sleep_for(delay);
      }
    }
    for (const std::string &url : options.urls) {
      ++tries;
      try {
        log::info("kbs: attempt {} with {}", tries, url);
        const auto transport = make_transport(url);
        return fetch_resources_once(*transport, evidence, options.resource, options.more);
      } catch (const Error &e) {
        if (e.kind() == ErrorKind::usage) {
          throw; // configuration problems do not get better with retries
        }
        last_error = e.what();
        log::info("kbs: attempt failed: {}", last_error);
      }
    }
  }
  throw Error(ErrorKind::io, "no key from any KBS after {} attempt(s); last error: {}", tries, last_error);
}

} // namespace cvm::kbs
