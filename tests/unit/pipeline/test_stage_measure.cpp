// SPDX-License-Identifier: Apache-2.0
// Stage measure: TDX reference values from the boot artifacts
// extract-boot-artifacts left and the profile's firmware, on synthetic
// inputs (a TDVF image and a bzImage with an EFI stub).
#include "lib/util/hex.hpp"
#include "measurement/tdvf.hpp"
#include "tests/unit/measurement/tdx_inputs.hpp"
#include "tests/unit/pipeline/stage_fixture.hpp"

#include <gmock/gmock.h>
#include <nlohmann/json.hpp>

#include <string>

using namespace cvm;
using namespace cvm::pipeline::test;
using ::testing::HasSubstr;

namespace {

struct Measure : StageTest {
  std::filesystem::path firmware;

  // A direct-boot build with profile "td" whose firmware is `firmware`, at
  // the point extract-boot-artifacts leaves it.
  void
  prepare() {
    firmware = dir.path() / "tdvf.fd";
    context("boot: {mode: direct}\n"
            "measurement:\n"
            "  profile: td\n"
            "  profiles:\n"
            "    td: {vcpus: 1, memory: 2G, qemu_version: \"9.1\", ovmf_version: edk2-stable202502, "
            "firmware: " +
            firmware.string() + "}\n");
    inputs_checked();
    fs::write_file_atomic(ctx->artifacts_dir / "vmlinuz", measure::test::make_efi_bzimage());
    fs::write_file_atomic(ctx->artifacts_dir / "initrd.img", std::string_view("the new initrd"));
    fs::write_file_atomic(ctx->artifacts_dir / "cmdline", std::string_view("root=/dev/mapper/cvmroot\n"));
  }
};

bool
is_sha384_hex(const nlohmann::ordered_json &j) {
  return j.is_string() && j.get<std::string>().size() == 96 &&
         j.get<std::string>().find_first_not_of("0123456789abcdef") == std::string::npos;
}

} // namespace

TEST_F(Measure, PredictsTheRegistersAndKeepsTheReferenceValues) {
  prepare();
  const auto fw = measure::test::make_tdvf_firmware();
  fs::write_file_atomic(firmware, fw);
  plan::Measure::run(*ctx);

  const auto reference = nlohmann::ordered_json::parse(ctx->reference_values);
  const auto r = report()["measurement"];
  EXPECT_EQ(r["profile"], "td");
  // MRTD is the firmware file's, for both page-add orders.
  const auto mrtd = measure::compute_mrtd_candidates(fw, measure::parse_tdvf_metadata(fw));
  EXPECT_EQ(r["mrtd"]["single_pass"], to_hex(mrtd.single_pass));
  EXPECT_EQ(r["mrtd"]["two_pass"], to_hex(mrtd.two_pass));
  // The report and the reference values say the same.
  EXPECT_EQ(reference["mrtd"]["single_pass"], r["mrtd"]["single_pass"]);
  EXPECT_EQ(reference["mrtd"]["two_pass"], r["mrtd"]["two_pass"]);
  // RTMR0 needs the platform's ACPI tables, which this profile does not
  // give; RTMR1 (kernel) and RTMR2 (command line, initrd) are predicted;
  // RTMR3 is the initial zeros.
  ASSERT_EQ(r["rtmr"].size(), 4U);
  EXPECT_TRUE(r["rtmr"][0].is_null()) << r.dump();
  EXPECT_TRUE(is_sha384_hex(r["rtmr"][1])) << r.dump();
  EXPECT_TRUE(is_sha384_hex(r["rtmr"][2])) << r.dump();
  EXPECT_EQ(r["rtmr"][3], std::string(96, '0'));
  std::size_t not_predicted = 0;
  for (const auto &e : reference["events"]) {
    not_predicted += e.contains("digest") && !e["digest"].is_null() ? 0 : 1;
  }
  EXPECT_EQ(r["events_not_predicted"], not_predicted);
  // The command line the kernel gets is the extracted one.
  EXPECT_THAT(ctx->reference_values, HasSubstr("root=/dev/mapper/cvmroot"));
}

TEST_F(Measure, AMissingFirmwareFileIsNamed) {
  prepare();
  const auto e = error_of([&] { plan::Measure::run(*ctx); });
  EXPECT_EQ(e.kind(), ErrorKind::input);
  EXPECT_THAT(e.what(), HasSubstr("cannot open " + firmware.string() + ": No such file or directory"));
  EXPECT_TRUE(ctx->reference_values.empty());
  EXPECT_FALSE(report().contains("measurement"));
}

TEST_F(Measure, FirmwareThatIsNotTdvfIsRefused) {
  prepare();
  fs::write_file_atomic(firmware, std::string_view("not a firmware image"));
  const auto e = error_of([&] { plan::Measure::run(*ctx); });
  EXPECT_EQ(e.kind(), ErrorKind::input);
  EXPECT_THAT(e.what(), HasSubstr("20 bytes is too small for an OVMF image"));
  EXPECT_TRUE(ctx->reference_values.empty());
  EXPECT_FALSE(report().contains("measurement"));
}
