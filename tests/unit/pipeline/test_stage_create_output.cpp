// SPDX-License-Identifier: Apache-2.0
// Stage create-output against fakes.
#include "lib/pipeline/ids.hpp"
#include "tests/unit/pipeline/stage_fixture.hpp"

#include <gmock/gmock.h>

using namespace cvm;
using namespace cvm::pipeline::test;
using ::testing::HasSubstr;

namespace {

// A launched appliance as libguestfs gives it: the base and an empty output disk.
std::unique_ptr<FakeGuest>
fresh_appliance() {
  auto g = std::make_unique<FakeGuest>(guestfs::test::debian_guest());
  g->add_disk(k_out_disk);
  return g;
}

} // namespace

TEST_F(StageTest, CreateOutputPartitionsTheNewDiskWithSeededGuids) {
  context("reproducibility: {seed: web-01}\n");
  key_prepared();
  launcher->appliances.push_back(fresh_appliance());
  auto *g = launcher->appliances.front().get();
  plan::CreateOutput::run(*ctx);

  ASSERT_EQ(launcher->created.size(), 1U);
  EXPECT_EQ(launcher->created[0].first, ctx->output_tmp);
  EXPECT_EQ(static_cast<std::uint64_t>(launcher->created[0].second), ctx->layout.disk_size);
  ASSERT_EQ(launcher->launches.size(), 1U);
  const auto &drives = launcher->launches[0].drives;
  ASSERT_EQ(drives.size(), 2U);
  EXPECT_EQ(drives[0].path, m->base.path);
  EXPECT_EQ(drives[0].options.read_only, guestfs::ReadOnly::yes);
  EXPECT_EQ(drives[1].path, ctx->output_tmp);
  EXPECT_EQ(drives[1].options.read_only, guestfs::ReadOnly::no);
  EXPECT_TRUE(drives[1].options.discard);

  EXPECT_EQ(ctx->out_disk, k_out_disk);
  EXPECT_EQ(ctx->out_esp, k_out_esp);
  EXPECT_EQ(ctx->out_boot, k_out_boot);
  EXPECT_EQ(ctx->out_root, k_out_root);
  EXPECT_EQ(g->part_get_parttype(k_out_disk), "gpt");
  EXPECT_EQ(g->part_get_gpt_type(k_out_disk, 1), ctx->layout.esp.type_guid);
  EXPECT_EQ(g->part_get_gpt_type(k_out_disk, 3), ctx->layout.root.type_guid);
  EXPECT_EQ(g->disk_guids.at(k_out_disk), "f2d4cd9d-c5a9-8ad1-9c18-4fb57bcaf34b");
  EXPECT_EQ(g->partition_guids.at(k_out_root),
            pipeline::uuid_from_seed("web-01", pipeline::gpt_partition_purpose("root")));
  EXPECT_EQ(report()["partitions"].size(), 3U);
  EXPECT_EQ(report()["output"]["virtual_size"], ctx->layout.disk_size);
}

TEST_F(StageTest, CreateOutputLeavesGptGuidsRandomWithoutASeed) {
  context();
  key_prepared();
  launcher->appliances.push_back(fresh_appliance());
  auto *g = launcher->appliances.front().get();
  plan::CreateOutput::run(*ctx);
  EXPECT_TRUE(g->disk_guids.empty());
  EXPECT_TRUE(g->partition_guids.empty());
}

TEST_F(StageTest, CreateOutputPassesALaunchFailureOn) {
  context();
  key_prepared();
  launcher->fail_launch = Error(ErrorKind::guest, "launch: appliance did not start");
  const auto e = error_of([&] { plan::CreateOutput::run(*ctx); });
  EXPECT_EQ(e.kind(), ErrorKind::guest);
  EXPECT_THAT(e.what(), HasSubstr("did not start"));
  EXPECT_FALSE(ctx->guest);
}

TEST_F(StageTest, CreateOutputAttachesEveryDataVolumeAsASparseDiskOfItsOwn) {
  context("attestation: {kbs_urls: ['http://10.0.2.100:8080'], tee: sample}\n"
          "volumes:\n"
          "  - {name: data, mount: /srv/data, size: 256M}\n"
          "  - {name: logs, mount: /var/log/app, size: 1G, required: false}\n");
  key_prepared();
  for (const auto &v : m->volumes) {
    ctx->volumes.emplace_back().spec = &v;
  }
  auto g = fresh_appliance();
  g->add_disk("/dev/sdc");
  g->add_disk("/dev/sdd");
  launcher->appliances.push_back(std::move(g));
  plan::CreateOutput::run(*ctx);

  ASSERT_EQ(launcher->created.size(), 3U);
  const auto &drives = launcher->launches[0].drives;
  ASSERT_EQ(drives.size(), 4U);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto &vb = ctx->volumes[i];
    EXPECT_EQ(vb.output_tmp.parent_path(), m->volumes[i].output.parent_path());
    EXPECT_THAT(vb.output_tmp.filename().string(), HasSubstr(".partial-"));
    EXPECT_EQ(launcher->created[1 + i].first, vb.output_tmp);
    EXPECT_EQ(static_cast<std::uint64_t>(launcher->created[1 + i].second), m->volumes[i].size_bytes);
    EXPECT_EQ(drives[2 + i].path, vb.output_tmp);
    EXPECT_EQ(drives[2 + i].options.read_only, guestfs::ReadOnly::no);
  }
  EXPECT_EQ(ctx->volumes[0].disk, "/dev/sdc");
  EXPECT_EQ(ctx->volumes[1].disk, "/dev/sdd");
}
