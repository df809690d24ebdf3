// SPDX-License-Identifier: Apache-2.0
// Stage format-luks against fakes.
#include "lib/luks/header.hpp"
#include "tests/unit/pipeline/stage_fixture.hpp"

#include <gmock/gmock.h>

using namespace cvm;
using namespace cvm::pipeline::test;
using ::testing::HasSubstr;

TEST_F(StageTest, FormatLuksWritesBothHeadersAndPutsTheBuildHeaderOnTheRoot) {
  context("luks: {recovery: {enabled: true}, label: data-root}\n");
  auto &g = output_created();
  ctx->recovery_passphrase = secret("correct horse battery staple");
  plan::FormatLuks::run(*ctx);

  ASSERT_EQ(luks->format_calls.size(), 2U);
  const auto &final_call = luks->format_calls[0];
  const auto &build_call = luks->format_calls[1];
  EXPECT_EQ(final_call.header_file, ctx->final_header);
  EXPECT_TRUE(final_call.with_recovery);
  EXPECT_EQ(final_call.params.uuid, ctx->luks_uuid);
  EXPECT_EQ(final_call.params.label, "data-root");
  EXPECT_EQ(final_call.params.data_offset, ctx->layout.luks_data_offset);
  EXPECT_EQ(build_call.header_file, ctx->build_header);
  EXPECT_FALSE(build_call.with_recovery); // the build header opens with the build passphrase only
  EXPECT_EQ(build_call.params.uuid, ctx->luks_uuid);

  // The appliance got the build header, byte for byte, not the final one.
  EXPECT_EQ(g.devices[k_out_root].raw, fs::read_file(ctx->build_header));
  EXPECT_NE(g.devices[k_out_root].raw, fs::read_file(ctx->final_header));
  EXPECT_EQ(report()["luks"]["uuid"], ctx->luks_uuid);
}

TEST_F(StageTest, FormatLuksFailureUploadsNothing) {
  context();
  auto &g = output_created();
  luks->fail_next_format = Error(ErrorKind::crypto, "crypt_format: Invalid argument");
  const auto e = error_of([&] { plan::FormatLuks::run(*ctx); });
  EXPECT_EQ(e.kind(), ErrorKind::crypto);
  EXPECT_TRUE(g.devices[k_out_root].raw.empty());
  EXPECT_THAT(g.journal->calls, ::testing::Not(::testing::Contains(HasSubstr("upload"))));
}
