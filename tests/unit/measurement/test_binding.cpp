// SPDX-License-Identifier: Apache-2.0
// The binding verdict: which host-controlled inputs a register binds, per
// boot path, firmware and kernel.
#include "measurement/binding.hpp"
#include "measurement/firmware_db.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace cvm::measure {
namespace {

// A profile that pins everything: a measuring firmware and RTMR0's inputs.
BindingInputs
complete(BootMode mode) {
  BindingInputs in;
  in.mode = mode;
  in.tdx = true;
  in.firmware = true;
  in.ovmf_version = 202502;
  in.rtmr0_inputs = true;
  return in;
}

const BindingItem &
item(const BindingVerdict &v, const std::string &starts_with) {
  const auto it = std::find_if(
      v.items.begin(), v.items.end(), [&](const BindingItem &i) { return i.input.starts_with(starts_with); });
  if (it == v.items.end()) {
    throw std::runtime_error("no item " + starts_with);
  }
  return *it;
}

TEST(Binding, GrubOnDebian12LeavesInitramfsCommandLineAndGrubConfigUnbound) {
  auto in = complete(BootMode::grub);
  in.kernel_version = std::make_pair(6, 1);
  in.grub_flavor = GrubFlavor::none;
  const auto v = binding_verdict(in);
  EXPECT_FALSE(v.bound());
  EXPECT_FALSE(v.bindable());
  EXPECT_EQ(item(v, "initramfs").state, BindingState::unbound);
  EXPECT_NE(item(v, "initramfs").reason.find("Linux 6.1"), std::string::npos);
  EXPECT_EQ(item(v, "kernel command line").state, BindingState::unbound);
  EXPECT_EQ(item(v, "GRUB configuration").state, BindingState::unbound);
  EXPECT_EQ(item(v, "kernel").state, BindingState::bound);
  EXPECT_EQ(item(v, "kernel").rtmr, 1U);
  // The ways out name the UKI path first and the test-only override last.
  ASSERT_GE(v.ways_out.size(), 2U);
  EXPECT_TRUE(v.ways_out.front().starts_with("boot.mode: uki"));
  EXPECT_TRUE(v.ways_out.back().starts_with("attestation.insecure_allow_unbound"));
  const auto summary = unbound_summary(v);
  EXPECT_NE(summary.find("initramfs"), std::string::npos);
}

TEST(Binding, GrubWithMeasuringKernelStillUnboundWithoutGrubCommandMeasurement) {
  auto in = complete(BootMode::grub);
  in.kernel_version = std::make_pair(6, 12);
  in.grub_flavor = GrubFlavor::none;
  const auto v = binding_verdict(in);
  EXPECT_EQ(item(v, "initramfs").state, BindingState::bound);
  EXPECT_EQ(item(v, "initramfs").rtmr, 2U);
  EXPECT_EQ(item(v, "GRUB configuration").state, BindingState::unbound);
  EXPECT_FALSE(v.bindable());

  in.grub_flavor = GrubFlavor::upstream; // a GRUB that measures its commands binds
  EXPECT_TRUE(binding_verdict(in).bound());
}

TEST(Binding, GrubBeforeInspectionIsRefusedNotConditional) {
  const auto v = binding_verdict(complete(BootMode::grub));
  EXPECT_FALSE(v.bindable());
  EXPECT_EQ(item(v, "initramfs").state, BindingState::conditional);
}

TEST(Binding, UkiBindsEverythingOnAnyKernel) {
  for (const auto &kernel : {std::make_pair(5, 10), std::make_pair(6, 1), std::make_pair(6, 12)}) {
    auto in = complete(BootMode::uki);
    in.kernel_version = kernel;
    in.systemd_stub_version = 252;
    const auto v = binding_verdict(in);
    EXPECT_TRUE(v.bound()) << kernel.first << "." << kernel.second << "\n" << to_text(v);
    EXPECT_EQ(item(v, "unified kernel image").rtmr, 1U);
    EXPECT_TRUE(v.ways_out.empty());
    EXPECT_EQ(v.rtmrs, (std::set<std::size_t>{0, 1}));
  }
}

TEST(Binding, UkiWithNewerStubNeedsRtmr2) {
  auto in = complete(BootMode::uki);
  EXPECT_EQ(item(binding_verdict(in), "command-line extras").state, BindingState::conditional);
  in.systemd_stub_version = 257;
  EXPECT_TRUE(binding_verdict(in).bound());
  EXPECT_EQ(binding_verdict(in).rtmrs, (std::set<std::size_t>{0, 1, 2}));
  in.systemd_stub_version = 255; // TCG2 only: the model predicts no RTMR2 for it
  in.rtmr_not_predicted = {2};
  const auto v = binding_verdict(in);
  EXPECT_EQ(item(v, "command-line extras").state, BindingState::unbound);
  EXPECT_FALSE(v.bindable());
}

TEST(Binding, UkiCommandLineOverrideNeedsRtmr0) {
  auto in = complete(BootMode::uki);
  in.rtmr0_inputs = false;
  const auto v = binding_verdict(in);
  EXPECT_FALSE(v.bindable());
  EXPECT_EQ(item(v, "load options").state, BindingState::unbound);
  EXPECT_EQ(item(v, "ACPI tables").state, BindingState::unbound);
  EXPECT_EQ(item(v, "unified kernel image").state, BindingState::bound);
  EXPECT_NE(to_text(v).find("reference_ccel"), std::string::npos);
}

TEST(Binding, DirectBootDependsOnTheKernelStub) {
  auto in = complete(BootMode::direct);
  const auto before = binding_verdict(in);
  EXPECT_TRUE(before.bindable());
  EXPECT_FALSE(before.bound());
  EXPECT_EQ(item(before, "initramfs").state, BindingState::conditional);

  in.kernel_version = std::make_pair(6, 1);
  EXPECT_FALSE(binding_verdict(in).bindable());
  in.kernel_version = std::make_pair(6, 9);
  EXPECT_TRUE(binding_verdict(in).bound());
}

TEST(Binding, FirmwareWithoutRtmrMeasurementBindsOnlyMrtd) {
  auto in = complete(BootMode::uki);
  in.ovmf_version = 202211; // Debian 12's OVMF
  const auto v = binding_verdict(in);
  EXPECT_FALSE(v.bindable());
  EXPECT_EQ(item(v, "firmware code").state, BindingState::bound);
  EXPECT_EQ(item(v, "unified kernel image").state, BindingState::unbound);
  EXPECT_NE(item(v, "unified kernel image").reason.find("edk2-stable202211"), std::string::npos);
  EXPECT_FALSE(firmware_measures_rtmrs(202211));
  EXPECT_TRUE(firmware_measures_rtmrs(202302));
}

TEST(Binding, NoProfileNoFirmwareIsUnbound) {
  BindingInputs in;
  in.mode = BootMode::uki;
  const auto v = binding_verdict(in);
  EXPECT_FALSE(v.bindable());
  EXPECT_EQ(item(v, "firmware code").state, BindingState::unbound);
  EXPECT_NE(v.ways_out.front().find("measurement.profile"), std::string::npos);
}

TEST(Binding, RegisterNotPredictedUnbindsWhatItMeasures) {
  auto in = complete(BootMode::uki);
  in.rtmr_not_predicted = {1};
  const auto v = binding_verdict(in);
  EXPECT_EQ(item(v, "unified kernel image").state, BindingState::unbound);
  EXPECT_EQ(item(v, "ACPI tables").state, BindingState::bound);
}

TEST(Binding, SampleEvidenceBindsNothing) {
  auto in = complete(BootMode::uki);
  in.tdx = false;
  const auto v = binding_verdict(in);
  EXPECT_TRUE(std::all_of(
      v.items.begin(), v.items.end(), [](const BindingItem &i) { return i.state == BindingState::unbound; }));
}

TEST(Binding, JsonListsEveryItemWithRegisterAndPin) {
  auto in = complete(BootMode::uki);
  in.systemd_stub_version = 247;
  const auto j = to_json(binding_verdict(in));
  EXPECT_EQ(j["bound"], true);
  EXPECT_EQ(j["boot_mode"], "uki");
  EXPECT_EQ(j["pinned_registers"], nlohmann::ordered_json::parse(R"(["mrtd","rtmr0","rtmr1"])"));
  for (const auto &i : j["items"]) {
    EXPECT_TRUE(i.contains("register"));
    EXPECT_TRUE(i.contains("pinned_by_policy"));
    EXPECT_EQ(i["state"], "bound");
  }
}

TEST(Binding, JsonGivesNoRegisterForAnInputNothingMeasures) {
  auto in = complete(BootMode::grub);
  in.kernel_version = std::make_pair(6, 1);
  const auto j = to_json(binding_verdict(in));
  bool seen = false;
  for (const auto &i : j["items"]) {
    if (i["bound_by"] == "nothing") {
      seen = true;
      EXPECT_TRUE(i["register"].is_null()) << i.dump();
      EXPECT_EQ(i["state"], "unbound");
    } else {
      EXPECT_TRUE(i["register"].is_string()) << i.dump();
    }
  }
  EXPECT_TRUE(seen) << "Linux 6.1 behind GRUB: initrd and command line are measured by nothing";
}

TEST(FirmwareDb, UnknownBytesAreNotIdentified) {
  const std::vector<std::byte> bytes(4096, std::byte{0x5a});
  EXPECT_FALSE(identify_firmware(bytes).has_value());
}

} // namespace
} // namespace cvm::measure
