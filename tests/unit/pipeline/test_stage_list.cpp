// SPDX-License-Identifier: Apache-2.0
// The stage list (lib/plan/stages.hpp) as the plan reads it: the order, the
// indices the executor picks functions by, and each skip rule.
#include "lib/plan/plan.hpp"
#include "lib/plan/stages.hpp"
#include "tests/unit/pipeline/stage_fixture.hpp"

#include <gmock/gmock.h>

#include <string>
#include <vector>

using namespace cvm;
using namespace cvm::pipeline::test;
using ::testing::ElementsAre;

namespace {

// The index is where the executor finds a stage's run().
static_assert(plan::k_stage_index<plan::CheckInputs> == 0);
static_assert(plan::k_stage_index<plan::CopyRoot> == 6);
static_assert(plan::k_stage_index<plan::Commit> == plan::k_stage_count - 1);

std::vector<std::string>
names(const plan::BuildPlan &p) {
  std::vector<std::string> out;
  for (const auto &s : p.stages) {
    out.push_back(s.name);
  }
  return out;
}

std::vector<std::string>
skipped(const plan::BuildPlan &p) {
  std::vector<std::string> out;
  for (const auto &s : p.stages) {
    if (s.skip_reason) {
      out.push_back(s.name + ": " + *s.skip_reason);
    }
  }
  return out;
}

struct StageList : StageTest {};

TEST_F(StageList, PlanListsEveryStageInOrderWithItsIndex) {
  context();
  const auto p = plan::make_plan(*m);
  EXPECT_THAT(names(p),
              ElementsAre("check-inputs",
                          "inspect-base",
                          "prepare-key",
                          "create-output",
                          "format-luks",
                          "copy-esp",
                          "copy-root",
                          "make-volumes",
                          "inject-files",
                          "inject-agent",
                          "configure-boot",
                          "rebuild-initramfs",
                          "make-uki",
                          "extract-boot-artifacts",
                          "close-image",
                          "measure",
                          "commit"));
  for (std::size_t i = 0; i < p.stages.size(); ++i) {
    EXPECT_EQ(p.stages[i].index, i) << p.stages[i].name;
    EXPECT_EQ(p.stages[i].heading, plan::stage_specs()[i].heading(*m));
  }
}

TEST_F(StageList, SkipRulesFollowTheManifest) {
  context("boot: {mode: direct}\n");
  EXPECT_THAT(skipped(plan::make_plan(*m)),
              ElementsAre("make-volumes: the manifest has no volumes",
                          "inject-files: the manifest lists no files",
                          "inject-agent: attestation is disabled",
                          "make-uki: boot.mode is direct",
                          "measure: no measurement.profile in the manifest"));
}

TEST_F(StageList, HeadingsDependOnTheManifestWhereTheWorkDoes) {
  context("boot: {mode: grub}\n");
  EXPECT_EQ(plan::RebuildInitramfs::heading(*m),
            "Regenerating the initramfs and GRUB with the guest's own tools");
  EXPECT_EQ(plan::PrepareKey::heading(*m), "Generating the disk key");
  context("boot: {mode: direct}\n");
  EXPECT_EQ(plan::RebuildInitramfs::heading(*m), "Regenerating the initramfs with the guest's own tools");
}

} // namespace
