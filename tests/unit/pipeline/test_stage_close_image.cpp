// SPDX-License-Identifier: Apache-2.0
// Stage close-image against fakes.
#include "tests/unit/pipeline/stage_fixture.hpp"

#include <gmock/gmock.h>

using namespace cvm;
using namespace cvm::pipeline::test;
using ::testing::HasSubstr;

namespace {

struct CloseImage : StageTest {
  FakeGuest *g = nullptr;
  std::shared_ptr<FakeGuest::Journal> journal;

  void
  SetUp() override {
    context();
    g = &output_created();
    journal = g->journal;
    g->cryptsetup_open(k_out_root, secret("build-passphrase"), "cvmroot");
    ctx->mapper_device = "/dev/mapper/cvmroot";
    ctx->mounts = pipeline::OutputMounts::root;
    ctx->final_header = ctx->work->path() / "final.luks2";
    fs::write_file_atomic(ctx->final_header, std::string_view("FINAL HEADER"));
    g->devices[k_out_root].raw = {
        std::byte{'B'}, std::byte{'U'}, std::byte{'I'}, std::byte{'L'}, std::byte{'D'}};
  }
};

} // namespace

TEST_F(CloseImage, SwapsInTheFinalHeaderAfterClosingAndShutsDownChecked) {
  plan::CloseImage::run(*ctx);
  // The appliance is gone: what it did is in the journal.
  EXPECT_FALSE(ctx->guest);
  EXPECT_TRUE(ctx->mapper_device.empty());
  EXPECT_EQ(ctx->mounts, pipeline::OutputMounts::none);
  EXPECT_TRUE(journal->shut_down);
  const auto &calls = journal->calls;
  const auto close = std::find(calls.begin(), calls.end(), "cryptsetup_close /dev/mapper/cvmroot");
  const auto upload = std::find_if(calls.begin(), calls.end(), [&](const std::string &c) {
    return c == "upload " + ctx->final_header.string() + " " + k_out_root;
  });
  ASSERT_NE(close, calls.end());
  ASSERT_NE(upload, calls.end());
  EXPECT_LT(close, upload); // the volume is closed before its header changes
  EXPECT_EQ(calls.back(), "shutdown");
}

TEST_F(CloseImage, AFailedShutdownFailsTheBuild) {
  g->fail_shutdown = true;
  const auto e = error_of([&] { plan::CloseImage::run(*ctx); });
  EXPECT_EQ(e.kind(), ErrorKind::guest);
  EXPECT_THAT(e.what(), HasSubstr("shutdown"));
  EXPECT_FALSE(journal->shut_down);
}
