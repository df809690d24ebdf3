// SPDX-License-Identifier: Apache-2.0
// The RCAR client against a scripted in-process transport.
#include "lib/kbs/canonical_json.hpp"
#include "lib/kbs/client.hpp"
#include "lib/util/error.hpp"
#include "lib/util/exec.hpp"
#include "lib/util/hex.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <map>

#include "kbs_test_support.hpp"

namespace {

using namespace cvm::kbs;
using nlohmann::json;

struct Recorded {
  std::string method;
  std::string path;
  std::string body;
  std::optional<std::string> cookie;
};

// Answers requests with a callback; records what the client sent.
class ScriptedTransport final : public HttpTransport {
public:
  using Handler = std::function<HttpResponse(const Recorded &)>;
  ScriptedTransport(Handler handler, std::vector<Recorded> &log)
    : m_handler(std::move(handler))
    , m_log(log) {}

  HttpResponse
  post_json(std::string_view path, std::string_view body, const std::optional<std::string> &cookie) override {
    m_log.push_back({"POST", std::string(path), std::string(body), cookie});
    return m_handler(m_log.back());
  }

  HttpResponse
  get(std::string_view path, const std::optional<std::string> &cookie) override {
    m_log.push_back({"GET", std::string(path), "", cookie});
    return m_handler(m_log.back());
  }

private:
  Handler m_handler;
  std::vector<Recorded> &m_log;
};

class RecordingEvidence final : public EvidenceProvider {
public:
  std::string
  tee() const override {
    return "sample";
  }
  void
  preflight() override {}
  json
  primary_evidence(std::span<const std::byte> digest) override {
    digests.push_back(cvm::to_hex(digest));
    return json{{"digest", digests.back()}};
  }
  bool
  close_release_window() override {
    return false;
  }
  std::vector<std::string> digests;
};

HttpResponse
problem(int status, std::string_view kind, std::string_view detail) {
  return {status,
          "application/json",
          json{{"type", "https://github.com/confidential-containers/kbs/errors/" + std::string(kind)},
               {"detail", detail}}
              .dump(),
          {}};
}

TEST(KbsClient, BackoffDoublesUpToTheCap) {
  const RetryPolicy retry{5, std::chrono::milliseconds(100), std::chrono::milliseconds(350)};
  EXPECT_EQ(backoff_delay(retry, 0).count(), 100);
  EXPECT_EQ(backoff_delay(retry, 1).count(), 200);
  EXPECT_EQ(backoff_delay(retry, 2).count(), 350);
  EXPECT_EQ(backoff_delay(retry, 30).count(), 350);
}

TEST(KbsClient, RetriesEveryUrlPerRoundAndReportsTheLastProblem) {
  std::vector<Recorded> log;
  std::vector<std::string> urls_tried;
  RecordingEvidence evidence;
  std::vector<long> sleeps;
  FetchOptions options{{"https://a", "https://b"},
                       ResourcePath::parse("r/t/g"),
                       RetryPolicy{3, std::chrono::milliseconds(100), std::chrono::milliseconds(150)},
                       {}};
  const TransportFactory factory = [&](const std::string &url) {
    urls_tried.push_back(url);
    return std::make_unique<ScriptedTransport>(
        [](const Recorded &) { return problem(401, "PolicyDeny", "denied\nby policy"); }, log);
  };
  try {
    (void)fetch_resource(
        options, evidence, factory, [&](std::chrono::milliseconds d) { sleeps.push_back(d.count()); });
    FAIL() << "expected failure";
  } catch (const cvm::Error &e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("after 6 attempt(s)"), std::string::npos) << what;
    EXPECT_NE(what.find("HTTP 401 PolicyDeny: denied by policy"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos);
  }
  EXPECT_EQ(urls_tried,
            (std::vector<std::string>{
                "https://a", "https://b", "https://a", "https://b", "https://a", "https://b"}));
  EXPECT_EQ(sleeps, (std::vector<long>{100, 150}));
  EXPECT_TRUE(evidence.digests.empty()); // no evidence without a challenge
}

TEST(KbsClient, RequiresASessionCookie) {
  std::vector<Recorded> log;
  RecordingEvidence evidence;
  ScriptedTransport transport(
      [](const Recorded &) {
        return HttpResponse{200, "application/json", R"({"nonce":"n","extra-params":""})", {}};
      },
      log);
  EXPECT_THROW((void)fetch_resource_once(transport, evidence, ResourcePath::parse("r/t/g")), cvm::Error);
}

TEST(KbsClient, FullExchangeWithPythonJwe) {
  const auto src = cvm::kbs::test::source_dir();
  if (!src || !cvm::exec::find_program("python3")) {
    GTEST_SKIP() << "skipped: needs CVM_SOURCE_DIR and python3 (with python3-cryptography)";
  }
  const std::string broker = (*src / "tests/kbs/kbs_broker.py").string();
  std::vector<Recorded> log;
  RecordingEvidence evidence;
  json tee_pubkey;
  ScriptedTransport transport(
      [&](const Recorded &r) -> HttpResponse {
        if (r.path == "/kbs/v0/auth") {
          EXPECT_EQ(json::parse(r.body).at("tee"), "sample");
          return {200,
                  "application/json",
                  R"({"nonce":"bm9uY2U=","extra-params":""})",
                  {"other=1", "kbs-session-id=s1; Path=/; HttpOnly"}};
        }
        if (r.path == "/kbs/v0/attest") {
          const json body = json::parse(r.body);
          tee_pubkey = body.at("runtime-data").at("tee-pubkey");
          EXPECT_EQ(body.at("runtime-data").at("nonce"), "bm9uY2U=");
          return {200, "application/json", R"({"token":"t"})", {"kbs-session-id=s2"}};
        }
        EXPECT_EQ(r.path, "/kbs/v0/resource/r/t/g");
        const auto jwe = cvm::exec::run(
            {"python3", broker, "make-jwe", "--jwk", tee_pubkey.dump(), "--plaintext-hex", "c0ffee"});
        return {200, "application/json", jwe.out, {}};
      },
      log);
  const cvm::SecretBytes secret = fetch_resource_once(transport, evidence, ResourcePath::parse("r/t/g"));
  EXPECT_EQ(cvm::to_hex(secret.span()), "c0ffee");
  ASSERT_EQ(log.size(), 3U);
  EXPECT_EQ(log[0].cookie, std::nullopt);
  EXPECT_EQ(log[1].cookie, "s1");
  EXPECT_EQ(log[2].cookie, "s2"); // refreshed by /attest
  // The evidence binds SHA-384(JCS(runtime data)) of what was sent.
  ASSERT_EQ(evidence.digests.size(), 1U);
  const json rd = {{"tee-pubkey", tee_pubkey}, {"nonce", "bm9uY2U="}, {"additional-evidence", ""}};
  EXPECT_EQ(evidence.digests[0], cvm::to_hex(cvm::crypto::sha384(cvm::as_bytes(canonical_json(rd)))));
}

// Data volumes (issue 12): one attestation, then one GET per resource with
// the same session cookie; an optional resource the KBS refuses is left out,
// a required one fails the attempt.
TEST(KbsClient, SeveralResourcesInOneAttestedSession) {
  const auto src = cvm::kbs::test::source_dir();
  if (!src || !cvm::exec::find_program("python3")) {
    GTEST_SKIP() << "skipped: needs CVM_SOURCE_DIR and python3 (with python3-cryptography)";
  }
  const std::string broker = (*src / "tests/kbs/kbs_broker.py").string();
  std::vector<Recorded> log;
  RecordingEvidence evidence;
  json tee_pubkey;
  const std::map<std::string, std::string> released = {{"/kbs/v0/resource/r/t/root", "aa01"},
                                                       {"/kbs/v0/resource/r/t/data", "bb02"}};
  ScriptedTransport transport(
      [&](const Recorded &r) -> HttpResponse {
        if (r.path == "/kbs/v0/auth") {
          return {
              200, "application/json", R"({"nonce":"bm9uY2U=","extra-params":""})", {"kbs-session-id=s1"}};
        }
        if (r.path == "/kbs/v0/attest") {
          tee_pubkey = json::parse(r.body).at("runtime-data").at("tee-pubkey");
          return {200, "application/json", R"({"token":"t"})", {}};
        }
        const auto it = released.find(r.path);
        if (it == released.end()) {
          return problem(401, "PolicyDeny", "resource policy denied");
        }
        const auto jwe = cvm::exec::run(
            {"python3", broker, "make-jwe", "--jwk", tee_pubkey.dump(), "--plaintext-hex", it->second});
        return {200, "application/json", jwe.out, {}};
      },
      log);
  const std::vector<ResourceRequest> more = {{ResourcePath::parse("r/t/data"), true},
                                             {ResourcePath::parse("r/t/cache"), false}};
  const FetchResult result = fetch_resources_once(transport, evidence, ResourcePath::parse("r/t/root"), more);
  EXPECT_EQ(cvm::to_hex(result.primary.span()), "aa01");
  ASSERT_EQ(result.more.size(), 2U);
  ASSERT_TRUE(result.more[0].has_value());
  EXPECT_EQ(cvm::to_hex(result.more[0]->span()), "bb02");
  EXPECT_FALSE(result.more[1].has_value()) << "an optional resource the KBS refuses is left out";
  ASSERT_EQ(log.size(), 5U);
  EXPECT_EQ(evidence.digests.size(), 1U) << "one attestation for every resource";
  for (std::size_t i = 1; i < log.size(); ++i) {
    EXPECT_EQ(log[i].cookie, "s1") << log[i].path;
  }
  EXPECT_EQ(log[2].path, "/kbs/v0/resource/r/t/root");
  EXPECT_EQ(log[3].path, "/kbs/v0/resource/r/t/data");
  EXPECT_EQ(log[4].path, "/kbs/v0/resource/r/t/cache");

  // The same refusal for a required resource fails the whole exchange.
  log.clear();
  try {
    (void)fetch_resources_once(
        transport, evidence, ResourcePath::parse("r/t/root"), {{ResourcePath::parse("r/t/cache"), true}});
    FAIL() << "expected failure";
  } catch (const cvm::Error &e) {
    EXPECT_NE(std::string(e.what()).find("KBS resource r/t/cache: HTTP 401 PolicyDeny"), std::string::npos)
        << e.what();
  }
}

} // namespace
