// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// The HTTP(S) client side used by the KBS client, as an interface so the
// protocol logic can be driven by a fake in tests. The implementation
// (http.cpp, over cpp-httplib with OpenSSL) is compiled twice: into
// cvm_kbs_http, which accepts only https:// URLs with a pinned CA file, and
// into cvm_kbs_http_test_flavour (CVM_AGENT_TEST_FLAVOUR), which also accepts
// plain http:// for loopback tests.
namespace cvm::kbs {

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
  std::vector<std::string> set_cookies; // every Set-Cookie header value
};

struct HttpOptions {
  // The only trust anchor(s) for https (PEM). Required for https URLs: the
  // system store is never used. Host names/IPs are verified; certificate
  // validity periods are not (the host controls the TD's clock).
  std::optional<std::filesystem::path> ca_file;
  std::chrono::milliseconds connect_timeout{5000};
  // Per-read/per-write socket timeout of each request.
  std::chrono::milliseconds io_timeout{15000};
  std::size_t max_body_size = std::size_t{1} << 20U;
};

class HttpTransport {
public:
  virtual ~HttpTransport() = default;
  HttpTransport(const HttpTransport &) = delete;
  HttpTransport &operator=(const HttpTransport &) = delete;
  HttpTransport(HttpTransport &&) = delete;
  HttpTransport &operator=(HttpTransport &&) = delete;

  // POST `body` (application/json) to `path` (absolute, below the base URL's
  // path), with "Cookie: kbs-session-id=<cookie>" when `cookie` is set.
  // Throws cvm::Error(io) on connection, TLS or timeout failures and on
  // bodies larger than the configured maximum; any HTTP status is returned.
  virtual HttpResponse
  post_json(std::string_view path, std::string_view body, const std::optional<std::string> &cookie) = 0;

  // GET `path`; otherwise as post_json.
  virtual HttpResponse get(std::string_view path, const std::optional<std::string> &cookie) = 0;

protected:
  HttpTransport() = default;
};

// Whether this build accepts plain http:// URLs (true only in the test flavour).
[[nodiscard]] bool plain_http_allowed() noexcept;

// A transport for `base_url` ("https://host[:port][/prefix]"; "http://..."
// only where plain_http_allowed()). Throws cvm::Error(usage) for a malformed
// or disallowed URL and for https without `options.ca_file`.
std::unique_ptr<HttpTransport> make_http_transport(const std::string &base_url, const HttpOptions &options);

} // namespace cvm::kbs
