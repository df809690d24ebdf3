// SPDX-License-Identifier: Apache-2.0
// TPM event logs (PCR-indexed, crypto-agile with several banks) read with the
// CCEL parser, mapped to RTMRs as TDVF maps PCRs, and the image-layer
// comparison the boot oracle (tests/e2e/tpm_oracle.sh) relies on.
#include "lib/util/error.hpp"
#include "lib/util/hex.hpp"
#include "measurement/compare.hpp"
#include "measurement/eventlog.hpp"
#include "measurement/rtmr.hpp"
#include "measurement/tpm_log.hpp"
#include "tests/unit/measurement/test_support.hpp"

#include <gtest/gtest.h>

namespace cvm::measure {
namespace {

using test::put_le;
using test::put_string;

struct TpmRecord {
  std::uint32_t pcr;
  std::uint32_t type;
  std::string measured; // both bank digests are hashes of this
  std::string data;
};

// A log shaped like edk2's Tcg2Dxe writes for a TPM with SHA-256 and SHA-384
// banks: Spec ID (PCR 0, two algorithms), then TCG_PCR_EVENT2 records with
// one digest per bank. `banks` selects which banks the records carry.
std::vector<std::byte>
make_tpm_log(const std::vector<TpmRecord> &records,
             const std::vector<std::uint16_t> &banks = {k_alg_sha256, k_alg_sha384}) {
  std::vector<std::byte> out;
  test::put_spec_id_event(out, 0, banks);
  for (const auto &r : records) {
    put_le(out, r.pcr, 4);
    put_le(out, r.type, 4);
    put_le(out, banks.size(), 4);
    for (const auto alg : banks) {
      put_le(out, alg, 2);
      if (alg == k_alg_sha384) {
        const auto d = crypto::sha384(as_bytes(r.measured));
        out.insert(out.end(), d.begin(), d.end());
      } else {
        const auto d = crypto::sha256(as_bytes(r.measured));
        out.insert(out.end(), d.begin(), d.end());
      }
    }
    put_le(out, r.data.size(), 4);
    put_string(out, r.data);
  }
  return out;
}

crypto::Sha384
h(std::string_view s) {
  return crypto::sha384(as_bytes(s));
}

PredictedEvent
predicted(std::size_t rtmr, std::uint32_t type, std::string label, std::optional<crypto::Sha384> digest) {
  PredictedEvent e;
  e.rtmr = rtmr;
  e.type = type;
  e.label = std::move(label);
  e.description = e.label;
  e.depends_on = {"image." + e.label};
  e.digest = digest;
  if (!digest) {
    e.not_predicted_reason = "not supplied";
  }
  return e;
}

// A grub boot as OVMF with a TPM logs it: PCR 0 firmware blobs, PCR 7 and
// PCR 1 variables, separators in PCR 0..7, the boot applications in PCR 4,
// the GPT in PCR 5, the kernel stub's two tagged events in PCR 9, and one
// PCR 17 record no TDX register has.
std::vector<TpmRecord>
grub_boot_records() {
  return {
      {0, event_type::k_s_crtm_version, "crtm", "crtm"},
      {0, event_type::k_efi_platform_firmware_blob, "fv", "fv"},
      {7, event_type::k_efi_variable_driver_config, "SecureBoot", "SecureBoot"},
      {1, event_type::k_efi_variable_boot, "BootOrder", "BootOrder"},
      {4, event_type::k_efi_action, "Calling EFI Application from Boot Option", "calling"},
      {0, event_type::k_separator, "sep", "sep"},
      {4, event_type::k_separator, "sep", "sep"},
      {5, event_type::k_separator, "sep", "sep"},
      {5, event_type::k_efi_gpt_event, "gpt-bytes", "gpt"},
      {4, event_type::k_efi_boot_services_application, "grub-image", "grub"},
      {4, event_type::k_efi_boot_services_application, "kernel-image", "kernel"},
      {9, event_type::k_event_tag, "load-options", "LOADED_IMAGE::LoadOptions"},
      {9, event_type::k_event_tag, "initrd-bytes", "Linux initrd"},
      {5, event_type::k_efi_action, "Exit Boot Services Invocation", "ebs"},
      {17, event_type::k_efi_action, "drtm", "drtm"},
  };
}

std::vector<PredictedEvent>
grub_boot_prediction() {
  return {
      predicted(0, event_type::k_efi_variable_boot, "boot_variables", std::nullopt),
      predicted(1, event_type::k_efi_action, "action.calling_efi_application", h("other firmware")),
      predicted(1, event_type::k_efi_gpt_event, "gpt", h("gpt-bytes")),
      predicted(1, event_type::k_efi_boot_services_application, "grub", h("grub-image")),
      predicted(1, event_type::k_efi_boot_services_application, "kernel", h("kernel-image")),
      predicted(2, event_type::k_event_tag, "linux.load_options", h("load-options")),
      predicted(2, event_type::k_event_tag, "linux.initrd", h("initrd-bytes")),
  };
}

TEST(TpmLog, PcrToMrIndexFollowsTdvfTable) {
  EXPECT_EQ(cc_mr_index_of_pcr(0), 0U);
  for (const std::uint32_t pcr : {1U, 7U}) {
    EXPECT_EQ(cc_mr_index_of_pcr(pcr), 1U) << pcr;
  }
  for (std::uint32_t pcr = 2; pcr <= 6; ++pcr) {
    EXPECT_EQ(cc_mr_index_of_pcr(pcr), 2U) << pcr;
  }
  for (std::uint32_t pcr = 8; pcr <= 15; ++pcr) {
    EXPECT_EQ(cc_mr_index_of_pcr(pcr), 3U) << pcr;
  }
  for (const std::uint32_t pcr : {16U, 17U, 23U, 24U, 0xffffffffU}) {
    EXPECT_FALSE(cc_mr_index_of_pcr(pcr).has_value()) << pcr;
  }
}

TEST(TpmLog, MapsPcrsToRtmrsAndKeepsPcrZeroAndHighPcrsApart) {
  const auto bytes = make_tpm_log(grub_boot_records());
  const auto tpm = parse_event_log(bytes);
  ASSERT_EQ(tpm.algorithms.size(), 2U);
  ASSERT_EQ(tpm.events.size(), 16U);
  const auto mapped = map_tpm_log_to_cc(tpm);

  // PCR 0: crtm, fv, separator; PCR 17: one record.
  ASSERT_EQ(mapped.unmapped.size(), 4U);
  EXPECT_EQ(mapped.unmapped.back().pcr, 17U);
  // The Spec ID record stays, with 12 extending records.
  ASSERT_EQ(mapped.log.events.size(), 12U);
  EXPECT_EQ(mapped.log.events.front().type, event_type::k_no_action);
  for (const auto &e : mapped.log.events) {
    ASSERT_TRUE(e.pcr.has_value());
    EXPECT_EQ(e.mr_index, cc_mr_index_of_pcr(*e.pcr).value());
    // Sequence numbers and offsets are those of the original log.
    EXPECT_EQ(tpm.events.at(e.sequence).offset, e.offset);
  }

  // Replay folds each record's SHA-384 digest into the mapped register.
  RtmrBank expected;
  for (const auto &r : grub_boot_records()) {
    const auto mr = cc_mr_index_of_pcr(r.pcr);
    if (mr && *mr > 0) {
      expected.extend(*mr - 1, h(r.measured));
    }
  }
  EXPECT_EQ(replay(mapped.log).values(), expected.values());
  // The same log replayed unmapped is refused: PCR 0 and 17 are no MR index.
  EXPECT_THROW(replay(tpm), Error);
}

TEST(TpmLog, ReplayNeedsTheSha384Bank) {
  const auto tpm = parse_event_log(make_tpm_log(grub_boot_records(), {k_alg_sha256}));
  const auto mapped = map_tpm_log_to_cc(tpm);
  test::expect_error([&] { (void)replay(mapped.log); }, ErrorKind::input, "SHA-384");
}

TEST(ImageLayer, ClassifiesOnlyImageEventsOfRtmr1And2) {
  EXPECT_TRUE(is_image_layer_event(1, event_type::k_efi_gpt_event));
  EXPECT_TRUE(is_image_layer_event(1, event_type::k_efi_boot_services_application));
  EXPECT_TRUE(is_image_layer_event(2, event_type::k_event_tag));
  EXPECT_TRUE(is_image_layer_event(2, event_type::k_ipl));
  EXPECT_FALSE(is_image_layer_event(0, event_type::k_efi_boot_services_application));
  EXPECT_FALSE(is_image_layer_event(1, event_type::k_efi_action));
  EXPECT_FALSE(is_image_layer_event(1, event_type::k_separator));
  EXPECT_FALSE(is_image_layer_event(3, event_type::k_event_tag));
}

TEST(ImageLayer, EveryPredictedImageEventMatchesTheTpmLog) {
  const auto mapped = map_tpm_log_to_cc(parse_event_log(make_tpm_log(grub_boot_records())));
  const auto prediction = grub_boot_prediction();
  const auto cmp = compare_image_layer(mapped.log, prediction);
  EXPECT_TRUE(cmp.all_predicted_match());
  ASSERT_EQ(cmp.events.size(), 5U);
  EXPECT_EQ(cmp.count(EventStatus::match), 5U);
  EXPECT_EQ(cmp.events[0].expected->label, "gpt");
  EXPECT_EQ(cmp.events[0].actual->pcr, 5U);
  EXPECT_EQ(cmp.events[2].expected->label, "kernel");
  EXPECT_EQ(cmp.events[2].position, 2U);
  EXPECT_EQ(cmp.events[4].expected->label, "linux.initrd");
  EXPECT_EQ(cmp.events[4].actual->pcr, 9U);
  // Variables, actions and separators of PCR 1, 4, 5, 7 are not compared
  // (and neither is the mismatching action digest in the prediction).
  EXPECT_EQ(cmp.platform_events_not_compared, 6U);

  const auto text = image_layer_report_text(cmp, "different hardware");
  EXPECT_NE(text.find("linux.load_options"), std::string::npos) << text;
  EXPECT_NE(text.find("5 predicted: 5 match, 0 mismatch"), std::string::npos) << text;
  EXPECT_NE(text.find("6 events not compared (different hardware)"), std::string::npos) << text;
  const auto json = image_layer_report_json(cmp, "different hardware");
  EXPECT_TRUE(json["match"].get<bool>());
  EXPECT_EQ(json["events"][1]["actual"]["pcr"], 4);
}

TEST(ImageLayer, DigestMismatchIsReportedWithBothDigests) {
  auto records = grub_boot_records();
  records[12].measured = "initrd-bytes-changed"; // "Linux initrd"
  const auto mapped = map_tpm_log_to_cc(parse_event_log(make_tpm_log(records)));
  const auto cmp = compare_image_layer(mapped.log, grub_boot_prediction());
  EXPECT_FALSE(cmp.all_predicted_match());
  EXPECT_EQ(cmp.count(EventStatus::digest_mismatch), 1U);
  EXPECT_EQ(cmp.events[4].status, EventStatus::digest_mismatch);
  const auto text = image_layer_report_text(cmp, "x");
  EXPECT_NE(text.find("MISMATCH"), std::string::npos);
  EXPECT_NE(text.find(to_hex(h("initrd-bytes-changed"))), std::string::npos) << text;
  EXPECT_NE(text.find(to_hex(h("initrd-bytes"))), std::string::npos) << text;
}

TEST(ImageLayer, PredictedEventMissingFromTheLogFails) {
  auto records = grub_boot_records();
  records.erase(records.begin() + 12); // no "Linux initrd": a stub < 6.9
  const auto mapped = map_tpm_log_to_cc(parse_event_log(make_tpm_log(records)));
  const auto cmp = compare_image_layer(mapped.log, grub_boot_prediction());
  EXPECT_FALSE(cmp.all_predicted_match());
  EXPECT_EQ(cmp.count(EventStatus::missing_in_log), 1U);
  EXPECT_EQ(cmp.events[4].expected->label, "linux.initrd");
  EXPECT_FALSE(cmp.events[4].actual.has_value());
}

TEST(ImageLayer, LogOnlyEventsAreReportedButDoNotFail) {
  auto records = grub_boot_records();
  // grub measuring its command line into PCR 8: an image event no prediction has.
  records.push_back({8, event_type::k_ipl, "linux /vmlinuz", "grub_cmd: linux /vmlinuz"});
  const auto mapped = map_tpm_log_to_cc(parse_event_log(make_tpm_log(records)));
  const auto cmp = compare_image_layer(mapped.log, grub_boot_prediction());
  EXPECT_TRUE(cmp.all_predicted_match());
  ASSERT_EQ(cmp.count(EventStatus::unexpected_in_log), 1U);
  EXPECT_EQ(cmp.events.back().status, EventStatus::unexpected_in_log);
  EXPECT_EQ(cmp.events.back().actual->pcr, 8U);
  EXPECT_EQ(cmp.events.back().rtmr, 2U);
  const auto text = image_layer_report_text(cmp, "x");
  EXPECT_NE(text.find("log only"), std::string::npos) << text;
  EXPECT_NE(text.find("1 in the log only"), std::string::npos) << text;
}

TEST(ImageLayer, NotPredictedImageEventFails) {
  auto prediction = grub_boot_prediction();
  prediction[2].digest.reset(); // gpt: disk head not supplied
  const auto mapped = map_tpm_log_to_cc(parse_event_log(make_tpm_log(grub_boot_records())));
  const auto cmp = compare_image_layer(mapped.log, prediction);
  EXPECT_FALSE(cmp.all_predicted_match());
  EXPECT_EQ(cmp.events[0].status, EventStatus::not_predicted);
}

TEST(ImageLayer, BootApplicationsAlignInOrder) {
  // An extra boot application before grub (e.g. shim the model was not told
  // about) shifts the alignment: grub's slot sees shim, kernel's sees grub,
  // and the kernel is left over as a log-only event.
  auto records = grub_boot_records();
  records.insert(records.begin() + 9, {4, event_type::k_efi_boot_services_application, "shim-image", "shim"});
  const auto mapped = map_tpm_log_to_cc(parse_event_log(make_tpm_log(records)));
  const auto cmp = compare_image_layer(mapped.log, grub_boot_prediction());
  EXPECT_FALSE(cmp.all_predicted_match());
  EXPECT_EQ(cmp.events[1].status, EventStatus::digest_mismatch);
  EXPECT_EQ(cmp.events[2].status, EventStatus::digest_mismatch);
  EXPECT_EQ(cmp.count(EventStatus::unexpected_in_log), 1U);
}

void
map_replay_compare_or_input_error(std::span<const std::byte> bytes) {
  test::expect_success_or_input_error([&] {
    const auto mapped = map_tpm_log_to_cc(parse_event_log(bytes));
    (void)replay(mapped.log);
    const auto cmp = compare_image_layer(mapped.log, grub_boot_prediction());
    (void)image_layer_report_text(cmp, "x");
    (void)image_layer_report_json(cmp, "x");
    for (const auto &e : mapped.unmapped) {
      (void)describe_event(e);
    }
  });
}

TEST(TpmLogRobustness, TruncationAndCorruption) {
  const auto full = make_tpm_log(grub_boot_records());
  test::for_each_truncation_and_corruption(
      full, 7, [](std::span<const std::byte> bytes) { map_replay_compare_or_input_error(bytes); });
}

} // namespace
} // namespace cvm::measure
