// SPDX-License-Identifier: Apache-2.0
// Stage inject-agent against fakes: the test agent and its initramfs hooks
// in the new root, pinned to the final LUKS2 header format-luks made.
#include "tests/unit/pipeline/fake_bundle.hpp"
#include "tests/unit/pipeline/stage_fixture.hpp"

#include <gmock/gmock.h>
#include <nlohmann/json.hpp>

#include <string>

using namespace cvm;
using namespace cvm::pipeline::test;
using ::testing::HasSubstr;

namespace {

constexpr const char *k_attested = "attestation:\n"
                                   "  tee: sample\n"
                                   "  kbs_urls: [\"http://10.0.2.100:8080\"]\n"
                                   "  resource_path: default/cvmforge/stage-test\n";
constexpr const char *k_agent_dir = "/usr/lib/cvmforge-agent/cvmforge-agent-test";

struct InjectAgent : StageTest {
  FakeBundle bundle;

  // The new root after copy-root, for an attested manifest.
  FakeGuest &
  prepare() {
    options.agent_dir = bundle.dir.path();
    context(k_attested);
    return root_copied();
  }

  static std::string
  in_new_root(const std::string &path) {
    return std::string(pipeline::k_dst) + path;
  }
};

} // namespace

TEST_F(InjectAgent, InstallsTheTestAgentPinnedToTheFinalHeader) {
  bundle.make("cvmforge-agent-test");
  auto &g = prepare();
  plan::InjectAgent::run(*ctx);

  // The bundle, verbatim, in the encrypted root (not on the old one).
  EXPECT_EQ(g.read_text(in_new_root(std::string(k_agent_dir) + "/cvmforge-agent-test")), "ELF");
  EXPECT_EQ(g.read_text(in_new_root(std::string(k_agent_dir) + "/lib/libc.so.6")), "libc");
  EXPECT_NE(g.devices["/dev/mapper/cvmroot"].tree.find(std::string(k_agent_dir) + "/MANIFEST"), nullptr);
  EXPECT_EQ(g.devices["/dev/sda2"].tree.find(k_agent_dir), nullptr);

  const auto config = nlohmann::json::parse(g.read_text(in_new_root("/etc/cvmforge/agent.json")));
  EXPECT_EQ(config["tee"], "sample");
  EXPECT_EQ(config["resource"], "default/cvmforge/stage-test");
  EXPECT_EQ(config["key_size"], ctx->unlock_key.size());
  EXPECT_EQ(config["luks"]["device"], "/dev/disk/by-uuid/" + ctx->luks_uuid);
  const auto policy =
      nlohmann::json::parse(g.read_text(in_new_root("/etc/cvmforge/luks-header-policy.json")));
  EXPECT_THAT(policy.dump(), HasSubstr(ctx->luks_uuid));
  EXPECT_THAT(g.read_text(in_new_root("/etc/cvmforge/INSECURE-TEST")), HasSubstr("INSECURE-TEST"));
  // initramfs-tools integration.
  EXPECT_TRUE(g.is_file(in_new_root("/etc/initramfs-tools/hooks/cvmforge")));
  EXPECT_THAT(g.read_text(in_new_root("/etc/initramfs-tools/scripts/local-top/cvmforge")),
              HasSubstr(ctx->luks_uuid));

  ASSERT_TRUE(ctx->agent);
  EXPECT_EQ(ctx->agent->flavour, "cvmforge-agent-test");
  EXPECT_TRUE(ctx->agent->insecure_test);
  EXPECT_EQ(ctx->agent->kbs["resource_path"], "default/cvmforge/stage-test");
  const auto a = report()["attestation"];
  EXPECT_EQ(a["agent"], "cvmforge-agent-test");
  EXPECT_EQ(a["tee"], "sample");
  EXPECT_EQ(a["insecure_test"], true);
  EXPECT_EQ(a["luks_device"], "/dev/disk/by-uuid/" + ctx->luks_uuid);
  EXPECT_EQ(a["initramfs_files"],
            nlohmann::ordered_json(
                {"/etc/initramfs-tools/hooks/cvmforge", "/etc/initramfs-tools/scripts/local-top/cvmforge"}));
  EXPECT_EQ(report()["insecure_test_marker"], "INSECURE-TEST");
}

TEST_F(InjectAgent, AMissingBundleStopsBeforeAnythingIsWritten) {
  auto &g = prepare();
  const auto e = error_of([&] { plan::InjectAgent::run(*ctx); });
  EXPECT_EQ(e.kind(), ErrorKind::input);
  EXPECT_THAT(e.what(), HasSubstr("the cvmforge-agent-test agent bundle was not found"));
  EXPECT_THAT(e.what(), HasSubstr(bundle.dir.path().string()));
  EXPECT_FALSE(g.exists(in_new_root("/etc/cvmforge/agent.json")));
  EXPECT_FALSE(ctx->agent);
  EXPECT_FALSE(report().contains("attestation"));
}

TEST_F(InjectAgent, AFinalHeaderOfAnotherVolumeIsAnInternalError) {
  bundle.make("cvmforge-agent-test");
  auto &g = prepare();
  const std::string header_uuid = ctx->luks_uuid;
  ctx->luks_uuid = "00000000-0000-4000-8000-000000000000";
  const auto e = error_of([&] { plan::InjectAgent::run(*ctx); });
  EXPECT_EQ(e.kind(), ErrorKind::internal);
  EXPECT_THAT(e.what(),
              HasSubstr("final header UUID " + header_uuid +
                        " is not the build's LUKS UUID 00000000-0000-4000-8000-000000000000"));
  EXPECT_FALSE(g.exists(in_new_root(k_agent_dir)));
  EXPECT_FALSE(ctx->agent);
}
