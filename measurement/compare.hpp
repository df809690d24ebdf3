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
