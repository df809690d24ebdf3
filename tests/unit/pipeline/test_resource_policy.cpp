// SPDX-License-Identifier: Apache-2.0
// The TDX resource policy (templates/kbs/resource-policy.rego.in) pins the
// image: its MRTD candidates and RTMRs, in the claim shapes Trustee's KBS
// gives the policy.
//
// No Rego evaluator can be installed offline here (OPA and regorus are not
// packaged for Debian 12; npm has only OPA's REST client, the opa-wasm SDK
// without a compiler, and a Go/wasm build of OPA that evaluates only its own
// generated modules), so these tests are structural: StructuralRego below
// reads the rendered policy line by line and accepts only the few forms the
// template uses (rules and one-argument functions whose bodies are
// conjunctions of `ref == literal`, `ref in set`, calls, and the affirmed()
// comprehension), failing on anything else. It resolves every reference
// against claims built in Trustee's exact shape, so a misspelt claim path or
// a pin in the wrong rule shows up as a wrong decision below.
#include "lib/pipeline/agent_install.hpp"
#include "lib/util/error.hpp"
#include "measurement/reference.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

using namespace cvm;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

namespace {

std::string
hex96(char c) {
  return std::string(96, c);
}

manifest::Manifest
tdx_manifest(const std::string &name, const std::string &resource_path) {
  manifest::Manifest m;
  m.name = name;
  m.attestation.enabled = true;
  m.attestation.tee = manifest::Tee::tdx;
  m.attestation.kbs_urls = {"https://kbs.example:8080"};
  m.attestation.resource_path = resource_path;
  m.measurement.profile = "small";
  return m;
}

// Image A: two MRTD candidates (no page-add order selected), RTMR0..2, and
// RTMR3 at its initial zeros (nothing runs before the agent's release
// barrier extends it).
pipeline::agent::PolicyPins
pins_a() {
  pipeline::agent::PolicyPins p;
  p.mrtd = {hex96('1'), hex96('2')};
  p.rtmr = {{0, hex96('a')}, {1, hex96('b')}, {2, hex96('c')}, {3, hex96('0')}};
  return p;
}

// --- Claims as Trustee gives them to the resource policy ------------------

struct Quote {
  std::string mr_td;
  std::array<std::string, 4> rtmr;
  bool debug = false;
};

Quote
quote_a() {
  return {hex96('2'), {hex96('a'), hex96('b'), hex96('c'), hex96('0')}, false};
}

Quote
quote_b() {
  // Image B: same firmware (MRTD), its own boot chain.
  return {hex96('1'), {hex96('a'), hex96('d'), hex96('e'), hex96('0')}, false};
}

// The TDX verifier's claims (deps/verifier/src/tdx/claims.rs,
// generate_parsed_claim) as transform_claims() puts them under "tdx"
// (attestation-service/src/ear_token/broker.rs), with what the verifier adds.
json
tdx_claims(const Quote &q) {
  return {{"quote",
           {{"header",
             {{"version", "0400"},
              {"att_key_type", "0200"},
              {"tee_type", "81000000"},
              {"reserved", "00000000"},
              {"vendor_id", "939a7233f79c4ca9940a0db3957f0607"},
              {"user_data", "d099bfec0a477aa85a605dceabf2b10800000000"}}},
            {"body",
             {{"tcb_svn", "03000500000000000000000000000000"},
              {"mr_seam", hex96('5')},
              {"mrsigner_seam", hex96('0')},
              {"seam_attributes", "0000000000000000"},
              {"td_attributes", q.debug ? "0100001000000000" : "0000001000000000"},
              {"xfam", "e742060000000000"},
              {"mr_td", q.mr_td},
              {"mr_config_id", hex96('0')},
              {"mr_owner", hex96('0')},
              {"mr_owner_config", hex96('0')},
              {"rtmr_0", q.rtmr[0]},
              {"rtmr_1", q.rtmr[1]},
              {"rtmr_2", q.rtmr[2]},
              {"rtmr_3", q.rtmr[3]},
              {"report_data", std::string(128, '7')}}}}},
          {"td_attributes",
           {{"debug", q.debug},
            {"septve_disable", true},
            {"protection_keys", false},
            {"key_locker", false},
            {"perfmon", false}}},
          {"uefi_event_logs", json::array()},
          {"tcb_status", "UpToDate"},
          {"collateral_expiration_status", "0"}};
}

// One EAR appraisal (submod) with the annotated evidence of `q`.
json
appraisal(const Quote &q, const std::string &status) {
  return {{"ear.status", status},
          {"ear.trustworthiness-vector", {{"configuration", 2}, {"executables", 3}, {"hardware", 2}}},
          {"ear.appraisal-policy-id", "default"},
          {"ear.veraison.annotated-evidence",
           {{"tdx", tdx_claims(q)},
            {"report_data", std::string(128, '7')},
            {"init_data", hex96('0')},
            {"runtime_data_claims", {{"nonce", "n"}, {"tee-pubkey", {{"kty", "EC"}}}}},
            {"init_data_claims", ""}}}};
}

// Trustee's KBS up to main@78962cd4: the EAR token's claims.
json
ear_input(const json &submods) {
  return {{"eat_profile", "tag:github.com,2024:confidential-containers/Trustee"},
          {"iat", 1735689600},
          {"ear.verifier-id", {{"build", "trustee"}, {"developer", "confidential-containers"}}},
          {"submods", submods},
          {"exp", 1735689900},
          {"iss", "CoCo-Attestation-Service"}};
}

// The trust-context KBS (trustee pull request 1226): the CoCo AS's claims
// folded by claims_to_trust_context() (kbs/src/attestation/coco/mod.rs).
json
trust_context_input(const json &submods) {
  json ear = json::object();
  bool all_affirming = true;
  for (const auto &[name, a] : submods.items()) {
    json claims = json::object();
    for (const auto &[k, v] : a.items()) {
      if (k.rfind("ear.", 0) == 0) {
        claims[k] = v;
      }
    }
    ear[name] = claims;
    all_affirming = all_affirming && a.value("ear.status", "") == "affirming";
  }
  return {{"trust_context",
           {{"attestation_summary",
             {{"tee_type", json::array()},
              {"policy_ids", {"default"}},
              {"issuer", "CoCo-Attestation-Service"},
              {"verification_result", all_affirming},
              {"claims", ear}}},
            {"tee_pubkey", {{"kty", "EC"}}},
            {"custom_claims", json::object()}}}};
}

json
resource_data(const std::string &path) {
  json segments = json::array();
  std::stringstream ss(path);
  for (std::string s; std::getline(ss, s, '/');) {
    segments.push_back(s);
  }
  return {{"plugin", "resource"}, {"resource-path", segments}, {"query", json::object()}};
}

// --- The structural reader -------------------------------------------------

class StructuralRego {
public:
  explicit StructuralRego(const std::string &text) {
    std::istringstream in(text);
    std::string line;
    const std::regex head(R"(^([a-z_]+)(\(([a-z_]+)\))? if \{$)");
    const std::regex set_def(R"(^([a-z_]+) := \{(.*)\}$)");
    Rule *current = nullptr;
    while (std::getline(in, line)) {
      std::smatch mt;
      if (current != nullptr) {
        if (line == "}") {
          current = nullptr;
        } else if (line.size() > 1 && line[0] == '\t' && line[1] != '\t') {
          current->body.push_back(line.substr(1));
        } else if (!line.empty()) {
          throw std::runtime_error("unexpected line in a rule body: " + line);
        }
      } else if (line.empty() || line[0] == '#' || line.rfind("import ", 0) == 0 ||
                 line == "package policy" || line == "default allow := false") {
        continue;
      } else if (std::regex_match(line, mt, head)) {
        m_rules.push_back({mt[1], mt[3], {}});
        current = &m_rules.back();
      } else if (std::regex_match(line, mt, set_def)) {
        m_sets[mt[1]] = json::parse("[" + mt[2].str() + "]");
      } else {
        throw std::runtime_error("unexpected top-level line: " + line);
      }
    }
  }

  [[nodiscard]] bool
  allow(const json &data, const json &input) const {
    return holds("allow", std::nullopt, data, input);
  }

  [[nodiscard]] std::vector<std::vector<std::string>>
  bodies(const std::string &name) const {
    std::vector<std::vector<std::string>> out;
    for (const auto &r : m_rules) {
      if (r.name == name) {
        out.push_back(r.body);
      }
    }
    return out;
  }

  [[nodiscard]] const json &
  set(const std::string &name) const {
    return m_sets.at(name);
  }

private:
  struct Rule {
    std::string name;
    std::string param; // empty: a rule, not a function
    std::vector<std::string> body;
  };
  using Env = std::map<std::string, json>;

  // Some rule or function `name` whose body holds (Rego: any definition).
  [[nodiscard]] bool
  holds(const std::string &name, const std::optional<json> &arg, const json &data, const json &input) const {
    bool defined = false;
    for (const auto &r : m_rules) {
      if (r.name != name) {
        continue;
      }
      defined = true;
      if (r.param.empty() != !arg.has_value()) {
        throw std::runtime_error("arity mismatch calling " + name);
      }
      Env env{{"data", data}, {"input", input}};
      if (arg) {
        env[r.param] = *arg;
      }
      if (body_holds(r.body, env)) {
        return true;
      }
    }
    if (!defined) {
      throw std::runtime_error("no rule " + name);
    }
    return false;
  }

  // `a.b["c"].d` against the environment; nullopt when undefined.
  static std::optional<json>
  resolve(const std::string &ref, const Env &env) {
    const std::regex first(R"(^([a-z_]+))");
    std::smatch mt;
    if (!std::regex_search(ref, mt, first)) {
      throw std::runtime_error("not a reference: " + ref);
    }
    const auto root = env.find(mt[1]);
    if (root == env.end()) {
      throw std::runtime_error("unbound variable in " + ref);
    }
    const json *at = &root->second;
    std::string rest = ref.substr(mt[0].length());
    const std::regex dot(R"(^\.([A-Za-z_][A-Za-z0-9_]*))");
    const std::regex index(R"(^\[("(?:[^"\\]|\\.)*")\])");
    while (!rest.empty()) {
      std::string key;
      if (std::regex_search(rest, mt, dot)) {
        key = mt[1];
      } else if (std::regex_search(rest, mt, index)) {
        key = json::parse(mt[1].str()).get<std::string>();
      } else {
        throw std::runtime_error("unsupported reference syntax: " + ref);
      }
      rest = rest.substr(mt[0].length());
      if (!at->is_object() || !at->contains(key)) {
        return std::nullopt;
      }
      at = &(*at)[key];
    }
    return *at;
  }

  [[nodiscard]] bool
  body_holds(const std::vector<std::string> &body, Env env) const {
    const std::regex eq(R"(^(\S+) == (.+)$)");
    const std::regex in_set(R"(^(\S+) in ([a-z_]+)$)");
    const std::regex call(R"(^([a-z_]+)\((.+)\)$)");
    const std::regex rule(R"(^([a-z_]+)$)");
    const std::string comprehension =
        R"(statuses := {s | some _, appraisal in appraisals; s := object.get(appraisal, "ear.status", "none")})";
    for (const auto &line : body) {
      std::smatch mt;
      if (line == comprehension) {
        const auto appraisals = resolve("appraisals", env);
        if (!appraisals || !appraisals->is_object()) {
          return false;
        }
        std::set<std::string> statuses;
        for (const auto &[k, a] : appraisals->items()) {
          const auto s = a.is_object() && a.contains("ear.status") ? a["ear.status"] : json("none");
          statuses.insert(s.dump());
        }
        json out = json::array();
        for (const auto &s : statuses) {
          out.push_back(json::parse(s));
        }
        env["statuses"] = out;
      } else if (line == R"(statuses == {"affirming"})") {
        if (env.at("statuses") != json::array({"affirming"})) {
          return false;
        }
      } else if (std::regex_match(line, mt, eq)) {
        const auto lhs = resolve(mt[1], env);
        if (!lhs || *lhs != json::parse(mt[2].str())) {
          return false;
        }
      } else if (std::regex_match(line, mt, in_set)) {
        const auto lhs = resolve(mt[1], env);
        const auto &members = m_sets.at(mt[2]);
        if (!lhs || std::find(members.begin(), members.end(), *lhs) == members.end()) {
          return false;
        }
      } else if (std::regex_match(line, mt, call)) {
        const auto arg = resolve(mt[2], env);
        if (!arg || !holds(mt[1], arg, env.at("data"), env.at("input"))) {
          return false;
        }
      } else if (std::regex_match(line, mt, rule)) {
        if (!holds(mt[1], std::nullopt, env.at("data"), env.at("input"))) {
          return false;
        }
      } else {
        throw std::runtime_error("unsupported body line: " + line);
      }
    }
    return true;
  }

  std::vector<Rule> m_rules;
  std::map<std::string, json> m_sets;
};

const std::string k_path_a = "default/cvmforge/image-a";

std::string
policy_a() {
  return pipeline::agent::resource_policy(tdx_manifest("image-a", k_path_a), pins_a());
}

} // namespace

TEST(ResourcePolicy, RendersThePinsIntoTheImageRule) {
  const auto rego = policy_a();
  EXPECT_THAT(rego, Not(HasSubstr("{{")));
  const StructuralRego policy(rego);
  EXPECT_EQ(policy.set("image_mr_td"), json::array({hex96('1'), hex96('2')}));
  const auto image = policy.bodies("this_image");
  ASSERT_EQ(image.size(), 1U);
  EXPECT_EQ(image[0],
            (std::vector<std::string>{
                "tdx.td_attributes.debug == false",
                "tdx.quote.body.mr_td in image_mr_td",
                "tdx.quote.body.rtmr_0 == \"" + hex96('a') + "\"",
                "tdx.quote.body.rtmr_1 == \"" + hex96('b') + "\"",
                "tdx.quote.body.rtmr_2 == \"" + hex96('c') + "\"",
                "tdx.quote.body.rtmr_3 == \"" + hex96('0') + "\"",
            }));
  // Every allow rule: this resource, affirmed, and this image, in one of the
  // two input shapes.
  const auto allows = policy.bodies("allow");
  ASSERT_EQ(allows.size(), 2U);
  for (const auto &body : allows) {
    ASSERT_FALSE(body.empty());
    EXPECT_EQ(body.front(), "resource_requested");
    EXPECT_EQ(std::count_if(body.begin(),
                            body.end(),
                            [](const std::string &l) { return l.rfind("this_image(", 0) == 0; }),
              1);
    EXPECT_EQ(std::count_if(body.begin(),
                            body.end(),
                            [](const std::string &l) { return l.rfind("affirmed(", 0) == 0; }),
              1);
  }
  EXPECT_THAT(allows[0],
              testing::Contains(R"(this_image(input.submods.cpu0["ear.veraison.annotated-evidence"].tdx))"));
  EXPECT_THAT(
      allows[1],
      testing::Contains(
          R"(this_image(input.trust_context.attestation_summary.claims.cpu0["ear.veraison.annotated-evidence"].tdx))"));
  EXPECT_THAT(rego,
              HasSubstr("#   RTMR0: pinned\n#   RTMR1: pinned\n#   RTMR2: pinned\n#   RTMR3: pinned\n"));
  EXPECT_THAT(rego, HasSubstr(R"(data["resource-path"] == ["default","cvmforge","image-a"])"));
}

TEST(ResourcePolicy, ReleasesImageAKeyOnlyToImageA) {
  const StructuralRego policy(policy_a());
  const auto data = resource_data(k_path_a);
  for (const auto shape : {0, 1}) {
    const auto in = [&](const json &submods) {
      return shape == 0 ? ear_input(submods) : trust_context_input(submods);
    };
    SCOPED_TRACE(shape == 0 ? "EAR claims" : "trust context");
    const auto a = quote_a();
    EXPECT_TRUE(policy.allow(data, in({{"cpu0", appraisal(a, "affirming")}}))) << "image A";
    auto a_first_mrtd = a;
    a_first_mrtd.mr_td = hex96('1');
    EXPECT_TRUE(policy.allow(data, in({{"cpu0", appraisal(a_first_mrtd, "affirming")}})))
        << "other MRTD candidate";

    EXPECT_FALSE(policy.allow(data, in({{"cpu0", appraisal(quote_b(), "affirming")}}))) << "image B";
    auto zero = a;
    zero.rtmr = {hex96('0'), hex96('0'), hex96('0'), hex96('0')};
    EXPECT_FALSE(policy.allow(data, in({{"cpu0", appraisal(zero, "affirming")}}))) << "all-zero RTMRs";
    for (std::size_t i = 0; i < 4; ++i) {
      auto changed = a;
      changed.rtmr[i] = hex96('f');
      EXPECT_FALSE(policy.allow(data, in({{"cpu0", appraisal(changed, "affirming")}}))) << "RTMR" << i;
    }
    // After the agent's release barrier (RTMR3 extended with its marker) the
    // same TD gets nothing again.
    auto after_release = a;
    after_release.rtmr[3] = "6d" + std::string(94, '5');
    EXPECT_FALSE(policy.allow(data, in({{"cpu0", appraisal(after_release, "affirming")}})))
        << "RTMR3 extended";
    auto other_mrtd = a;
    other_mrtd.mr_td = hex96('3');
    EXPECT_FALSE(policy.allow(data, in({{"cpu0", appraisal(other_mrtd, "affirming")}}))) << "MRTD";
    auto upper = a;
    upper.rtmr[1] = std::string(96, 'B');
    EXPECT_FALSE(policy.allow(data, in({{"cpu0", appraisal(upper, "affirming")}}))) << "upper-case hex";
    auto debug = a;
    debug.debug = true;
    EXPECT_FALSE(policy.allow(data, in({{"cpu0", appraisal(debug, "affirming")}}))) << "debug TD";

    for (const char *status : {"warning", "contraindicated", "none"}) {
      EXPECT_FALSE(policy.allow(data, in({{"cpu0", appraisal(a, status)}}))) << status;
    }
    EXPECT_FALSE(
        policy.allow(data, in({{"cpu0", appraisal(a, "affirming")}, {"gpu0", appraisal(a, "warning")}})))
        << "a device not affirmed";
    EXPECT_FALSE(
        policy.allow(resource_data("default/cvmforge/image-b"), in({{"cpu0", appraisal(a, "affirming")}})))
        << "another resource";
    auto plugin = data;
    plugin["plugin"] = "sample";
    EXPECT_FALSE(policy.allow(plugin, in({{"cpu0", appraisal(a, "affirming")}}))) << "another plugin";
  }
  // A trust context that says "not verified" releases nothing, whatever its claims.
  auto tc = trust_context_input({{"cpu0", appraisal(quote_a(), "affirming")}});
  tc["trust_context"]["attestation_summary"]["verification_result"] = false;
  EXPECT_FALSE(policy.allow(data, tc));
  // Sample evidence (the INSECURE-TEST tee) gets nothing from a TDX policy.
  json sample = appraisal(quote_a(), "affirming");
  sample["ear.veraison.annotated-evidence"].erase("tdx");
  sample["ear.veraison.annotated-evidence"]["sample"] = {{"svn", "1"}, {"launch_digest", "abcde"}};
  EXPECT_FALSE(policy.allow(data, ear_input({{"cpu0", sample}})));
}

TEST(ResourcePolicy, SelectedPageAddOrderPinsOneMrtd) {
  auto pins = pins_a();
  pins.mrtd = {hex96('2')};
  const StructuralRego policy(pipeline::agent::resource_policy(tdx_manifest("image-a", k_path_a), pins));
  EXPECT_EQ(policy.set("image_mr_td"), json::array({hex96('2')}));
  auto q = quote_a();
  EXPECT_TRUE(policy.allow(resource_data(k_path_a), ear_input({{"cpu0", appraisal(q, "affirming")}})));
  q.mr_td = hex96('1');
  EXPECT_FALSE(policy.allow(resource_data(k_path_a), ear_input({{"cpu0", appraisal(q, "affirming")}})));
}

TEST(ResourcePolicy, AnRtmrWithoutReferenceValueIsNamedAndNotChecked) {
  auto pins = pins_a();
  pins.rtmr.erase(0);
  pins.not_pinned[0] = "event boot.variables not predicted: no boot variables";
  const auto rego = pipeline::agent::resource_policy(tdx_manifest("image-a", k_path_a), pins);
  EXPECT_THAT(
      rego,
      HasSubstr("#   RTMR0: NOT PINNED: it has no reference value (event boot.variables not predicted: no "
                "boot variables); any value is accepted\n"));
  const StructuralRego policy(rego);
  // debug, MRTD, RTMR1, RTMR2, RTMR3: no line for RTMR0.
  EXPECT_EQ(policy.bodies("this_image")[0].size(), 5U);
  auto q = quote_a();
  q.rtmr[0] = hex96('9');
  EXPECT_TRUE(policy.allow(resource_data(k_path_a), ear_input({{"cpu0", appraisal(q, "affirming")}})));
  q.rtmr[1] = hex96('9');
  EXPECT_FALSE(policy.allow(resource_data(k_path_a), ear_input({{"cpu0", appraisal(q, "affirming")}})));
}

TEST(ResourcePolicy, TdxWithoutReferenceValuesIsRefused) {
  const auto m = tdx_manifest("image-a", k_path_a);
  const auto kind_of = [&](const std::optional<pipeline::agent::PolicyPins> &pins) {
    try {
      (void)pipeline::agent::resource_policy(m, pins);
    } catch (const Error &e) {
      return std::make_pair(e.kind(), std::string(e.what()));
    }
    return std::make_pair(ErrorKind::usage, std::string("no error"));
  };
  auto [kind, what] = kind_of(std::nullopt);
  EXPECT_EQ(kind, ErrorKind::input);
  EXPECT_THAT(what, HasSubstr("measurement.profile"));

  auto no_mrtd = pins_a();
  no_mrtd.mrtd.clear();
  EXPECT_EQ(kind_of(no_mrtd).first, ErrorKind::input);

  // MRTD alone names the firmware: refused, with the reasons.
  auto no_rtmr = pins_a();
  no_rtmr.rtmr.clear();
  no_rtmr.not_pinned = {{1, "event kernel not predicted: x"}, {2, "event linux.initrd not predicted: y"}};
  std::tie(kind, what) = kind_of(no_rtmr);
  EXPECT_EQ(kind, ErrorKind::input);
  EXPECT_THAT(what,
              HasSubstr("RTMR1: event kernel not predicted: x; RTMR2: event linux.initrd not predicted: y"));

  // Values go into the policy text: only register hex is accepted.
  for (const std::string &bad :
       {std::string(95, 'a'), std::string(96, 'A'), hex96('a') + "\"", std::string("x")}) {
    auto p = pins_a();
    p.rtmr[1] = bad;
    EXPECT_EQ(kind_of(p).first, ErrorKind::internal) << bad;
    p = pins_a();
    p.mrtd.push_back(bad);
    EXPECT_EQ(kind_of(p).first, ErrorKind::internal) << bad;
  }
}

TEST(ResourcePolicy, BuildRefusesTdxAttestationWithoutMeasurementProfile) {
  auto m = tdx_manifest("image-a", k_path_a);
  EXPECT_NO_THROW(pipeline::agent::require_policy_reference_values(m));
  m.measurement.profile.clear();
  try {
    pipeline::agent::require_policy_reference_values(m);
    ADD_FAILURE() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::input);
    EXPECT_THAT(e.what(), HasSubstr("needs measurement.profile"));
  }
  m.attestation.tee = manifest::Tee::sample;
  EXPECT_NO_THROW(pipeline::agent::require_policy_reference_values(m));
  m.attestation.tee = manifest::Tee::tdx;
  m.attestation.enabled = false;
  EXPECT_NO_THROW(pipeline::agent::require_policy_reference_values(m));
}

TEST(ResourcePolicy, PinsComeFromTheReferenceValues) {
  measure::Prediction p;
  p.mrtd.single_pass.fill(std::byte{0x11});
  p.mrtd.two_pass.fill(std::byte{0x22});
  crypto::Sha384 r{};
  r.fill(std::byte{0xab});
  p.rtmr = {r, std::nullopt, r, r};
  measure::PredictedEvent missing;
  missing.rtmr = 1;
  missing.label = "shim";
  missing.not_predicted_reason = "the shim image was not supplied";
  p.events.push_back(missing);

  auto pins = pipeline::agent::policy_pins(p);
  EXPECT_EQ(pins.mrtd, (std::vector<std::string>{std::string(96, '1'), std::string(96, '2')}));
  std::string ab;
  for (int i = 0; i < 48; ++i) {
    ab += "ab";
  }
  // RTMR3 too, by default: the release barrier only closes the window if the
  // policy checks it.
  EXPECT_EQ(pins.rtmr, (std::map<int, std::string>{{0, ab}, {2, ab}, {3, ab}}));
  EXPECT_EQ(pins.not_pinned,
            (std::map<int, std::string>{{1, "event shim not predicted: the shim image was not supplied"}}));

  p.selected_page_add_order = measure::PageAddOrder::two_pass;
  pins = pipeline::agent::policy_pins(p, std::array<int, 2>{2, 3});
  EXPECT_EQ(pins.mrtd, (std::vector<std::string>{std::string(96, '2')}));
  EXPECT_EQ(pins.rtmr, (std::map<int, std::string>{{2, ab}, {3, ab}}));
  EXPECT_TRUE(pins.not_pinned.empty());

  // The same from the JSON the build writes as <output>.reference.json.
  const auto doc = measure::prediction_to_json(p);
  EXPECT_EQ(pipeline::agent::policy_pins(doc, std::array<int, 2>{2, 3}).rtmr, pins.rtmr);
  EXPECT_THROW((void)pipeline::agent::policy_pins(json::object()), Error);
  EXPECT_THROW((void)pipeline::agent::policy_pins(json::parse("x", nullptr, false)), Error);
  EXPECT_THROW((void)pipeline::agent::policy_pins(p, std::array<int, 1>{4}), Error);
}
