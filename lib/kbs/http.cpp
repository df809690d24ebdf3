// SPDX-License-Identifier: Apache-2.0
// Compiled into two libraries; see http.hpp. CVM_AGENT_TEST_FLAVOUR decides
// whether plain HTTP exists in the binary at all.
#include "lib/kbs/http.hpp"

#include "lib/kbs/protocol.hpp"
#include "lib/util/error.hpp"
#include "lib/util/log.hpp"

#include <httplib.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <charconv>

namespace cvm::kbs {

namespace {

struct ParsedUrl {
  bool https = true;
  std::string host;
  int port = 0;
  std::string prefix; // "" or "/something" without trailing slash
};

ParsedUrl
parse_url(const std::string &url) {
  ParsedUrl parsed;
  std::string_view rest(url);
  if (rest.rfind("https://", 0) == 0) {
    rest.remove_prefix(8);
  } else if (rest.rfind("http://", 0) == 0) {
    if (!plain_http_allowed()) {
      throw Error(ErrorKind::usage, "KBS URL '{}': plain http is not allowed (https only)", url);
    }
    parsed.https = false;
    rest.remove_prefix(7);
  } else {
    throw Error(ErrorKind::usage, "KBS URL '{}' must start with https://", url);
  }
  const std::size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view prefix = rest.substr(slash);
    while (!prefix.empty() && prefix.back() == '/') {
      prefix.remove_suffix(1);
    }
    parsed.prefix = std::string(prefix);
  }
  std::string_view host = authority;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      throw Error(ErrorKind::usage, "KBS URL '{}': unterminated IPv6 literal", url);
    }
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        throw Error(ErrorKind::usage, "KBS URL '{}': malformed authority", url);
      }
      port_text = authority.substr(close + 2);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port_text = authority.substr(colon + 1);
    }
  }
  if (host.empty() || host.find_first_of("@ \t") != std::string_view::npos) {
    throw Error(ErrorKind::usage, "KBS URL '{}': malformed host", url);
  }
  parsed.host = std::string(host);
  parsed.port = parsed.https ? 443 : 80;
  if (!port_text.empty()) {
    const auto [ptr, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), parsed.port);
    if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || parsed.port <= 0 ||
        parsed.port > 65535) {
      throw Error(ErrorKind::usage, "KBS URL '{}': bad port", url);
    }
  }
  return parsed;
}

class HttplibTransport final : public HttpTransport {
public:
  HttplibTransport(const std::string &url, const HttpOptions &options)
    : m_url(url)
    , m_parsed(parse_url(url))
    , m_options(options) {
    if (m_parsed.https) {
      if (!options.ca_file) {
        throw Error(ErrorKind::usage, "KBS URL '{}': https needs a CA certificate file", url);
      }
      auto ssl = std::make_unique<httplib::SSLClient>(m_parsed.host, m_parsed.port);
      // Only the pinned CA: set_ca_cert_path replaces the default verify paths.
      ssl->set_ca_cert_path(options.ca_file->string());
      ssl->enable_server_certificate_verification(true);
      // The TD's clock comes from the host, and an initramfs has no NTP:
      // validity periods can only add failures, not security, against the
      // party that controls the clock. The pinned CA is the trust decision.
      X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ssl->ssl_context());
      if (param == nullptr || X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_NO_CHECK_TIME) != 1) {
        throw Error(ErrorKind::crypto, "cannot configure certificate verification");
      }
      m_ssl = ssl.get();
      m_client = std::move(ssl);
    } else {
      m_client = std::make_unique<httplib::ClientImpl>(m_parsed.host, m_parsed.port);
    }
    const auto micros = [](std::chrono::milliseconds ms) {
      return std::chrono::duration_cast<std::chrono::microseconds>(ms);
    };
    m_client->set_connection_timeout(micros(options.connect_timeout));
    m_client->set_read_timeout(micros(options.io_timeout));
    m_client->set_write_timeout(micros(options.io_timeout));
    m_client->set_follow_location(false);
    m_client->set_decompress(false);
    m_client->set_keep_alive(false);
  }

  HttpResponse
  post_json(std::string_view path, std::string_view body, const std::optional<std::string> &cookie) override {
    const std::string full = m_parsed.prefix + std::string(path);
    log::debug("POST {}{}", m_url, path);
    auto result = m_client->Post(full, headers(cookie), body.data(), body.size(), "application/json");
    return convert(result, "POST", path);
  }

  HttpResponse
  get(std::string_view path, const std::optional<std::string> &cookie) override {
    const std::string full = m_parsed.prefix + std::string(path);
    log::debug("GET {}{}", m_url, path);
    auto result = m_client->Get(full, headers(cookie));
    return convert(result, "GET", path);
  }

private:
  static httplib::Headers
  headers(const std::optional<std::string> &cookie) {
    httplib::Headers h{{"Accept", "application/json"}};
    if (cookie) {
      h.emplace("Cookie", std::string(k_session_cookie) + "=" + *cookie);
    }
    return h;
  }

  HttpResponse
  convert(httplib::Result &result, std::string_view method, std::string_view path) {
    if (!result) {
      const httplib::Error err = result.error();
      std::string reason = httplib::to_string(err);
      if (err == httplib::Error::SSLServerVerification && m_ssl != nullptr) {
        const long verify = m_ssl->get_openssl_verify_result();
        reason =
            fmt::format("TLS server certificate not trusted ({})",
                        verify == X509_V_OK ? "host name mismatch" : X509_verify_cert_error_string(verify));
      } else if (err == httplib::Error::SSLLoadingCerts) {
        reason = "cannot load the CA certificate file";
      } else if (err == httplib::Error::Read) {
        reason = "no response (read failed or timed out)";
      } else if (err == httplib::Error::Connection) {
        reason = "could not connect (refused or unreachable)";
      } else if (err == httplib::Error::ConnectionTimeout) {
        reason = "connection timed out";
      } else if (err == httplib::Error::SSLConnection) {
        reason = "TLS handshake failed";
      } else if (err == httplib::Error::Write) {
        reason = "sending the request failed";
      }
      throw Error(ErrorKind::io, "{} {}{}: {}", method, m_url, path, reason);
    }
    if (result->body.size() > m_options.max_body_size) {
      throw Error(ErrorKind::io,
                  "{} {}{}: response larger than {} bytes",
                  method,
                  m_url,
                  path,
                  m_options.max_body_size);
    }
    HttpResponse response;
    response.status = result->status;
    response.content_type = result->get_header_value("Content-Type");
    response.body = std::move(result->body);
    const std::size_t cookies = result->get_header_value_count("Set-Cookie");
    for (std::size_t i = 0; i < cookies; ++i) {
      response.set_cookies.push_back(result->get_header_value("Set-Cookie", i));
    }
    return response;
  }

  std::string m_url;
  ParsedUrl m_parsed;
  HttpOptions m_options;
  std::unique_ptr<httplib::ClientImpl> m_client;
  httplib::SSLClient *m_ssl = nullptr;
};

} // namespace

bool
plain_http_allowed() noexcept {
#ifdef CVM_AGENT_TEST_FLAVOUR
  return true;
#else
  return false;
#endif
}

std::unique_ptr<HttpTransport>
make_http_transport(const std::string &base_url, const HttpOptions &options) {
  return std::make_unique<HttplibTransport>(base_url, options);
}

} // namespace cvm::kbs
