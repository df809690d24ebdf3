// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "measurement/eventlog.hpp"
#include "measurement/predict.hpp"
#include "measurement/quote.hpp"
#include "measurement/rtmr.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// Event-by-event comparison of a replayed CC event log against a prediction,
// and of the replayed registers against a quote.
namespace cvm::measure {

enum class EventStatus {
  match,
  digest_mismatch,   // same position, different digest
  not_predicted,     // the prediction has an explicit "not predicted" here
  missing_in_log,    // predicted, but the log's register has fewer events
  unexpected_in_log, // logged, but the prediction has fewer events
};

std::string to_string(EventStatus status);

struct EventComparison {
  std::size_t rtmr = 0;
  std::size_t position = 0; // index within the register
  EventStatus status = EventStatus::match;
  std::optional<Event> actual;
  std::optional<PredictedEvent> expected;
};

struct RegisterComparison {
  std::size_t rtmr = 0;
  std::vector<EventComparison> events;
  std::optional<std::size_t> first_divergence; // index into `events`
};

struct ReplayComparison {
  std::array<RegisterComparison, 4> registers;

  bool all_match() const noexcept;
};

// Compares the extending events of `log`, register by register and position
// by position, with `expected` (a prediction's event list).
ReplayComparison compare_with_prediction(const EventLog &log, std::span<const PredictedEvent> expected);

// The image layer of a boot: what the disk image decides, as opposed to the
// platform (firmware, VM shape, QEMU): in RTMR1 and RTMR2 the GPT, the boot
// applications (shim, grub, kernel) and the tagged / IPL events of the kernel
// stub, shim and grub. Actions and separators are fixed firmware events;
// RTMR0 (variables, ACPI, authorities) is the platform's.
bool is_image_layer_event(std::size_t rtmr, std::uint32_t type) noexcept;

// Image-layer events only, independent of the platform events around them:
// for a log from different hardware (e.g. a VM with a software TPM, whose
// firmware logs its own PCR 0..7 events) or a TD on another VM shape.
struct ImageLayerComparison {
  // Every predicted image-layer event in prediction order (match,
  // digest_mismatch, not_predicted or missing_in_log), then every logged
  // image-layer event no prediction accounts for (unexpected_in_log), in log
  // order. `position` is the index among the register's image-layer events.
  std::vector<EventComparison> events;
  // Extending log events outside the image layer (not compared).
  std::size_t platform_events_not_compared = 0;

  // True when every predicted image-layer event matches; events present only
  // in the log are reported but do not fail the comparison.
  bool all_predicted_match() const noexcept;
  std::size_t count(EventStatus status) const noexcept;
};

// Aligns predicted and logged image-layer events per register and event type
// in order: the n-th predicted EV_EFI_BOOT_SERVICES_APPLICATION of RTMR1 is
// compared with the n-th logged one, and so on.
ImageLayerComparison compare_image_layer(const EventLog &log, std::span<const PredictedEvent> expected);

// {"match": bool, "events": [...], "platform_events_not_compared": n,
//  "platform_layer": "<why it is not compared>"}
nlohmann::json image_layer_report_json(const ImageLayerComparison &comparison,
                                       std::string_view platform_note);

// A table: one row per image-layer event (register, PCR when the log is a
// TPM log, label, event type, status, digests), then a summary line.
std::string image_layer_report_text(const ImageLayerComparison &comparison, std::string_view platform_note);

struct QuoteCheck {
  std::array<bool, 4> rtmr_match{};
  bool
  all_match() const noexcept {
    return rtmr_match[0] && rtmr_match[1] && rtmr_match[2] && rtmr_match[3];
  }
};

// Whether each replayed register equals the quote's RTMR.
QuoteCheck check_against_quote(const RtmrBank &replayed, const Quote &quote);

// The replay report as JSON (schema cvmforge.tdx-replay/v1, see README.md).
nlohmann::json replay_report_json(const EventLog &log,
                                  const RtmrBank &replayed,
                                  const std::optional<Quote> &quote,
                                  const std::optional<QuoteCheck> &quote_check,
                                  const std::optional<ReplayComparison> &comparison);

// The same report as readable text.
std::string replay_report_text(const EventLog &log,
                               const RtmrBank &replayed,
                               const std::optional<Quote> &quote,
                               const std::optional<QuoteCheck> &quote_check,
                               const std::optional<ReplayComparison> &comparison);

} // namespace cvm::measure
