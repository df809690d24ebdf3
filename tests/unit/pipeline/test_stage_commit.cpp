// SPDX-License-Identifier: Apache-2.0
// Stage commit against fakes: all outputs or none.
#include "tests/unit/pipeline/stage_fixture.hpp"

#include <gmock/gmock.h>

#include <sys/stat.h>

using namespace cvm;
using namespace cvm::pipeline::test;
using ::testing::HasSubstr;

namespace {

struct Commit : StageTest {
  void
  prepare(const std::string &extra = "") {
    context(extra);
    key_prepared();
    fs::write_file_atomic(ctx->output_tmp, std::string_view("the encrypted image"));
    ctx->recovery_passphrase = secret("correct horse battery staple");
    ctx->stage_log.push_back({"check-inputs", pipeline::StageStatus::ok, {}, 1.5});
    ctx->stage_log.push_back(
        {"inject-files", pipeline::StageStatus::skipped, "the manifest lists no files", {}});
    ctx->stage_log.push_back({"commit", pipeline::StageStatus::running, {}, {}});
  }
};

int
mode_of(const std::filesystem::path &p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return static_cast<int>(st.st_mode & 07777U);
}

} // namespace

TEST_F(Commit, PutsImageKeyRecoveryAndReportInPlace) {
  prepare();
  plan::Commit::run(*ctx);
  EXPECT_TRUE(ctx->committed);
  EXPECT_FALSE(std::filesystem::exists(ctx->output_tmp));
  EXPECT_EQ(fs::read_file(m->output.path).size(), 19U);
  EXPECT_EQ(mode_of(m->output.key_file), 0600);
  EXPECT_EQ(fs::read_file(m->output.key_file).size(), ctx->unlock_key.size());
  const std::filesystem::path recovery = m->output.path.string() + ".recovery";
  EXPECT_EQ(mode_of(recovery), 0600);
  const auto report = nlohmann::json::parse(fs::read_text(m->output.report));
  EXPECT_EQ(report["stages"].size(), 3U);
  EXPECT_EQ(report["stages"][0]["seconds"], 1.5);
  EXPECT_EQ(report["stages"][1]["status"], "skipped");
  EXPECT_EQ(report["stages"][2], nlohmann::json({{"name", "commit"}, {"status", "ok"}}));
  EXPECT_EQ(report["output"]["recovery_file"], recovery.string());
  EXPECT_FALSE(report.dump().find(std::string(ctx->unlock_key.chars(), ctx->unlock_key.size())) !=
               std::string::npos);
}

TEST_F(Commit, AnOutputThatAppearedDuringTheBuildLeavesNothingNew) {
  prepare();
  fs::write_file_atomic(m->output.path, std::string_view("someone else's image"));
  const auto e = error_of([&] { plan::Commit::run(*ctx); });
  EXPECT_EQ(e.kind(), ErrorKind::exists);
  EXPECT_THAT(e.what(), HasSubstr("appeared during the build"));
  EXPECT_FALSE(std::filesystem::exists(m->output.key_file)); // rolled back
  EXPECT_FALSE(std::filesystem::exists(m->output.path.string() + ".recovery"));
  EXPECT_FALSE(std::filesystem::exists(m->output.report));
  EXPECT_EQ(fs::read_text(m->output.path), "someone else's image");
  EXPECT_FALSE(ctx->committed);
}
