// SPDX-License-Identifier: Apache-2.0
#include "lib/host/accel.hpp"

#include <gtest/gtest.h>

namespace cvm::host {
namespace {

KvmProbe
probe_returning(KvmProbeOutcome outcome, std::string detail, int *calls) {
  return [=]() {
    ++*calls;
    return KvmProbeResult{outcome, detail};
  };
}

TEST(HostAccel, EnvOverrideWinsWithoutProbing) {
  int calls = 0;
  const auto probe = probe_returning(KvmProbeOutcome::ok, "works", &calls);
  EXPECT_EQ(decide_accel("tcg", probe).accel, Accel::tcg);
  EXPECT_EQ(decide_accel("tcg", probe).reason, "CVM_ACCEL=tcg");
  EXPECT_EQ(decide_accel("kvm", probe_returning(KvmProbeOutcome::timed_out, "", &calls)).accel, Accel::kvm);
  EXPECT_EQ(calls, 0);
}

TEST(HostAccel, WorkingKvmGivesKvm) {
  int calls = 0;
  const auto d = decide_accel(std::nullopt, probe_returning(KvmProbeOutcome::ok, "works", &calls));
  EXPECT_EQ(d.accel, Accel::kvm);
  EXPECT_EQ(d.reason, "works");
  EXPECT_EQ(calls, 1);
}

TEST(HostAccel, AnyProbeFailureGivesTcgWithTheProbeReason) {
  for (const auto outcome : {KvmProbeOutcome::no_device,
                             KvmProbeOutcome::no_access,
                             KvmProbeOutcome::unusable,
                             KvmProbeOutcome::timed_out}) {
    int calls = 0;
    const auto d = decide_accel(std::nullopt, probe_returning(outcome, "/dev/kvm present but hung", &calls));
    EXPECT_EQ(d.accel, Accel::tcg);
    EXPECT_EQ(d.reason, "/dev/kvm present but hung");
  }
}

TEST(HostAccel, InvalidOverrideIsIgnoredAndProbes) {
  int calls = 0;
  const auto d = decide_accel("fast", probe_returning(KvmProbeOutcome::ok, "works", &calls));
  EXPECT_EQ(d.accel, Accel::kvm);
  EXPECT_EQ(calls, 1);
}

// The real probe: whatever it finds, it must answer within its timeout plus
// the kill grace period, and describe what it found.
TEST(HostAccel, RealProbeAnswersInBoundedTime) {
  const auto start = std::chrono::steady_clock::now();
  const KvmProbeResult r = probe_kvm(std::chrono::milliseconds(1500));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  EXPECT_FALSE(r.detail.empty());
  if (r.outcome == KvmProbeOutcome::timed_out) {
    EXPECT_NE(r.detail.find("did not return within 1500 ms"), std::string::npos) << r.detail;
  }
  RecordProperty("kvm_probe", r.detail);
}

TEST(HostAccel, DescribeAccelNamesTheChoice) {
  const std::string name = accel_name();
  EXPECT_TRUE(name == "kvm" || name == "tcg") << name;
  EXPECT_EQ(describe_accel().rfind(name + ": ", 0), 0U) << describe_accel();
}

} // namespace
} // namespace cvm::host
