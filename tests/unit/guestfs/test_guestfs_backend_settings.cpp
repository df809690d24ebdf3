// SPDX-License-Identifier: Apache-2.0
#include "lib/guestfs/backend_settings.hpp"

#include <gtest/gtest.h>

namespace cvm::guestfs {
namespace {

using host::Accel;

TEST(GuestfsBackendSettings, BackendSettingsHonourTheUser) {
  EXPECT_EQ(backend_settings_for(Accel::tcg, std::nullopt),
            std::optional<std::vector<std::string>>({"force_tcg"}));
  EXPECT_EQ(backend_settings_for(Accel::kvm, std::nullopt), std::nullopt);
  EXPECT_EQ(backend_settings_for(Accel::tcg, "force_kvm"), std::nullopt);
  EXPECT_EQ(backend_settings_for(Accel::tcg, ""), std::nullopt);
}

TEST(GuestfsBackendSettings, TcgApplianceRunsWithoutCmpxchg16b) {
  EXPECT_EQ(appliance_cpu_model(Accel::tcg, "direct", std::nullopt),
            std::optional<std::string>("max,la57=off,cx16=off"));
  EXPECT_EQ(appliance_cpu_model(Accel::tcg, "direct", "force_tcg"),
            std::optional<std::string>("max,la57=off,cx16=off"));
  EXPECT_EQ(appliance_cpu_model(Accel::kvm, "direct", std::nullopt), std::nullopt);
  EXPECT_EQ(appliance_cpu_model(Accel::tcg, "direct", "force_kvm"), std::nullopt);
  EXPECT_EQ(appliance_cpu_model(Accel::tcg, "libvirt", std::nullopt), std::nullopt);
}

} // namespace
} // namespace cvm::guestfs
