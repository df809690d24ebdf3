// SPDX-License-Identifier: Apache-2.0
// The executor (pipeline::run_build) running every stage of a direct-boot
// build on the fakes: what a successful build leaves, and that a failing or
// interrupted one leaves nothing.
#include "lib/pipeline/interrupt.hpp"
#include "lib/plan/plan.hpp"
#include "tests/unit/pipeline/stage_fixture.hpp"

#include <gmock/gmock.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

using namespace cvm;
using namespace cvm::pipeline::test;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

using Argv = std::vector<std::string>;

constexpr const char *k_new_initrd = "the initrd update-initramfs wrote";

struct RunBuild : StageTest {
  std::optional<plan::BuildPlan> plan;
  std::unique_ptr<FakeLauncher> fakes = std::make_unique<FakeLauncher>();
  FakeGuest *builder = nullptr; // the create-output appliance (owned by `fakes` until launched)
  std::shared_ptr<FakeGuest::Journal> journal;

  // A direct-boot manifest without a measurement profile (no systemd stub, no
  // firmware needed), and the two appliances the build launches: the base
  // alone for inspect-base, base + empty output disk for create-output.
  void
  SetUp() override {
    // context() loads the manifest; the executor makes its own context.
    context("boot: {mode: direct}\n");
    ctx.reset();
    plan = plan::make_plan(*m);
    auto inspected = std::make_unique<FakeGuest>(guestfs::test::debian_guest());
    inspected->tree("/dev/sda2").put_file("/usr/share/initramfs-tools/hooks/cryptroot", "#!/bin/sh\n", 0755);
    inspected->devices["/dev/sda1"].usage.used_bytes = 3 * 4096; // fits the default ESP
    auto built = std::make_unique<FakeGuest>(guestfs::test::debian_guest());
    built->add_disk(k_out_disk);
    builder = built.get();
    journal = built->journal;
    builder->on_command = [this](const Argv &argv) -> std::string {
      if (argv.front() == "/usr/sbin/update-initramfs") {
        builder->write_text("/boot/initrd.img-6.1.0-10-amd64", k_new_initrd);
      }
      return {};
    };
    fakes->appliances.push_back(std::move(inspected));
    fakes->appliances.push_back(std::move(built));
  }

  void
  TearDown() override {
    // A signal a test raised stays recorded after run_build: a new guard
    // starts from none, so later tests in this process see none.
    const pipeline::InterruptGuard reset;
  }

  pipeline::BuildResult
  run() {
    return pipeline::run_build(*plan, options, {std::move(fakes), std::make_unique<FakeLuksVolume>()});
  }

  // What is in the output directory (nothing at all after a failed build).
  std::vector<std::string>
  output_dir_entries() const {
    std::vector<std::string> out;
    for (const auto &e : std::filesystem::directory_iterator(m->output.path.parent_path())) {
      out.push_back(e.path().filename().string());
    }
    return out;
  }
};

} // namespace

TEST_F(RunBuild, EveryStageRunsOnTheFakesAndTheOutputsAreInPlace) {
  const auto result = run();

  EXPECT_EQ(result.output, m->output.path);
  for (const auto &f : plan::output_files(*m)) {
    EXPECT_TRUE(std::filesystem::exists(f.path)) << f.path;
  }
  EXPECT_EQ(fs::read_text(m->output.path), "fake qcow2\n"); // disk_create's file, renamed
  EXPECT_EQ(fs::read_text(m->output.path.string() + ".initrd.img"), k_new_initrd);
  EXPECT_TRUE(journal->shut_down);

  const auto report = nlohmann::json::parse(fs::read_text(m->output.report));
  std::vector<std::string> names;
  std::vector<std::string> skipped;
  for (const auto &s : report["stages"]) {
    names.push_back(s["name"]);
    if (s["status"] == "skipped") {
      skipped.push_back(s["name"]);
    } else {
      EXPECT_EQ(s["status"], "ok") << s.dump();
    }
  }
  // Every stage of the list, in its order (test_stage_list.cpp checks the
  // list itself).
  std::vector<std::string> listed;
  for (const auto &spec : plan::stage_specs()) {
    listed.emplace_back(spec.name);
  }
  EXPECT_EQ(names, listed);
  EXPECT_THAT(skipped, ElementsAre("inject-files", "inject-agent", "make-uki", "measure"));
  EXPECT_EQ(result.report_json["accel"], "fake");
}

TEST_F(RunBuild, AFailingGuestCommandNamesTheStageAndLeavesNothing) {
  builder->on_command = [](const Argv &argv) -> std::string {
    if (argv.front() == "/usr/sbin/update-initramfs") {
      throw Error(ErrorKind::guest, "command: update-initramfs: exit status 1");
    }
    return {};
  };
  const auto e = error_of([&] { (void)run(); });
  EXPECT_EQ(e.kind(), ErrorKind::guest);
  EXPECT_THAT(e.what(), HasSubstr("rebuild-initramfs: command: update-initramfs: exit status 1"));
  EXPECT_THAT(output_dir_entries(), ElementsAre()); // no image, key, report or partial image
  EXPECT_FALSE(journal->shut_down);                 // killed, not shut down cleanly
}

TEST_F(RunBuild, AnInterruptedBuildLeavesNothing) {
  // The executor's InterruptGuard records the signal; the build stops at the
  // next stage boundary and unwinds.
  builder->on_command = [](const Argv &argv) -> std::string {
    if (argv.front() == "/usr/sbin/update-initramfs") {
      std::raise(SIGINT);
    }
    return {};
  };
  const auto e = error_of([&] { (void)run(); });
  EXPECT_EQ(e.kind(), ErrorKind::interrupted);
  EXPECT_THAT(e.what(), HasSubstr("interrupted by SIGINT"));
  // Named after the stage the signal arrived in, not the one after it.
  EXPECT_THAT(e.what(), ::testing::StartsWith("rebuild-initramfs: "));
  EXPECT_EQ(pipeline::interrupted_by(), SIGINT);
  EXPECT_THAT(output_dir_entries(), ElementsAre());
  EXPECT_FALSE(journal->shut_down);
}
