// SPDX-License-Identifier: Apache-2.0
// URL policy of the production transport (cvm_kbs_http): https only, with a CA.
#include "lib/kbs/http.hpp"
#include "lib/util/error.hpp"

#include <gtest/gtest.h>

namespace {

using namespace cvm::kbs;

HttpOptions
with_ca() {
  HttpOptions options;
  options.ca_file = "/nonexistent/ca.pem"; // only read when connecting
  return options;
}

void
expect_usage_error(const std::string &url, const HttpOptions &options) {
  try {
    (void)make_http_transport(url, options);
    ADD_FAILURE() << "accepted " << url;
  } catch (const cvm::Error &e) {
    EXPECT_EQ(e.kind(), cvm::ErrorKind::usage) << url << ": " << e.what();
  }
}

TEST(KbsHttp, ProductionTransportRefusesPlainHttp) {
  EXPECT_FALSE(plain_http_allowed());
  expect_usage_error("http://127.0.0.1:8080", with_ca());
}

TEST(KbsHttp, HttpsNeedsAPinnedCa) {
  expect_usage_error("https://kbs.example", HttpOptions{});
  EXPECT_NE(make_http_transport("https://kbs.example", with_ca()), nullptr);
}

TEST(KbsHttp, UrlForms) {
  EXPECT_NE(make_http_transport("https://kbs.example:8443", with_ca()), nullptr);
  EXPECT_NE(make_http_transport("https://[::1]:8443/prefix/", with_ca()), nullptr);
  EXPECT_NE(make_http_transport("https://10.0.2.2", with_ca()), nullptr);
  for (const char *bad : {"ftp://kbs",
                          "kbs.example",
                          "https://",
                          "https://:80",
                          "https://h:0",
                          "https://h:65536",
                          "https://h:80x",
                          "https://[::1",
                          "https://u@h"}) {
    expect_usage_error(bad, with_ca());
  }
}

} // namespace
