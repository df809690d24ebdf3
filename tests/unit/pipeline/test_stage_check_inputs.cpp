// SPDX-License-Identifier: Apache-2.0
// Stage check-inputs against fakes.
#include "lib/crypto/crypto.hpp"
#include "lib/util/hex.hpp"
#include "tests/unit/pipeline/stage_fixture.hpp"

#include <gmock/gmock.h>

using namespace cvm;
using namespace cvm::pipeline::test;
using ::testing::HasSubstr;

TEST_F(StageTest, CheckInputsPreparesScratchAndRecordsTheBase) {
  auto &c = context();
  plan::CheckInputs::run(c);
  ASSERT_TRUE(c.work);
  EXPECT_TRUE(std::filesystem::is_directory(c.artifacts_dir));
  EXPECT_EQ(c.output_tmp.parent_path(), m->output.path.parent_path());
  EXPECT_THAT(c.output_tmp.filename().string(), HasSubstr(".image.qcow2.partial-"));
  EXPECT_FALSE(std::filesystem::exists(c.output_tmp)); // nothing written yet
  EXPECT_EQ(pipeline::build_report(c)["base"]["format"], "qcow2");
  EXPECT_EQ(pipeline::build_report(c)["base"]["sha256"],
            to_hex(crypto::sha256(fs::read_file(dir.path() / "base.qcow2"))));
  EXPECT_TRUE(pipeline::build_report(c).contains("reproducibility"));
}

TEST_F(StageTest, CheckInputsRefusesARawFileDeclaredQcow2) {
  auto &c = context();
  launcher->format = "raw";
  const auto e = error_of([&] { plan::CheckInputs::run(c); });
  EXPECT_EQ(e.kind(), ErrorKind::input);
  EXPECT_THAT(e.what(), HasSubstr("is not a qcow2 image"));
  EXPECT_THAT(e.what(), HasSubstr("manifest.yaml:"));
  EXPECT_FALSE(c.work);
}

TEST_F(StageTest, CheckInputsRefusesToReplaceAnOutputWithoutForce) {
  auto &c = context();
  std::filesystem::create_directories(m->output.path.parent_path());
  fs::write_file_atomic(m->output.key_file, std::string_view("old key"));
  const auto e = error_of([&] { plan::CheckInputs::run(c); });
  EXPECT_EQ(e.kind(), ErrorKind::exists);
  EXPECT_THAT(e.what(), HasSubstr("--force"));
  EXPECT_EQ(fs::read_file(m->output.key_file).size(), 7U); // untouched
}

TEST_F(StageTest, CheckInputsReplacesWithForce) {
  options.overwrite = pipeline::Overwrite::yes;
  auto &c = context();
  std::filesystem::create_directories(m->output.path.parent_path());
  fs::write_file_atomic(m->output.path, std::string_view("old image"));
  EXPECT_NO_THROW(plan::CheckInputs::run(c));
}
