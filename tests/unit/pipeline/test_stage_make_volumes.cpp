// SPDX-License-Identifier: Apache-2.0
// Stage make-volumes against fakes: each data volume gets its own two LUKS2
// headers (build and final, one volume key), its filesystem through the
// volume opened with the build header, its seed as a tar, and the final
// header over the build one once it is closed.
#include "lib/luks/header.hpp"
#include "lib/luks/policy.hpp"
#include "lib/pipeline/agent_install.hpp"
#include "tests/unit/pipeline/stage_fixture.hpp"

#include <gmock/gmock.h>

#include <algorithm>

using namespace cvm;
using namespace cvm::pipeline::test;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

constexpr const char *k_volumes = R"(attestation:
  kbs_urls: ["http://10.0.2.100:8080"]
  tee: sample
volumes:
  - name: data
    mount: /srv/data
    size: 256M
    source: seed
  - name: cache
    mount: /srv/cache
    filesystem: xfs
    size: 320M
    required: false
)";

struct MakeVolumes : StageTest {
  // create-output with two volume disks (/dev/sdc, /dev/sdd) and the
  // volumes' keys and identifiers as prepare-key makes them.
  FakeGuest &
  volumes_attached() {
    std::filesystem::create_directories(dir.path() / "seed/sub");
    fs::write_file_atomic(dir.path() / "seed/hello.txt", std::string_view("seeded\n"));
    fs::write_file_atomic(dir.path() / "seed/sub/nested.txt", std::string_view("nested\n"));
    context(k_volumes);
    FakeGuest &g = output_created();
    const char *disks[] = {"/dev/sdc", "/dev/sdd"};
    for (std::size_t i = 0; i < m->volumes.size(); ++i) {
      auto &vb = ctx->volumes.emplace_back();
      vb.spec = &m->volumes[i];
      vb.unlock_key = secret(std::string(64, static_cast<char>('a' + i)));
      vb.volume_key = secret(std::string(64, static_cast<char>('k' + i)));
      vb.build_passphrase = secret("build-" + m->volumes[i].name);
      vb.luks_uuid = fmt::format("3333333{}-3333-4333-8333-333333333333", i);
      vb.fs_uuid = fmt::format("4444444{}-4444-4444-8444-444444444444", i);
      vb.disk = disks[i];
      g.add_disk(disks[i]);
      g.luks_keys[disks[i]] = "build-" + m->volumes[i].name;
    }
    return g;
  }
};

TEST_F(MakeVolumes, EachVolumeIsFormattedFilledClosedAndGivenItsFinalHeader) {
  FakeGuest &g = volumes_attached();
  const auto journal = g.journal;
  plan::MakeVolumes::run(*ctx);

  // Two headers per volume, sharing the UUID; the final one's keyslot 0 is
  // the volume's own KBS key.
  ASSERT_EQ(luks->format_calls.size(), 4U);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto &vb = ctx->volumes[i];
    const auto &final_call = luks->format_calls[2 * i];
    const auto &build_call = luks->format_calls[2 * i + 1];
    EXPECT_EQ(final_call.params.uuid, vb.luks_uuid);
    EXPECT_EQ(build_call.params.uuid, vb.luks_uuid);
    EXPECT_EQ(final_call.params.label, "cvmforge-" + vb.spec->name);
    EXPECT_EQ(final_call.params.data_offset + final_call.params.data_size, vb.spec->size_bytes);
    EXPECT_FALSE(final_call.with_recovery);
    // The policy pins the final header, as the root's does.
    const auto policy = luks::policy_from_json(vb.header_policy_json);
    EXPECT_EQ(policy.uuid, vb.luks_uuid);
    ASSERT_TRUE(vb.header_info.has_value());
    ASSERT_TRUE(vb.usage.has_value());
  }

  const auto &calls = journal->calls;
  const auto at = [&calls](const std::string &prefix) {
    const auto it =
        std::find_if(calls.begin(), calls.end(), [&](const std::string &c) { return c.starts_with(prefix); });
    return it == calls.end() ? -1 : static_cast<int>(it - calls.begin());
  };
  const auto &data = ctx->volumes[0];
  const int build_upload = at("upload " + data.build_header.string() + " /dev/sdc");
  const int opened = at("cryptsetup_open /dev/sdc cvmvol-data");
  const int unpacked = at("unpack_tree ");
  const int closed = at("cryptsetup_close /dev/mapper/cvmvol-data");
  const int final_upload = at("upload " + data.final_header.string() + " /dev/sdc");
  ASSERT_GE(build_upload, 0);
  EXPECT_LT(build_upload, opened);
  EXPECT_LT(opened, unpacked);
  EXPECT_LT(unpacked, closed);
  EXPECT_LT(closed, final_upload) << "the final header goes on only after the volume is closed";

  // ext4 for data (seeded, the tar unpacked at its root), xfs for cache with
  // the seed-derived UUID set after mkfs.
  const auto &data_fs = g.devices["/dev/mapper/cvmvol-data"];
  EXPECT_EQ(data_fs.type, "ext4");
  EXPECT_EQ(data_fs.uuid, data.fs_uuid);
  EXPECT_NE(data_fs.tree.find("/.tar-in"), nullptr);
  const auto &cache_fs = g.devices["/dev/mapper/cvmvol-cache"];
  EXPECT_EQ(cache_fs.type, "xfs");
  EXPECT_EQ(cache_fs.uuid, ctx->volumes[1].fs_uuid);
  EXPECT_EQ(cache_fs.tree.find("/.tar-in"), nullptr) << "no source, nothing unpacked";
  EXPECT_EQ(g.devices["/dev/sdd"].raw, fs::read_file(ctx->volumes[1].final_header));
  // Nothing of the volumes stays open or mounted in the appliance.
  EXPECT_TRUE(g.devices["/dev/sdc"].opened_as.empty());
  EXPECT_TRUE(g.devices["/dev/sdd"].opened_as.empty());

  const auto r = report();
  ASSERT_EQ(r["volumes"].size(), 2U);
  EXPECT_EQ(r["volumes"][0]["name"], "data");
  EXPECT_EQ(r["volumes"][0]["luks_device"], "/dev/disk/by-uuid/" + data.luks_uuid);
  EXPECT_EQ(r["volumes"][1]["filesystem"]["type"], "xfs");
  EXPECT_EQ(r["volumes"][1]["required"], false);
}

TEST_F(MakeVolumes, ASeedLargerThanTheVolumeIsRefusedWithTheManifestLine) {
  FakeGuest &g = volumes_attached();
  // Room for one byte only; the seed has 14.
  g.devices["/dev/mapper/cvmvol-data"].usage = {4096, 4096, 1, 4095};
  const auto e = error_of([&] { plan::MakeVolumes::run(*ctx); });
  EXPECT_EQ(e.kind(), ErrorKind::input);
  EXPECT_THAT(e.what(), HasSubstr("manifest.yaml:"));
  EXPECT_THAT(e.what(), HasSubstr("more than volume data has room for"));
  EXPECT_THAT(g.journal->calls, ::testing::Not(::testing::Contains(HasSubstr("unpack_tree"))));
}

TEST_F(MakeVolumes, AVolumeThatDoesNotOpenStopsTheBuild) {
  FakeGuest &g = volumes_attached();
  g.luks_keys["/dev/sdc"] = "another passphrase";
  const auto e = error_of([&] { plan::MakeVolumes::run(*ctx); });
  EXPECT_EQ(e.kind(), ErrorKind::guest);
  EXPECT_THAT(e.what(), HasSubstr("No key available"));
}

TEST_F(MakeVolumes, TheAgentGetsEveryVolumeWithItsPinnedHeader) {
  volumes_attached();
  plan::MakeVolumes::run(*ctx);
  std::vector<pipeline::agent::VolumeAgent> va;
  for (const auto &vb : ctx->volumes) {
    va.push_back({vb.spec, vb.luks_uuid, vb.header_policy_json});
  }
  const auto config = nlohmann::json::parse(pipeline::agent::agent_config_json(*m, ctx->luks_uuid, 64, va));
  ASSERT_EQ(config["volumes"].size(), 2U);
  EXPECT_EQ(config["volumes"][0]["device"], "/dev/disk/by-uuid/" + ctx->volumes[0].luks_uuid);
  EXPECT_EQ(config["volumes"][0]["resource"], m->volumes[0].resource_path);
  EXPECT_EQ(config["volumes"][0]["header_policy"], "/etc/cvmforge/volumes/data.luks-header-policy.json");
  EXPECT_EQ(config["volumes"][0]["header_copy"], "/run/cvmforge/volumes/data.luks2");
  EXPECT_EQ(config["volumes"][0]["required"], true);
  EXPECT_EQ(config["volumes"][1]["required"], false);
  EXPECT_EQ(config["volumes"][1]["mapper_name"], "cvmvol-cache");
}

TEST_F(MakeVolumes, PlanAndResourcePolicyCoverEveryVolume) {
  volumes_attached();
  std::vector<std::string> secrets;
  for (const auto &f : plan::output_files(*m)) {
    if (f.secret) {
      secrets.push_back(f.path.filename().string());
    }
  }
  EXPECT_THAT(secrets, ElementsAre("image.qcow2.key", "image.data.qcow2.key", "image.cache.qcow2.key"));
  const std::string rego = pipeline::agent::resource_policy(*m, std::nullopt);
  EXPECT_THAT(rego, HasSubstr(R"(data["resource-path"] == ["default","cvmforge","stage-test"])"));
  EXPECT_THAT(rego, HasSubstr(R"(data["resource-path"] == ["default","cvmforge","stage-test-data"])"));
  EXPECT_THAT(rego, HasSubstr(R"(data["resource-path"] == ["default","cvmforge","stage-test-cache"])"));
  const auto kbs = pipeline::agent::kbs_info(*m, pipeline::agent::flavour_for(m->attestation));
  ASSERT_EQ(kbs["volumes"].size(), 2U);
  EXPECT_EQ(kbs["volumes"][1]["resource_path"], "default/cvmforge/stage-test-cache");
  EXPECT_THAT(kbs["volumes"][1]["upload"].get<std::string>(), HasSubstr("image.cache.qcow2.key"));
}

} // namespace
