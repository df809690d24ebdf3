// SPDX-License-Identifier: Apache-2.0
// Stage inject-files against fakes.
#include "tests/unit/pipeline/stage_fixture.hpp"

#include <gmock/gmock.h>

using namespace cvm;
using namespace cvm::pipeline::test;
using ::testing::HasSubstr;

namespace {

struct InjectFiles : StageTest {
  FakeGuest *g = nullptr;

  void
  prepare(const std::string &files_yaml) {
    fs::write_file_atomic(dir.path() / "motd", std::string_view("welcome\n"));
    context(files_yaml);
    g = &root_copied();
  }
};

} // namespace

TEST_F(InjectFiles, WritesEachFileWithItsOwnerAndMode) {
  prepare("files:\n  - {source: motd, dest: /etc/cvm/motd, mode: '0640', uid: 0, gid: 4}\n");
  plan::InjectFiles::run(*ctx);
  const std::string dest = std::string(pipeline::k_dst) + "/etc/cvm/motd";
  EXPECT_EQ(g->read_text(dest), "welcome\n");
  const auto *node = g->devices["/dev/mapper/cvmroot"].tree.find("/etc/cvm/motd");
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->mode, 0640);
  EXPECT_EQ(g->owners.at(dest), std::make_pair(0, 4));
  EXPECT_EQ(report()["files"], 1);
}

TEST_F(InjectFiles, AMissingSourceFailsTheStage) {
  prepare("files:\n  - {source: gone, dest: /etc/gone}\n");
  const auto e = error_of([&] { plan::InjectFiles::run(*ctx); });
  EXPECT_THAT(e.what(), HasSubstr("gone"));
}
