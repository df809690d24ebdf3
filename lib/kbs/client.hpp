// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/kbs/evidence.hpp"
#include "lib/kbs/http.hpp"
#include "lib/kbs/protocol.hpp"
#include "lib/util/secret.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

// The KBS client: RCAR 0.4.0 handshake (auth -> challenge -> attest) and the
// resource GET, against a list of KBS URLs with bounded retries.
namespace cvm::kbs {

struct RetryPolicy {
  unsigned attempts = 5;                           // rounds over all URLs, >= 1
  std::chrono::milliseconds initial_backoff{1000}; // sleep after the first failed round
  std::chrono::milliseconds max_backoff{16000};    // backoff doubles up to this
};

// A further resource fetched in the same session as the primary one (a data
// volume's key). An optional one that the KBS refuses is left out (nullopt);
// a required one fails the attempt like the primary resource.
struct ResourceRequest {
  ResourcePath path;
  bool required = true;
};

struct FetchOptions {
  std::vector<std::string> urls; // tried in order within each round
  ResourcePath resource;
  RetryPolicy retry;
  std::vector<ResourceRequest> more{}; // fetched after `resource`, same session
};

// What one attested session released: the primary resource and, in the
// order of FetchOptions::more, each further one (nullopt: optional, refused).
struct FetchResult {
  SecretBytes primary;
  std::vector<std::optional<SecretBytes>> more;
};

using TransportFactory = std::function<std::unique_ptr<HttpTransport>(const std::string &url)>;
using Sleeper = std::function<void(std::chrono::milliseconds)>;

// One complete exchange on `transport`: POST /auth, a fresh P-256 TEE key,
// evidence binding hash(JCS(runtime data)), POST /attest, GET the resource,
// decrypt the JWE. Non-200 answers throw cvm::Error(io) with the RFC 7807
// problem described in one line; malformed answers throw Error(input/crypto).
SecretBytes
fetch_resource_once(HttpTransport &transport, EvidenceProvider &evidence, const ResourcePath &resource);

// The same exchange with one attestation for several resources: after
// /attest, GET `resource`, then each of `more` with the same session cookie.
FetchResult fetch_resources_once(HttpTransport &transport,
                                 EvidenceProvider &evidence,
                                 const ResourcePath &resource,
                                 const std::vector<ResourceRequest> &more);

// The resource from the first URL that delivers it. Up to `retry.attempts`
// rounds; each round tries every URL in order; between rounds it sleeps with
// exponential backoff. When every attempt failed, throws cvm::Error(io) whose
// one-line message names the attempts and the last failure.
SecretBytes fetch_resource(const FetchOptions &options,
                           EvidenceProvider &evidence,
                           const TransportFactory &make_transport,
                           const Sleeper &sleep = {});

// fetch_resource for the primary resource and `options.more`, all from one
// attested session (the session of the first URL and round that delivers
// the primary resource and every required further one).
FetchResult fetch_resources(const FetchOptions &options,
                            EvidenceProvider &evidence,
                            const TransportFactory &make_transport,
                            const Sleeper &sleep = {});

// Sleep `round`'s backoff: min(initial * 2^round, max).
std::chrono::milliseconds backoff_delay(const RetryPolicy &retry, unsigned round);

} // namespace cvm::kbs
