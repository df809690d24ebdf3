// SPDX-License-Identifier: Apache-2.0
// Stage prepare-key against fakes.
#include "lib/pipeline/ids.hpp"
#include "tests/unit/pipeline/stage_fixture.hpp"

#include <gmock/gmock.h>

using namespace cvm;
using namespace cvm::pipeline::test;
using ::testing::HasSubstr;

TEST_F(StageTest, PrepareKeyGeneratesKeysAndSeededIdentifiers) {
  auto &c = context("reproducibility: {seed: web-01}\nluks: {recovery: {enabled: true}}\n");
  plan::PrepareKey::run(c);
  EXPECT_EQ(c.unlock_key.size(), 64U);
  EXPECT_EQ(c.volume_key.size(), 64U);
  EXPECT_FALSE(c.unlock_key.equals(c.volume_key.span()));
  EXPECT_FALSE(c.recovery_passphrase.empty());
  EXPECT_FALSE(c.build_passphrase.empty());
  EXPECT_EQ(c.luks_uuid, "b6824533-d4fb-809c-bf7e-d78d3cbccac9");
  EXPECT_EQ(c.root_fs_uuid, pipeline::uuid_from_seed("web-01", pipeline::purpose::root_fs));
  EXPECT_EQ(pipeline::build_report(c)["key"]["bytes"], 64);
  EXPECT_EQ(pipeline::build_report(c)["key"]["source"], "generate");
}

TEST_F(StageTest, PrepareKeyRefusesAKeyFileOfTheWrongSize) {
  fs::write_file_atomic(dir.path() / "disk.key", std::string_view("short"), 0600);
  auto &c = context("key: {source: file, file: disk.key}\n");
  const auto e = error_of([&] { plan::PrepareKey::run(c); });
  EXPECT_EQ(e.kind(), ErrorKind::input);
  EXPECT_THAT(e.what(), HasSubstr("holds 5 bytes, but key.bytes is 64"));
}

TEST_F(StageTest, PrepareKeyRefusesAShortRecoveryPassphrase) {
  fs::write_file_atomic(dir.path() / "recovery.txt", std::string_view("tooshort\n"), 0600);
  auto &c = context("luks: {recovery: {enabled: true, passphrase_file: recovery.txt}}\n");
  const auto e = error_of([&] { plan::PrepareKey::run(c); });
  EXPECT_EQ(e.kind(), ErrorKind::input);
  EXPECT_THAT(e.what(), HasSubstr("shorter than 12 characters"));
}
