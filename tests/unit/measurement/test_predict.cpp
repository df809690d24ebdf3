// SPDX-License-Identifier: Apache-2.0
#include "lib/util/base64.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/hex.hpp"
#include "lib/util/text.hpp"
#include "measurement/byte_reader.hpp"
#include "measurement/compare.hpp"
#include "measurement/event_builder.hpp"
#include "measurement/eventlog.hpp"
#include "measurement/gpt.hpp"
#include "measurement/kernel.hpp"
#include "measurement/pe.hpp"
#include "measurement/predict.hpp"
#include "measurement/reference.hpp"
#include "measurement/rtmr.hpp"
#include "measurement/uki.hpp"
#include "tests/unit/measurement/tdx_inputs.hpp"
#include "tests/unit/measurement/test_support.hpp"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

namespace cvm::measure {
namespace {

std::string
hex384(const crypto::Sha384 &d) {
  return to_hex(d);
}

// T13 of the reference (tdx-measurement.md §2.2): event digests computed from
// first principles there and each found in real TDX event logs.
TEST(EventBuilder, FixedEventDigestsMatchT13) {
  const std::vector<std::byte> empty;
  EXPECT_EQ(
      hex384(variable_digest(secure_boot_variable_guid("SecureBoot"), "SecureBoot", empty)),
      "9dc3a1f80bcec915391dcda5ffbb15e7419f77eab462bbf72b42166fb70d50325e37b36f93537a863769bcf9bedae6fb");
  EXPECT_EQ(
      hex384(variable_digest(secure_boot_variable_guid("PK"), "PK", empty)),
      "6f2e3cbc14f9def86980f5f66fd85e99d63e69a73014ed8a5633ce56eca5b64b692108c56110e22acadcef58c3250f1b");
  EXPECT_EQ(
      hex384(variable_digest(secure_boot_variable_guid("KEK"), "KEK", empty)),
      "d607c0efb41c0d757d69bca0615c3a9ac0b1db06c557d992e906c6b7dee40e0e031640c7bfd7bcd35844ef9edeadc6f9");
  EXPECT_EQ(
      hex384(variable_digest(secure_boot_variable_guid("db"), "db", empty)),
      "08a74f8963b337acb6c93682f934496373679dd26af1089cb4eaf0c30cf260a12e814856385ab8843e56a9acea19e127");
  EXPECT_EQ(
      hex384(variable_digest(secure_boot_variable_guid("dbx"), "dbx", empty)),
      "18cc6e01f0c6ea99aa23f8a280423e94ad81d96d0aeb5180504fc0f7a40cb3619dd39bd6a95ec1680a86ed6ab0f9828d");
  EXPECT_EQ(
      hex384(separator_digest()),
      "394341b7182cd227c5c6b07ef8000cdfd86136c4292b8e576573ad7ed9ae41019f5818b4b971c9effc60e1ad9f1289f0");
  EXPECT_EQ(
      hex384(action_digest("Calling EFI Application from Boot Option")),
      "77a0dab2312b4e1e57a84d865a21e5b2ee8d677a21012ada819d0a98988078d3d740f6346bfe0abaa938ca20439a8d71");
  EXPECT_EQ(
      hex384(action_digest("Exit Boot Services Invocation")),
      "214b0bef1379756011344877743fdc2a5382bac6e70362d624ccf3f654407c1b4badf7d8f9295dd3dabdef65b27677e0");
  EXPECT_EQ(
      hex384(action_digest("Exit Boot Services Returned with Success")),
      "0a2e01c85deae718a530ad8c6d20a84009babe6c8989269e950d8cf440c6e997695e64d455c4174a652cd080f6230b74");
  const std::array<std::byte, 2> boot_order{};
  EXPECT_EQ(
      hex384(crypto::sha384(boot_order)),
      "1dd6f7b457ad880d840d41c961283bab688e94e4b59359ea45686581e90feccea3c624b1226113f824f315eb60ae0a7c");
  EXPECT_EQ(uiapp_boot_option().size(), 62U);
  EXPECT_EQ(
      hex384(crypto::sha384(uiapp_boot_option())),
      "23ada07f5261f12f34a0bd8e46760962d6b4d576a416f1fea1c64bc656b1d28eacf7047ae6e967c58fd2a98bfa74c298");
}

TEST(EventBuilder, OvmfLoadOptionsFollowEdk2Version) {
  EXPECT_EQ(ovmf_load_options("console=ttyS0", true, 202411), "console=ttyS0 initrd=initrd");
  EXPECT_EQ(ovmf_load_options("console=ttyS0", true, 202508), "initrd=initrd console=ttyS0");
  EXPECT_EQ(ovmf_load_options("console=ttyS0", false, 202508), "console=ttyS0");
}

// T11: the CFV event of real logs is the SHA-384 of Debian's empty OVMF_VARS_4M.fd.
TEST(EventBuilderConformance, EmptyVarStoreIsTheCfvDigest) {
  CVM_REQUIRE_CONFORMANCE(dir);
  const std::filesystem::path vars = "/usr/share/OVMF/OVMF_VARS_4M.fd";
  if (!std::filesystem::exists(vars)) {
    GTEST_SKIP() << "skipped: " << vars << " not installed (Debian package ovmf)";
  }
  const auto expected = test::read_json(dir / "expected.json");
  const auto log_events = test::read_json(dir / "CCEL_data_ovmf_events.json")["uefi_event_logs"];
  const auto digest = to_hex(crypto::sha384(fs::read_file(vars)));
  EXPECT_EQ(digest, expected["cfv"][0]["sha384"].get<std::string>());
  EXPECT_EQ(digest, log_events[1]["digests"][0]["digest"].get<std::string>());
}

// GPT: rebuilding a disk head from the GPT event of Trustee's grub log gives
// back the same event bytes and digest.
TEST(GptConformance, RebuiltDiskHeadReproducesGrubLogGptEvent) {
  CVM_REQUIRE_CONFORMANCE(dir);
  const auto log = parse_event_log(fs::read_file(dir / "CCEL_data_grub.bin"));
  const Event *gpt = nullptr;
  for (const auto &e : log.events) {
    if (e.type == event_type::k_efi_gpt_event) {
      gpt = &e;
    }
  }
  ASSERT_NE(gpt, nullptr);
  const auto &data = gpt->data;
  ASSERT_GT(data.size(), 100U);
  std::vector<std::byte> disk(34 * 512);
  std::copy(data.begin(), data.begin() + 92, disk.begin() + 512);
  const auto entry_lba = read_le_at(data, 72, 8, "gpt", "lba");
  const auto entry_size = read_le_at(data, 84, 4, "gpt", "size");
  const auto used = read_le_at(data, 92, 8, "gpt", "count");
  ASSERT_EQ(data.size(), 100 + used * entry_size);
  std::copy(data.begin() + 100, data.end(), disk.begin() + static_cast<std::ptrdiff_t>(entry_lba * 512));
  const auto rebuilt = gpt_event_data(disk);
  EXPECT_EQ(rebuilt, data);
  EXPECT_EQ(to_hex(crypto::sha384(rebuilt)), to_hex(*gpt->digest(k_alg_sha384)));
}

TEST(Gpt, RejectsDiskWithoutGpt) {
  std::vector<std::byte> disk(34 * 512);
  EXPECT_THROW(gpt_event_data(disk), Error);
  EXPECT_THROW(gpt_event_data(std::span(disk).first(100)), Error);
}

using test::make_bzimage;

TEST(Kernel, QemuPatchWritesSetupHeaderFields) {
  const auto img = make_bzimage();
  const auto info = parse_bzimage(img);
  ASSERT_TRUE(info.version.has_value());
  EXPECT_EQ(*info.version, std::make_pair(6, 9));
  QemuKernelPatch patch;
  patch.below_4g_memory = std::uint64_t{2} << 30U;
  patch.initrd_size = 0x123456;
  patch.cmdline = "console=ttyS0 vga=0x318";
  const auto out = qemu_patch_kernel(img, patch);
  EXPECT_EQ(out[0x210], std::byte{0xb0});
  EXPECT_EQ(out[0x211], std::byte{0x81});
  EXPECT_EQ(read_le_at(out, 0x224, 2, "k", "heap"), 0xfe00U);
  EXPECT_EQ(read_le_at(out, 0x228, 4, "k", "cmdline"), 0x20000U);
  const std::uint64_t initrd_max = (std::uint64_t{2} << 30U) - 0x28000 - 1;
  EXPECT_EQ(read_le_at(out, 0x218, 4, "k", "ramdisk"), (initrd_max - 0x123456) & ~std::uint64_t{4095});
  EXPECT_EQ(read_le_at(out, 0x21c, 4, "k", "ramdisk size"), 0x123456U);
  EXPECT_EQ(read_le_at(out, 0x1fa, 2, "k", "vid"), 0x318U);
}

TEST(Kernel, RejectsNonBzImage) {
  std::vector<std::byte> junk(0x1000);
  EXPECT_THROW(parse_bzimage(junk), Error);
  EXPECT_THROW(parse_bzimage(std::span(junk).first(0x100)), Error);
}

struct DebianInputs {
  std::vector<std::byte> firmware;
  std::vector<std::byte> kernel;
};

std::optional<DebianInputs>
debian_inputs() {
  const std::filesystem::path ovmf = "/usr/share/ovmf/OVMF.fd";
  if (!std::filesystem::exists(ovmf)) {
    return std::nullopt;
  }
  std::optional<std::filesystem::path> kernel;
  std::error_code ec;
  for (const auto &e : std::filesystem::directory_iterator("/boot", ec)) {
    if (e.path().filename().string().starts_with("vmlinuz-")) {
      kernel = e.path();
      break;
    }
  }
  if (!kernel) {
    return std::nullopt;
  }
  return DebianInputs{fs::read_file(ovmf), fs::read_file(*kernel)};
}

// Declares `var` (a std::optional<DebianInputs> that is set), or skips the
// test where Debian's firmware or a kernel is not installed.
#define CVM_REQUIRE_DEBIAN_INPUTS(var)                                                                       \
  const auto var##_found = debian_inputs();                                                                  \
  if (!var##_found) {                                                                                        \
    GTEST_SKIP() << "skipped: Debian's OVMF.fd or a /boot/vmlinuz-* is not installed";                       \
  }                                                                                                          \
  const auto &var = var##_found

PlatformProfile
profile_2g(int ovmf_version, QemuVersion qemu) {
  PlatformProfile p;
  p.vcpus = 1;
  p.memory_bytes = std::uint64_t{2} << 30U;
  p.qemu_version = qemu;
  p.ovmf_version = ovmf_version;
  return p;
}

BootArtifacts
direct_artifacts(const DebianInputs &in) {
  BootArtifacts a;
  a.kernel = in.kernel;
  a.kernel_name = "vmlinuz";
  a.initrd = std::vector<std::byte>(4096, std::byte{0x42});
  a.initrd_name = "initrd.img";
  a.cmdline = "console=ttyS0";
  a.linux_version = std::make_pair(6, 9);
  return a;
}

const PredictedEvent *
find(const Prediction &p, std::string_view label) {
  for (const auto &e : p.events) {
    if (e.label == label) {
      return &e;
    }
  }
  return nullptr;
}

// Direct boot under the old (pre-202411) layout against Trustee's real 2 GiB
// direct-boot log: everything the model owns matches except what depends on
// inputs that differ (firmware CFV, kernel, cmdline, initrd), and the diff
// names the first divergent event and its input.
TEST(PredictConformance, DirectBootOldLayoutAgainstRealLog) {
  CVM_REQUIRE_CONFORMANCE(dir);
  CVM_REQUIRE_DEBIAN_INPUTS(in);
  const auto prediction = predict(direct_artifacts(*in), in->firmware, profile_2g(202408, {9, 1, 0}));
  EXPECT_FALSE(prediction.rtmr[0].has_value()) << "ACPI blobs were not supplied";
  ASSERT_TRUE(prediction.rtmr[1].has_value());
  const auto log = parse_event_log(fs::read_file(dir / "CCEL_data_ovmf.bin"));
  const auto cmp = compare_with_prediction(log, prediction.events);

  const auto &r0 = cmp.registers[0];
  ASSERT_EQ(r0.events.size(), 14U);
  const std::vector<EventStatus> expected0 = {EventStatus::match,
                                              EventStatus::digest_mismatch,
                                              EventStatus::match,
                                              EventStatus::match,
                                              EventStatus::match,
                                              EventStatus::match,
                                              EventStatus::match,
                                              EventStatus::match,
                                              EventStatus::not_predicted,
                                              EventStatus::not_predicted,
                                              EventStatus::not_predicted,
                                              EventStatus::match,
                                              EventStatus::match,
                                              EventStatus::match};
  for (std::size_t i = 0; i < expected0.size(); ++i) {
    EXPECT_EQ(to_string(r0.events[i].status), to_string(expected0[i])) << "RTMR0 event " << i;
  }
  ASSERT_TRUE(r0.first_divergence.has_value());
  const auto &first = r0.events[*r0.first_divergence];
  EXPECT_EQ(first.expected->label, "cfv");
  EXPECT_EQ(first.expected->depends_on, std::vector<std::string>{"firmware"});

  const auto &r1 = cmp.registers[1];
  ASSERT_EQ(r1.events.size(), 4U);
  EXPECT_EQ(r1.events[0].status, EventStatus::digest_mismatch);
  EXPECT_EQ(r1.events[0].expected->label, "kernel");
  for (std::size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(r1.events[i].status, EventStatus::match) << "RTMR1 event " << i;
  }
  ASSERT_EQ(cmp.registers[2].events.size(), 2U);
  EXPECT_EQ(cmp.registers[2].events[0].expected->label, "linux.load_options");
  EXPECT_TRUE(cmp.registers[3].events.empty());
  EXPECT_FALSE(cmp.all_match());

  const auto text = replay_report_text(log, replay(log), std::nullopt, std::nullopt, cmp);
  EXPECT_NE(text.find("RTMR0: first divergence at event 1"), std::string::npos) << text;
  EXPECT_NE(text.find("depends on: firmware"), std::string::npos) << text;
}

TEST(Predict, SeparatorPlacementFollowsOvmfVersion) {
  CVM_REQUIRE_DEBIAN_INPUTS(in);
  const auto old_layout = predict(direct_artifacts(*in), in->firmware, profile_2g(202408, {10, 2, 0}));
  EXPECT_NE(find(old_layout, "separator.rtmr0_late"), nullptr);
  EXPECT_EQ(find(old_layout, "separator.rtmr1"), nullptr);
  const auto new_layout = predict(direct_artifacts(*in), in->firmware, profile_2g(202411, {10, 2, 0}));
  EXPECT_EQ(find(new_layout, "separator.rtmr0_late"), nullptr);
  EXPECT_NE(find(new_layout, "separator.rtmr1"), nullptr);
  const auto *lo = find(new_layout, "linux.load_options");
  ASSERT_NE(lo, nullptr);
  EXPECT_EQ(*lo->digest, crypto::sha384(to_utf16le("console=ttyS0 initrd=initrd", NulTerminator::yes)));
}

TEST(Predict, KernelHeaderPatchingDependsOnQemuVersion) {
  CVM_REQUIRE_DEBIAN_INPUTS(in);
  const auto plain = authenticode_sha384(in->kernel);
  const auto q102 = predict(direct_artifacts(*in), in->firmware, profile_2g(202411, {10, 2, 0}));
  EXPECT_EQ(*find(q102, "kernel")->digest, plain);
  const auto q91 = predict(direct_artifacts(*in), in->firmware, profile_2g(202411, {9, 1, 0}));
  const auto *patched = find(q91, "kernel");
  EXPECT_NE(*patched->digest, plain);
  EXPECT_NE(std::find(patched->depends_on.begin(), patched->depends_on.end(), "platform.memory_bytes"),
            patched->depends_on.end());
  // 2 GiB and 4 GiB give the same low memory (2 GiB), hence the same patched kernel.
  auto p4 = profile_2g(202411, {9, 1, 0});
  p4.memory_bytes = std::uint64_t{4} << 30U;
  EXPECT_EQ(*find(predict(direct_artifacts(*in), in->firmware, p4), "kernel")->digest, *patched->digest);
}

TEST(Predict, NewOvmfLayoutAndMissingInputsAreExplicitlyNotPredicted) {
  CVM_REQUIRE_DEBIAN_INPUTS(in);
  const auto p = predict(direct_artifacts(*in), in->firmware, profile_2g(202505, {10, 2, 0}));
  EXPECT_FALSE(p.rtmr[0].has_value());
  EXPECT_TRUE(p.rtmr[1].has_value());
  const auto j = prediction_to_json(p);
  EXPECT_TRUE(j["rtmr"]["0"].is_null());
  EXPECT_EQ(j["schema"], "cvmforge.tdx-measurement/v1");
  EXPECT_EQ(j["mrtd"]["single_pass"].get<std::string>().size(), 96U);
  bool any_not_predicted = false;
  for (const auto &e : j["events"]) {
    any_not_predicted = any_not_predicted || e.contains("not_predicted");
  }
  EXPECT_TRUE(any_not_predicted);

  const auto old_fw = predict(direct_artifacts(*in), in->firmware, profile_2g(202211, {8, 2, 2}));
  EXPECT_TRUE(old_fw.events.empty());
  EXPECT_EQ(to_hex(*old_fw.rtmr[0]), std::string(96, '0'));
}

TEST(Predict, ProvidedAcpiBlobsCompleteRtmr0AndJsonRoundTrips) {
  CVM_REQUIRE_DEBIAN_INPUTS(in);
  auto profile = profile_2g(202411, {10, 2, 0});
  profile.acpi_table_loader = std::vector<std::byte>(4096, std::byte{1});
  profile.acpi_rsdp = std::vector<std::byte>(20, std::byte{2});
  profile.acpi_tables = std::vector<std::byte>(8192, std::byte{3});
  profile.page_add_order = PageAddOrder::single_pass;
  const auto p = predict(direct_artifacts(*in), in->firmware, profile);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(p.rtmr[i].has_value()) << i;
  }
  EXPECT_EQ(to_hex(*p.rtmr[3]), std::string(96, '0'));
  const auto j = prediction_to_json(p);
  const auto back = events_from_json(nlohmann::json::parse(j.dump()));
  ASSERT_EQ(back.size(), p.events.size());
  for (std::size_t i = 0; i < back.size(); ++i) {
    EXPECT_EQ(back[i].rtmr, p.events[i].rtmr);
    EXPECT_EQ(back[i].type, p.events[i].type);
    EXPECT_EQ(back[i].digest, p.events[i].digest);
    EXPECT_EQ(back[i].label, p.events[i].label);
  }
  // Same inputs, same bytes.
  EXPECT_EQ(j.dump(), prediction_to_json(predict(direct_artifacts(*in), in->firmware, profile)).dump());

  const auto rv = trustee_reference_values(p);
  EXPECT_EQ(rv["mr_td"].size(), 1U);
  EXPECT_EQ(rv["mr_td"][0], to_hex(p.mrtd.single_pass));
  EXPECT_EQ(rv["tdvfkernel"][0], to_hex(*find(p, "kernel")->digest));
  EXPECT_EQ(rv["tdvfkernelparams"][0], to_hex(*find(p, "linux.load_options")->digest));
  const auto msg = trustee_rvps_message(p);
  EXPECT_EQ(msg["version"], "0.1.0");
  EXPECT_EQ(msg["type"], "sample");
  EXPECT_EQ(msg["payload"], base64_encode(as_bytes(rv.dump())));
  const auto ita = ita_policy(p);
  EXPECT_EQ(ita["policy"]["tdx_appraisal"]["tdx_rtmr1"], to_hex(*p.rtmr[1]));
  EXPECT_NE(ita_policy_rego(p).find("input.tdx_is_debuggable == false"), std::string::npos);
  EXPECT_NE(prediction_to_text(p).find("RTMR1 events:"), std::string::npos);
  // The text report fits a 100-column terminal, notes included.
  auto with_note = p;
  with_note.notes.push_back(std::string(30, 'n') + " " + std::string(200, 'w') +
                            " a long note that wraps at the "
                            "report width, word by word, with a hanging indent under its bullet");
  std::istringstream lines(prediction_to_text(with_note));
  for (std::string line; std::getline(lines, line);) {
    if (line.find(std::string(200, 'w')) == std::string::npos) { // one over-long word may overflow
      EXPECT_LE(cvm::text::columns(line), cvm::text::k_report_width) << line;
    }
  }
}

TEST(Reference, EventsFromJsonRejectsBadDocuments) {
  EXPECT_THROW(events_from_json(nlohmann::json::object()), Error);
  EXPECT_THROW(events_from_json(nlohmann::json::parse(R"({"events":[{"rtmr":7}]})")), Error);
  EXPECT_THROW(events_from_json(nlohmann::json::parse(R"({"events":[{"rtmr":1,"digest":"zz"}]})")), Error);
  EXPECT_THROW(events_from_json(nlohmann::json::parse(R"({"events":[{"digest":"00"}]})")), Error);
}

TEST(Predict, GrubBootWithDebianShimAndGrub) {
  const auto in = debian_inputs();
  const std::filesystem::path shim = "/usr/lib/shim/shimx64.efi.signed";
  const std::filesystem::path grub = "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed";
  if (!in || !std::filesystem::exists(shim) || !std::filesystem::exists(grub)) {
    GTEST_SKIP() << "skipped: needs ovmf, a kernel, shim-signed and grub-efi-amd64-signed";
  }
  BootArtifacts a = direct_artifacts(*in);
  a.mode = BootMode::grub;
  a.shim = fs::read_file(shim);
  a.grub = fs::read_file(grub);
  a.cmdline = "BOOT_IMAGE=/boot/vmlinuz root=/dev/vda1";
  a.sbat_level = "sbat,1,2023012900\nshim,2\ngrub,3\ngrub.debian,4\n";
  a.grub_flavor = GrubFlavor::upstream;
  a.grub_records = {{GrubRecord::Kind::command, "linux /boot/vmlinuz root=/dev/vda1", {}},
                    {GrubRecord::Kind::file, "/boot/grub/grub.cfg", {std::byte{'x'}}}};
  const auto p = predict(a, in->firmware, profile_2g(202411, {10, 2, 0}));
  std::vector<std::string> rtmr1;
  for (const auto &e : p.events) {
    if (e.rtmr == 1) {
      rtmr1.push_back(e.label);
    }
  }
  const std::vector<std::string> expected = {"action.calling_efi_application",
                                             "separator.rtmr1",
                                             "gpt",
                                             "shim",
                                             "grub",
                                             "kernel",
                                             "action.exit_boot_services_invocation",
                                             "action.exit_boot_services_success"};
  EXPECT_EQ(rtmr1, expected);
  EXPECT_FALSE(p.rtmr[1].has_value()) << "the GPT is not supplied";
  EXPECT_EQ(*find(p, "shim")->digest, authenticode_sha384(*a.shim));
  EXPECT_EQ(*find(p, "grub.command")->digest, crypto::sha384(as_bytes("linux /boot/vmlinuz root=/dev/vda1")));
  EXPECT_FALSE(find(p, "boot_variables")->digest.has_value());
  const auto *mok_rt = find(p, "authority.MokListRT");
  ASSERT_NE(mok_rt, nullptr);
  EXPECT_TRUE(mok_rt->digest.has_value()) << "Debian's shim embeds a vendor certificate";
}

// Found by the boot oracle (tests/e2e/tpm_oracle.sh): Debian 13 with the
// unsigned grub-efi-amd64 has no shim; \EFI\BOOT\BOOTX64.EFI is grub, and
// the firmware measures grub then the kernel, nothing of shim's.
TEST(Predict, GrubBootWithoutShimHasNoShimEvents) {
  const auto in = debian_inputs();
  const std::filesystem::path grub = "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed";
  if (!in || !std::filesystem::exists(grub)) {
    GTEST_SKIP() << "skipped: needs ovmf, a kernel and grub-efi-amd64-signed";
  }
  BootArtifacts a = direct_artifacts(*in);
  a.mode = BootMode::grub;
  a.grub = fs::read_file(grub);
  a.cmdline = "BOOT_IMAGE=/vmlinuz root=/dev/mapper/cvmroot ro";
  const auto p = predict(a, in->firmware, profile_2g(202411, {10, 2, 0}));
  std::vector<std::string> rtmr1;
  for (const auto &e : p.events) {
    EXPECT_EQ(e.label.find("shim"), std::string::npos) << e.label;
    EXPECT_EQ(e.label.find("authority."), std::string::npos) << e.label;
    if (e.rtmr == 1) {
      rtmr1.push_back(e.label);
    }
  }
  const std::vector<std::string> expected = {"action.calling_efi_application",
                                             "separator.rtmr1",
                                             "gpt",
                                             "grub",
                                             "kernel",
                                             "action.exit_boot_services_invocation",
                                             "action.exit_boot_services_success"};
  EXPECT_EQ(rtmr1, expected);
  EXPECT_EQ(*find(p, "grub")->digest, authenticode_sha384(*a.grub));
  // grub's LoadOptions carry no NUL terminator (unlike OVMF's for -append).
  EXPECT_EQ(*find(p, "linux.load_options")->digest, crypto::sha384(to_utf16le(a.cmdline, NulTerminator::no)));
  // Only the disk head is missing for RTMR1 (GPT), nothing of a shim.
  std::size_t not_predicted = 0;
  for (const auto &e : p.events) {
    not_predicted += (e.rtmr != 0 && !e.digest) ? 1 : 0;
  }
  EXPECT_EQ(not_predicted, 1U);
  EXPECT_NE(std::find_if(p.notes.begin(),
                         p.notes.end(),
                         [](const std::string &n) { return n.find("without shim") != std::string::npos; }),
            p.notes.end());
}

// A LoadOptions digest a real firmware logged (tests/e2e/tpm_oracle.sh on the
// Debian 13 image: grub 2.12 from trixie, Linux 6.12 stub, OVMF with swtpm,
// PCR 9 SHA-384), for the command line grub passed. The NUL-terminated form
// the model used before differs.
TEST(Predict, GrubLoadOptionsMatchTheDigestAFirmwareLogged) {
  const auto in = debian_inputs();
  if (!in) {
    GTEST_SKIP() << "skipped: needs ovmf and a kernel";
  }
  BootArtifacts a = direct_artifacts(*in);
  a.mode = BootMode::grub;
  a.cmdline = "BOOT_IMAGE=/vmlinuz-6.12.107+deb13-cloud-amd64 root=/dev/mapper/cvmroot ro "
              "console=ttyS0,115200n8 rd.luks.name=b3f2d2fe-17c0-8d5b-a93b-7695d71319bb=cvmroot "
              "rd.shell=0 rd.emergency=poweroff console=ttyS0";
  const std::string logged =
      "35b48ee333409967ddc421643c9200980d972aba1cffb6fde7b21ee17b6b81efa1493d4c08387760c4b078226586bb43";
  const auto p = predict(a, in->firmware, profile_2g(202411, {10, 2, 0}));
  EXPECT_EQ(hex384(*find(p, "linux.load_options")->digest), logged);
  EXPECT_NE(hex384(crypto::sha384(to_utf16le(a.cmdline, NulTerminator::yes))), logged);
}

// UKI boot. predict() hashes the UKI as a whole and reads nothing inside it
// (the CLI and the build take kernel, initrd and cmdline from its sections),
// so any PE stands in for it here; the kernel is the host's real one.
BootArtifacts
uki_artifacts(const DebianInputs &in, std::optional<int> stub) {
  BootArtifacts a;
  a.mode = BootMode::uki;
  a.uki = in.kernel;
  a.systemd_stub_version = stub;
  a.kernel = in.kernel;
  a.kernel_name = "uki.efi:.linux";
  a.initrd = std::vector<std::byte>(4096, std::byte{0x42});
  a.initrd_name = "uki.efi:.initrd";
  a.cmdline = "root=/dev/mapper/cvmroot ro console=ttyS0";
  a.linux_version = std::make_pair(6, 1);
  return a;
}

std::vector<std::string>
labels_of(const Prediction &p, std::size_t rtmr) {
  std::vector<std::string> out;
  for (const auto &e : p.events) {
    if (e.rtmr == rtmr) {
      out.push_back(e.label);
    }
  }
  return out;
}

bool
has_note(const Prediction &p, std::string_view needle) {
  return std::any_of(p.notes.begin(), p.notes.end(), [&](const std::string &n) {
    return n.find(needle) != std::string::npos;
  });
}

// Found by the boot oracle (tests/e2e/tpm_oracle.sh on the Debian 12 UKI
// image): systemd-stub 252 starts a kernel whose PE MajorImageVersion is >= 1
// with LoadImage, and the firmware measures it into PCR 4 (RTMR1) right after
// the UKI, with the kernel file's Authenticode digest.
TEST(PredictUki, Stub252MeasuresTheEmbeddedKernelAfterTheUki) {
  CVM_REQUIRE_DEBIAN_INPUTS(in);
  ASSERT_GE(parse_pe(in->kernel).major_image_version, 1) << "Linux >= 5.8 sets LINUX_EFISTUB_MAJOR_VERSION 1";
  const auto a = uki_artifacts(*in, 252);
  const auto p = predict(a, in->firmware, profile_2g(202411, {10, 1, 0}));
  const std::vector<std::string> rtmr1 = {"action.calling_efi_application",
                                          "separator.rtmr1",
                                          "gpt",
                                          "uki",
                                          "uki.kernel",
                                          "action.exit_boot_services_invocation",
                                          "action.exit_boot_services_success"};
  EXPECT_EQ(labels_of(p, 1), rtmr1);
  const auto *kernel = find(p, "uki.kernel");
  ASSERT_NE(kernel, nullptr);
  EXPECT_EQ(kernel->type, event_type::k_efi_boot_services_application);
  ASSERT_TRUE(kernel->digest.has_value());
  EXPECT_EQ(*kernel->digest, authenticode_sha384(a.kernel));
  EXPECT_EQ(*find(p, "uki")->digest, authenticode_sha384(*a.uki));
  // systemd-stub 252 and Linux 6.1 measure nothing a TD sees: RTMR2 is empty.
  EXPECT_TRUE(labels_of(p, 2).empty());
  ASSERT_TRUE(p.rtmr[2].has_value());
  EXPECT_EQ(*p.rtmr[2], RtmrBank{}.value(2));
  EXPECT_FALSE(p.rtmr[1].has_value()) << "the GPT is not supplied";

  // The same events on the edk2 < 202411 layout, without the RTMR1 separator.
  const auto old = predict(a, in->firmware, profile_2g(202302, {10, 1, 0}));
  std::vector<std::string> old_rtmr1 = rtmr1;
  old_rtmr1.erase(old_rtmr1.begin() + 1);
  EXPECT_EQ(labels_of(old, 1), old_rtmr1);
}

TEST(PredictUki, HandoverBootsHaveNoKernelEvent) {
  CVM_REQUIRE_DEBIAN_INPUTS(in);
  // systemd-stub 247 (Debian 11) always uses the EFI handover protocol.
  const auto p247 = predict(uki_artifacts(*in, 247), in->firmware, profile_2g(202411, {10, 1, 0}));
  EXPECT_EQ(find(p247, "uki.kernel"), nullptr);
  EXPECT_TRUE(has_note(p247, "handover"));

  // 252 with a kernel whose PE header says MajorImageVersion 0 (Linux < 5.8).
  auto a = uki_artifacts(*in, 252);
  const auto pe = parse_pe(a.kernel);
  const std::size_t major_image_version = pe.pe_header_offset + std::size_t{4 + 20 + 44};
  a.kernel[major_image_version] = std::byte{0};
  a.kernel[major_image_version + 1] = std::byte{0};
  ASSERT_EQ(parse_pe(a.kernel).major_image_version, 0);
  const auto p = predict(a, in->firmware, profile_2g(202411, {10, 1, 0}));
  EXPECT_EQ(find(p, "uki.kernel"), nullptr);
  EXPECT_TRUE(has_note(p, "MajorImageVersion is 0"));
}

TEST(PredictUki, WhatTheModelCannotTellIsNotPredicted) {
  CVM_REQUIRE_DEBIAN_INPUTS(in);
  const auto not_predicted = [&](const BootArtifacts &a, const PlatformProfile &profile) {
    const auto p = predict(a, in->firmware, profile);
    const auto *e = find(p, "uki.kernel");
    EXPECT_NE(e, nullptr);
    EXPECT_FALSE(p.rtmr[1].has_value());
    return e != nullptr && !e->digest.has_value() ? e->not_predicted_reason : std::string("(predicted)");
  };
  const auto profile = profile_2g(202411, {10, 1, 0});
  EXPECT_NE(not_predicted(uki_artifacts(*in, std::nullopt), profile).find("version is unknown"),
            std::string::npos);
  EXPECT_NE(not_predicted(uki_artifacts(*in, 258), profile).find("not modelled"), std::string::npos);
  auto not_pe = uki_artifacts(*in, 252);
  not_pe.kernel.assign(4096, std::byte{0x42});
  EXPECT_NE(not_predicted(not_pe, profile).find("not a PE image"), std::string::npos);
  auto secure_boot = profile;
  secure_boot.secure_boot_variables["SecureBoot"] = {std::byte{1}};
  EXPECT_NE(not_predicted(uki_artifacts(*in, 252), secure_boot).find("Secure Boot is on"), std::string::npos);
  // 253..257 decide as 252 does (linux.c / pe.c unchanged in this respect).
  for (const int stub : {256, 257}) {
    const auto p = predict(uki_artifacts(*in, stub), in->firmware, profile);
    ASSERT_NE(find(p, "uki.kernel"), nullptr) << stub;
    EXPECT_TRUE(find(p, "uki.kernel")->digest.has_value()) << stub;
  }
}

// A real UKI: the host's systemd-stub (Debian 12: systemd-boot-efi) with the
// host's kernel, as cvmforge's make-uki stage assembles it.
std::optional<BootArtifacts>
real_uki_artifacts(const DebianInputs &in, int stub, std::pair<int, int> linux_version) {
  const std::filesystem::path stub_file = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
  if (!std::filesystem::exists(stub_file)) {
    return std::nullopt;
  }
  UkiSections s;
  s.osrel = "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nID=debian\n";
  s.cmdline = "root=/dev/mapper/cvmroot ro rd.shell=0 rd.emergency=poweroff console=ttyS0";
  s.uname = "6.12.57+deb13-cloud-amd64";
  s.kernel = in.kernel;
  s.initrd = std::vector<std::byte>(70001, std::byte{0x37});
  auto a = uki_artifacts(in, stub);
  a.uki = assemble_uki(fs::read_file(stub_file), s);
  a.kernel = s.kernel;
  a.initrd = s.initrd;
  a.cmdline = s.cmdline;
  a.linux_version = linux_version;
  return a;
}

std::vector<std::byte>
with_nul(std::string_view name) {
  std::vector<std::byte> out(name.size() + 1, std::byte{0});
  std::transform(name.begin(), name.end(), out.begin(), [](char c) { return static_cast<std::byte>(c); });
  return out;
}

// Found by the boot oracle on Debian 13's UKI (systemd-stub 257.13, Linux
// 6.12, swtpm): RTMR2 gets a name and a data event for every UKI section in
// the canonical order, then the kernel's LoadOptions (UTF-16 with the NUL);
// the initrd the kernel measures is not the .initrd section, so it is not
// predicted (the verdict then refuses the path for tdx).
TEST(PredictUki, Stub257MeasuresTheSectionsThroughTheCcProtocol) {
  CVM_REQUIRE_DEBIAN_INPUTS(in);
  const auto a = real_uki_artifacts(*in, 257, {6, 12});
  if (!a) {
    GTEST_SKIP()
        << "skipped: /usr/lib/systemd/boot/efi/linuxx64.efi.stub is not installed (systemd-boot-efi)";
  }
  const auto p = predict(*a, in->firmware, profile_2g(202411, {10, 1, 0}));
  const std::vector<std::string> rtmr2 = {"uki.section.linux.name",
                                          "uki.section.linux",
                                          "uki.section.osrel.name",
                                          "uki.section.osrel",
                                          "uki.section.cmdline.name",
                                          "uki.section.cmdline",
                                          "uki.section.initrd.name",
                                          "uki.section.initrd",
                                          "uki.section.uname.name",
                                          "uki.section.uname",
                                          "uki.section.sbat.name",
                                          "uki.section.sbat",
                                          "linux.load_options",
                                          "linux.initrd"};
  EXPECT_EQ(labels_of(p, 2), rtmr2);
  const auto info = parse_uki(*a->uki);
  EXPECT_EQ(*find(p, "uki.section.linux.name")->digest, crypto::sha384(with_nul(".linux")));
  EXPECT_EQ(*find(p, "uki.section.linux")->digest, crypto::sha384(a->kernel));
  EXPECT_EQ(*find(p, "uki.section.initrd")->digest, crypto::sha384(*a->initrd));
  EXPECT_EQ(*find(p, "uki.section.sbat")->digest, crypto::sha384(info.sections.at(".sbat")));
  EXPECT_EQ(*find(p, "linux.load_options")->digest,
            crypto::sha384(to_utf16le(a->cmdline, NulTerminator::yes)));
  // The kernel measures the initrd systemd-stub hands it: .initrd padded to
  // 4 bytes, then .osrel as /.extra/os-release in systemd's cpio records
  // (built here from the newc format by hand, not by the code under test).
  std::vector<std::byte> handed = *a->initrd;
  handed.resize((handed.size() + 3) / 4 * 4, std::byte{0});
  const auto &osrel = info.sections.at(".osrel");
  const auto text = [&](std::string_view t) {
    std::transform(
        t.begin(), t.end(), std::back_inserter(handed), [](char c) { return static_cast<std::byte>(c); });
  };
  // newc: magic, then inode, mode, uid, gid, nlink, mtime, size, 4 x dev, namesize, check.
  const auto header = [&](unsigned inode, unsigned mode, std::size_t size, std::size_t name_size) {
    text("070701");
    for (const std::size_t f : {std::size_t{inode},
                                std::size_t{mode},
                                std::size_t{0},
                                std::size_t{0},
                                std::size_t{1},
                                std::size_t{0},
                                size,
                                std::size_t{0},
                                std::size_t{0},
                                std::size_t{0},
                                std::size_t{0},
                                name_size,
                                std::size_t{0}}) {
      text(fmt::format("{:08x}", f));
    }
  };
  header(1, 040555, 0, 7);
  text(".extra");
  handed.resize(handed.size() + 4, std::byte{0}); // NUL, then padding to 120 bytes
  header(2, 0100444, osrel.size(), 18);
  text(".extra/os-release");
  handed.push_back(std::byte{0}); // NUL: 128 bytes, no padding
  handed.insert(handed.end(), osrel.begin(), osrel.end());
  handed.resize((handed.size() + 3) / 4 * 4, std::byte{0});
  // systemd's fixed trailer: nlink 1, name size written "0000000B".
  text("070701");
  for (int i = 0; i < 13; ++i) {
    text(i == 4 ? "00000001" : i == 11 ? "0000000B" : "00000000");
  }
  text("TRAILER!!!");
  handed.resize(handed.size() + 4, std::byte{0});
  ASSERT_TRUE(find(p, "linux.initrd")->digest.has_value());
  EXPECT_EQ(*find(p, "linux.initrd")->digest, crypto::sha384(handed));
  EXPECT_TRUE(p.rtmr[2].has_value());
  EXPECT_EQ(find(p, "uki.stub"), nullptr);

  // Linux < 6.9 measures nothing after the stub: RTMR2 is the sections only.
  const auto old_kernel =
      predict(*real_uki_artifacts(*in, 257, {6, 1}), in->firmware, profile_2g(202411, {10, 1, 0}));
  EXPECT_EQ(labels_of(old_kernel, 2), std::vector<std::string>(rtmr2.begin(), rtmr2.end() - 2));
  EXPECT_TRUE(old_kernel.rtmr[2].has_value());

  // A section the model has not checked is not guessed at.
  auto splash = *a;
  const std::string uname = ".uname";
  const auto at = std::search(
      splash.uki->begin(), splash.uki->begin() + 4096, uname.begin(), uname.end(), [](std::byte b, char c) {
        return b == static_cast<std::byte>(c);
      });
  ASSERT_NE(at, splash.uki->begin() + 4096);
  const std::string renamed = ".splash";
  std::transform(renamed.begin(), renamed.end(), at, [](char c) { return static_cast<std::byte>(c); });
  const auto p_splash = predict(splash, in->firmware, profile_2g(202411, {10, 1, 0}));
  const auto *section = find(p_splash, "uki.section");
  ASSERT_NE(section, nullptr);
  EXPECT_NE(section->not_predicted_reason.find(".splash"), std::string::npos)
      << section->not_predicted_reason;
}

TEST(PlatformProfile, ParsesJsonAndRejectsBadValues) {
  const auto reader = [](const std::string &path) {
    return std::vector<std::byte>(path.size(), std::byte{7});
  };
  const auto p = parse_platform_profile(nlohmann::json::parse(R"({
    "name": "q35-1cpu-2g", "vcpus": 1, "memory_mib": 2048, "qemu_version": "9.2.1",
    "ovmf_version": "edk2-stable202411", "page_add_order": "two_pass",
    "acpi": {"table_loader": "loader.bin", "rsdp": "rsdp.bin", "tables": "tables.bin"},
    "boot_variables": [{"name": "BootOrder", "file": "BootOrder.bin"}]})"),
                                        reader);
  EXPECT_EQ(p.memory_bytes, std::uint64_t{2048} << 20U);
  EXPECT_EQ(p.qemu_version, (QemuVersion{9, 2, 1}));
  EXPECT_EQ(p.ovmf_version, 202411);
  EXPECT_EQ(p.page_add_order, PageAddOrder::two_pass);
  EXPECT_EQ(p.acpi_tables->size(), std::string("tables.bin").size());
  EXPECT_EQ(p.boot_variables.at(0).name, "BootOrder");
  EXPECT_THROW(parse_platform_profile(nlohmann::json::parse(R"({"qemu_version": "ten"})"), reader), Error);
  EXPECT_THROW(parse_platform_profile(nlohmann::json::parse(R"({"memory_mib": -1})"), reader), Error);
  EXPECT_THROW(parse_platform_profile(nlohmann::json::parse(R"({"boot_variables": [{}]})"), reader), Error);
  EXPECT_THROW(parse_platform_profile(nlohmann::json::parse(R"({"ovmf_version": "2022.11"})"), reader),
               Error);
}

} // namespace
} // namespace cvm::measure

namespace cvm::measure {
namespace {

// Grub boot against Trustee's real Ubuntu shim+grub log (Secure Boot on, shim
// running twice through fbx64): with the platform inputs captured from that
// log (Secure Boot and boot variables, MOK digests, SbatLevel, db authority,
// GPT), every event the model owns lines up with the log and matches, and the
// events that depend on different binaries (Debian's instead of Ubuntu's
// shim/grub/kernel, firmware, RAM) are exactly the ones that diverge.
TEST(PredictConformance, GrubBootStructureAgainstRealLog) {
  CVM_REQUIRE_CONFORMANCE(dir);
  const auto in = debian_inputs();
  const std::filesystem::path shim = "/usr/lib/shim/shimx64.efi.signed";
  const std::filesystem::path grub = "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed";
  const std::filesystem::path fb = "/usr/lib/shim/fbx64.efi.signed";
  if (!in || !std::filesystem::exists(shim) || !std::filesystem::exists(grub) ||
      !std::filesystem::exists(fb)) {
    GTEST_SKIP() << "skipped: needs ovmf, a kernel, shim-signed and grub-efi-amd64-signed";
  }
  const auto log = parse_event_log(fs::read_file(dir / "CCEL_data_grub.bin"));
  auto profile = profile_2g(202408, {8, 2, 2});
  BootArtifacts a = direct_artifacts(*in);
  a.mode = BootMode::grub;
  a.shim = fs::read_file(shim);
  a.grub = fs::read_file(grub);
  a.fallback = fs::read_file(fb);
  a.shim_fallback_run = true;
  a.cmdline = "BOOT_IMAGE=/vmlinuz root=/dev/vda1";
  bool db_seen = false;
  for (const auto &e : log.events) {
    if (e.type == event_type::k_efi_variable_driver_config) {
      const auto v = parse_uefi_variable_data(e.data);
      profile.secure_boot_variables[v.name] = v.data;
    } else if (e.type == event_type::k_efi_variable_boot) {
      const auto v = parse_uefi_variable_data(e.data);
      profile.boot_variables.push_back({v.name, v.data});
    } else if (e.type == event_type::k_efi_variable_authority) {
      const auto v = parse_uefi_variable_data(e.data);
      if (v.name == "SbatLevel") {
        a.sbat_level = std::string(reinterpret_cast<const char *>(v.data.data()), v.data.size());
      } else if (v.name == "db" && !db_seen) {
        db_seen = true;
        ProvidedEvent p;
        p.type = e.type;
        p.label = "db";
        std::copy(e.digest(k_alg_sha384)->begin(), e.digest(k_alg_sha384)->end(), p.digest.begin());
        p.source = "reference-ccel";
        a.secure_boot_authority = p;
      }
    } else if (e.type == event_type::k_ipl && e.mr_index == 3) {
      crypto::Sha384 d{};
      std::copy(e.digest(k_alg_sha384)->begin(), e.digest(k_alg_sha384)->end(), d.begin());
      a.mok_digests[describe_event(e)] = d;
    } else if (e.type == event_type::k_efi_gpt_event) {
      std::vector<std::byte> disk(34 * 512);
      std::copy(e.data.begin(), e.data.begin() + 92, disk.begin() + 512);
      std::copy(e.data.begin() + 100, e.data.end(), disk.begin() + 1024);
      a.disk_head = disk;
    }
  }
  ASSERT_TRUE(db_seen);
  const auto prediction = predict(a, in->firmware, profile);
  const auto cmp = compare_with_prediction(log, prediction.events);

  const auto statuses = [&](std::size_t rtmr) {
    std::vector<std::string> out;
    for (const auto &c : cmp.registers[rtmr].events) {
      out.push_back((c.expected ? c.expected->label : std::string("-")) + ":" + to_string(c.status));
    }
    return out;
  };
  const std::vector<std::string> rtmr0 = {"td_hob:digest_mismatch",
                                          "cfv:digest_mismatch",
                                          "secure_boot_variable.SecureBoot:match",
                                          "secure_boot_variable.PK:match",
                                          "secure_boot_variable.KEK:match",
                                          "secure_boot_variable.db:match",
                                          "secure_boot_variable.dbx:match",
                                          "separator.rtmr0:match",
                                          "acpi.table_loader:not_predicted",
                                          "acpi.rsdp:not_predicted",
                                          "acpi.tables:not_predicted",
                                          "boot_variable.BootOrder:match",
                                          "boot_variable.Boot0001:match",
                                          "boot_variable.Boot0000:match",
                                          "separator.rtmr0_late:match",
                                          "authority.db:match",
                                          "authority.SbatLevel:match",
                                          "authority.MokListRT:digest_mismatch",
                                          "authority.SbatLevel:match",
                                          "authority.MokListRT:digest_mismatch"};
  EXPECT_EQ(statuses(0), rtmr0);
  const std::vector<std::string> rtmr1 = {"action.calling_efi_application:match",
                                          "gpt:match",
                                          "shim:digest_mismatch",
                                          "fallback:digest_mismatch",
                                          "shim.second_run:digest_mismatch",
                                          "grub:digest_mismatch",
                                          "kernel:digest_mismatch",
                                          "action.exit_boot_services_invocation:match",
                                          "action.exit_boot_services_success:match"};
  EXPECT_EQ(statuses(1), rtmr1);
  const std::vector<std::string> rtmr2 = {"shim.MokList:match",
                                          "shim.MokListX:match",
                                          "shim.MokListTrusted:match",
                                          "shim.MokList.second_run:match",
                                          "shim.MokListX.second_run:match",
                                          "shim.MokListTrusted.second_run:match",
                                          "linux.load_options:digest_mismatch",
                                          "linux.initrd:digest_mismatch"};
  EXPECT_EQ(statuses(2), rtmr2);
}

} // namespace
} // namespace cvm::measure

namespace cvm::measure {
namespace {

// "Golden boot once": the ACPI digests and variables taken from a reference
// log complete RTMR0, and only the firmware-dependent CFV event then differs.
TEST(PredictConformance, ReferenceLogCompletesRtmr0) {
  CVM_REQUIRE_CONFORMANCE(dir);
  CVM_REQUIRE_DEBIAN_INPUTS(in);
  const auto log = parse_event_log(fs::read_file(dir / "CCEL_data_ovmf.bin"));
  auto profile = profile_2g(202408, {9, 1, 0});
  adopt_reference_log(profile, log);
  ASSERT_EQ(profile.acpi_events.size(), 3U);
  EXPECT_EQ(profile.boot_variables.size(), 2U);
  const auto prediction = predict(direct_artifacts(*in), in->firmware, profile);
  ASSERT_TRUE(prediction.rtmr[0].has_value());
  const auto cmp = compare_with_prediction(log, prediction.events);
  std::vector<std::string> mismatched;
  for (const auto &c : cmp.registers[0].events) {
    if (c.status != EventStatus::match) {
      mismatched.push_back(c.expected->label);
    }
  }
  EXPECT_EQ(mismatched, std::vector<std::string>{"cfv"});
  const auto &acpi = *find(prediction, "acpi.tables");
  EXPECT_NE(std::find(acpi.depends_on.begin(), acpi.depends_on.end(), "platform.reference_ccel"),
            acpi.depends_on.end());
  // A layout the model does not derive takes the whole RTMR0 list.
  auto new_layout = profile_2g(202505, {10, 2, 0});
  adopt_reference_log(new_layout, log);
  ASSERT_TRUE(new_layout.rtmr0_events.has_value());
  EXPECT_EQ(new_layout.rtmr0_events->size(), 14U);
  const auto p2 = predict(direct_artifacts(*in), in->firmware, new_layout);
  EXPECT_EQ(to_hex(*p2.rtmr[0]), to_hex(replay(log).value(0)));
}

} // namespace
} // namespace cvm::measure
