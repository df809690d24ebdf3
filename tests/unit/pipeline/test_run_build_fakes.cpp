// SPDX-License-Identifier: Apache-2.0
// The executor (pipeline::run_build) running every stage of a direct-boot
// build on the fakes: what a successful build leaves, and that a failing or
// interrupted one leaves nothing.
#include "lib/pipeline/interrupt.hpp"
#include "lib/plan/plan.hpp"
#include "tests/unit/pipeline/fake_bundle.hpp"
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

  FakeBundle bundle;

  // A direct-boot manifest without a measurement profile (no systemd stub, no
  // firmware needed), and the two appliances the build launches: the base
  // alone for inspect-base, base + empty output disk for create-output.
  void
  SetUp() override {
    prepare("boot: {mode: direct}\n");
  }

  // `extra_disks`: the data volumes' disks in the create-output appliance.
  void
  prepare(const std::string &manifest_extra, const std::vector<std::string> &extra_disks = {}) {
    // context() loads the manifest; the executor makes its own context.
    context(manifest_extra);
    ctx.reset();
    plan = plan::make_plan(*m);
    auto inspected = std::make_unique<FakeGuest>(guestfs::test::debian_guest());
    inspected->tree("/dev/sda2").put_file("/usr/share/initramfs-tools/hooks/cryptroot", "#!/bin/sh\n", 0755);
    inspected->devices["/dev/sda1"].usage.used_bytes = 3 * 4096; // fits the default ESP
    auto built = std::make_unique<FakeGuest>(guestfs::test::debian_guest());
    built->add_disk(k_out_disk);
    for (const auto &disk : extra_disks) {
      built->add_disk(disk);
    }
    builder = built.get();
    journal = built->journal;
    builder->on_command = [this](const Argv &argv) -> std::string {
      if (argv.front() == "/usr/sbin/update-initramfs") {
        builder->write_text("/boot/initrd.img-6.1.0-10-amd64", k_new_initrd);
      }
      return {};
    };
    fakes = std::make_unique<FakeLauncher>();
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

// An attested build (test flavour) with a data volume.
struct RunBuildWithVolume : RunBuild {
  void
  SetUp() override {
    bundle.make("cvmforge-agent-test");
    options.agent_dir = bundle.dir.path();
    prepare("boot: {mode: direct}\n"
            "attestation: {kbs_urls: ['http://10.0.2.100:8080'], tee: sample}\n"
            "volumes: [{name: data, mount: /srv/data, size: 256M}]\n",
            {"/dev/sdc"});
  }
};

} // namespace

TEST_F(RunBuildWithVolume, TheVolumeAndItsKeyAreCommittedWithTheImage) {
  // The new root as the guest's initramfs generator sees it (the appliance
  // is gone after the build).
  std::string fstab;
  std::string crypttab;
  bool mount_point = false;
  builder->on_command = [&](const Argv &argv) -> std::string {
    if (argv.front() == "/usr/sbin/update-initramfs") {
      builder->write_text("/boot/initrd.img-6.1.0-10-amd64", k_new_initrd);
      fstab = builder->read_text("/etc/fstab");
      crypttab = builder->read_text("/etc/crypttab");
      mount_point = builder->is_dir("/srv/data");
    }
    return {};
  };
  (void)run();
  const auto &v = m->volumes.at(0);
  EXPECT_EQ(fs::read_text(v.output), "fake qcow2\n");
  EXPECT_EQ(std::filesystem::file_size(v.key_file), 64U);
  EXPECT_EQ(std::filesystem::status(v.key_file).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_NE(fs::read_text(m->output.key_file), fs::read_text(v.key_file)) << "a key of its own";
  const auto kbs = nlohmann::json::parse(fs::read_text(m->output.path.string() + ".kbs.json"));
  EXPECT_EQ(kbs["volumes"][0]["key_file"], v.key_file.string());
  const auto report = nlohmann::json::parse(fs::read_text(m->output.report));
  EXPECT_TRUE(report["volumes"][0].contains("allocated_bytes"));
  EXPECT_EQ(report["volumes"][0]["path"], v.output.string());
  // The new root mounts it; nothing names it in crypttab.
  EXPECT_THAT(fstab, HasSubstr("\n/dev/mapper/cvmvol-data /srv/data ext4 defaults 0 2\n"));
  EXPECT_THAT(crypttab, ::testing::Not(HasSubstr("cvmvol")));
  EXPECT_TRUE(mount_point);
}

TEST_F(RunBuildWithVolume, AFailedBuildLeavesNoVolumeBehind) {
  builder->on_command = [](const Argv &argv) -> std::string {
    if (argv.front() == "/usr/sbin/update-initramfs") {
      throw Error(ErrorKind::guest, "command: update-initramfs: exit status 1");
    }
    return {};
  };
  const auto e = error_of([&] { (void)run(); });
  EXPECT_THAT(e.what(), HasSubstr("rebuild-initramfs: "));
  EXPECT_THAT(output_dir_entries(), ElementsAre()); // no image, volume, keys or partial disks
}

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
  EXPECT_THAT(skipped, ElementsAre("make-volumes", "inject-files", "inject-agent", "make-uki", "measure"));
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
