// SPDX-License-Identifier: Apache-2.0
// The agent's data-volume policy (cmd/agent/volumes.cpp) without
// device-mapper: a required volume's failure is an error naming it; an
// optional volume's is one warning and the boot goes on without it.
#include "cmd/agent/volumes.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/log.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using cvm::kbs::VolumeTarget;

VolumeTarget
volume(const std::string &name, const std::string &device, bool required) {
  VolumeTarget v;
  v.name = name;
  v.resource = cvm::kbs::ResourcePath::parse("r/t/" + name);
  v.device = device;
  v.mapper_name = "cvmvol-" + name;
  v.header_policy = "/nonexistent/" + name + ".json";
  v.header_copy = "/nonexistent/" + name + ".luks2";
  v.required = required;
  return v;
}

struct Captured {
  std::vector<std::string> warnings;
  Captured() {
    cvm::log::set_sink([this](cvm::log::Level level, std::string_view message) {
      if (level == cvm::log::Level::warning) {
        warnings.emplace_back(message);
      }
    });
  }
  Captured(const Captured &) = delete;
  Captured &operator=(const Captured &) = delete;
  Captured(Captured &&) = delete;
  Captured &operator=(Captured &&) = delete;
  ~Captured() {
    cvm::log::set_sink({});
  }
};

TEST(AgentVolumes, AMissingOptionalDiskIsSkippedWithOneWarningAndItsMountMasked) {
  Captured log;
  cvm::fs::TempDir units("cvm-agent-units");
  std::vector<VolumeTarget> volumes = {volume("cache", "/nonexistent/disk", false)};
  volumes[0].mount_unit = "srv-cache.mount";
  const auto ready =
      cvm::agent::prepare_volumes(volumes, std::chrono::milliseconds(300), units.path() / "system");
  EXPECT_TRUE(ready.empty());
  EXPECT_EQ(std::filesystem::read_symlink(units.path() / "system/srv-cache.mount"), "/dev/null");
  ASSERT_EQ(log.warnings.size(), 1U);
  EXPECT_NE(log.warnings[0].find("optional volume cache skipped"), std::string::npos) << log.warnings[0];
  EXPECT_NE(log.warnings[0].find("/nonexistent/disk is not there"), std::string::npos) << log.warnings[0];
}

TEST(AgentVolumes, AMissingRequiredDiskIsAnErrorNamingTheVolume) {
  const std::vector<VolumeTarget> volumes = {volume("data", "/nonexistent/disk", true)};
  try {
    (void)cvm::agent::prepare_volumes(volumes, std::chrono::milliseconds(300));
    FAIL() << "expected an error";
  } catch (const cvm::Error &e) {
    EXPECT_EQ(std::string(e.what()).rfind("volume data: device /nonexistent/disk is not there", 0), 0U)
        << e.what();
  }
}

TEST(AgentVolumes, ANonBlockDeviceIsNotTakenForTheDisk) {
  // A regular file where the disk should be: never a volume.
  cvm::fs::TempDir dir("cvm-agent-volumes");
  cvm::fs::write_file_atomic(dir.path() / "disk", std::string_view("not a disk"));
  const std::vector<VolumeTarget> volumes = {volume("data", (dir.path() / "disk").string(), true)};
  EXPECT_THROW((void)cvm::agent::prepare_volumes(volumes, std::chrono::milliseconds(300)), cvm::Error);
}

TEST(AgentVolumes, KeysTheKbsRefusedSkipOptionalAndFailRequiredVolumes) {
  Captured log;
  cvm::fs::TempDir units("cvm-agent-units");
  VolumeTarget cache = volume("cache", "/dev/null", false);
  cache.mount_unit = "srv-cache.mount";
  const VolumeTarget data = volume("data", "/dev/null", true);
  std::vector<std::optional<cvm::SecretBytes>> keys;
  keys.emplace_back(std::nullopt);
  EXPECT_EQ(cvm::agent::open_volumes({&cache}, keys, units.path()), 0U);
  EXPECT_TRUE(std::filesystem::is_symlink(units.path() / "srv-cache.mount"));
  ASSERT_EQ(log.warnings.size(), 1U);
  EXPECT_NE(log.warnings[0].find("the KBS did not release r/t/cache"), std::string::npos) << log.warnings[0];
  try {
    (void)cvm::agent::open_volumes({&data}, keys, units.path());
    FAIL() << "expected an error";
  } catch (const cvm::Error &e) {
    EXPECT_EQ(std::string(e.what()), "volume data: the KBS did not release r/t/data");
  }
  EXPECT_FALSE(std::filesystem::exists(units.path() / "srv-data.mount"))
      << "a required volume is never masked";
}

TEST(AgentVolumes, AKeyOfTheWrongSizeIsRefusedBeforeActivation) {
  const VolumeTarget data = volume("data", "/dev/null", true);
  std::vector<std::optional<cvm::SecretBytes>> keys;
  keys.emplace_back(cvm::SecretBytes(16));
  try {
    (void)cvm::agent::open_volumes({&data}, keys);
    FAIL() << "expected an error";
  } catch (const cvm::Error &e) {
    EXPECT_NE(std::string(e.what()).find("has 16 bytes, expected 64"), std::string::npos) << e.what();
  }
}

} // namespace
