// SPDX-License-Identifier: Apache-2.0
#include "measurement/compare.hpp"

#include "lib/util/hex.hpp"
#include "measurement/reference.hpp"

#include <fmt/core.h>

#include <algorithm>

namespace cvm::measure {

namespace {

std::string
join(const std::vector<std::string> &items) {
  std::string out;
  for (const auto &i : items) {
    out += (out.empty() ? "" : ", ") + i;
  }
  return out;
}

std::string
actual_digest_hex(const Event &e) {
  const auto *d = e.digest(k_alg_sha384);
  return d == nullptr ? std::string() : to_hex(*d);
}

nlohmann::json
event_json(const Event &e) {
  nlohmann::json j = {{"sequence", e.sequence},
                      {"offset", e.offset},
                      {"mr_index", e.mr_index},
                      {"type", event_type_name(e.type)},
                      {"type_id", fmt::format("{:#x}", e.type)},
                      {"digest", actual_digest_hex(e)},
                      {"description", describe_event(e)}};
  if (e.pcr) {
    j["pcr"] = *e.pcr;
  }
  return j;
}

nlohmann::json
expected_json(const PredictedEvent &e) {
  nlohmann::json j = {{"label", e.label},
                      {"type", event_type_name(e.type)},
                      {"description", e.description},
                      {"depends_on", e.depends_on}};
  put_predicted_digest(j, e);
  return j;
}

} // namespace

std::string
to_string(EventStatus status) {
  switch (status) {
  case EventStatus::match:
    return "match";
  case EventStatus::digest_mismatch:
    return "digest_mismatch";
  case EventStatus::not_predicted:
    return "not_predicted";
  case EventStatus::missing_in_log:
    return "missing_in_log";
  case EventStatus::unexpected_in_log:
    return "unexpected_in_log";
  }
  return "unknown";
}

bool
ReplayComparison::all_match() const noexcept {
  return std::all_of(registers.begin(), registers.end(), [](const RegisterComparison &r) {
    return !r.first_divergence.has_value();
  });
}

ReplayComparison
compare_with_prediction(const EventLog &log, std::span<const PredictedEvent> expected) {
  ReplayComparison out;
  for (std::size_t rtmr = 0; rtmr < k_rtmr_count; ++rtmr) {
    std::vector<const Event *> actual;
    for (const auto &e : log.events) {
      if (is_extending(e) && e.mr_index == mr_index_of_rtmr(rtmr)) {
        actual.push_back(&e);
      }
    }
    std::vector<const PredictedEvent *> predicted;
    for (const auto &e : expected) {
      if (e.rtmr == rtmr) {
        predicted.push_back(&e);
      }
    }
    auto &reg = out.registers[rtmr];
    reg.rtmr = rtmr;
    const std::size_t n = std::max(actual.size(), predicted.size());
    for (std::size_t i = 0; i < n; ++i) {
      EventComparison c;
      c.rtmr = rtmr;
      c.position = i;
      if (i < actual.size()) {
        c.actual = *actual[i];
      }
      if (i < predicted.size()) {
        c.expected = *predicted[i];
      }
      if (!c.actual) {
        c.status = EventStatus::missing_in_log;
      } else if (!c.expected) {
        c.status = EventStatus::unexpected_in_log;
      } else if (!c.expected->digest) {
        c.status = EventStatus::not_predicted;
      } else {
        const auto *d = c.actual->digest(k_alg_sha384);
        const bool same = d != nullptr && d->size() == c.expected->digest->size() &&
                          std::equal(d->begin(), d->end(), c.expected->digest->begin());
        c.status = same ? EventStatus::match : EventStatus::digest_mismatch;
      }
      if (c.status != EventStatus::match && !reg.first_divergence) {
        reg.first_divergence = reg.events.size();
      }
      reg.events.push_back(std::move(c));
    }
  }
  return out;
}

bool
is_image_layer_event(std::size_t rtmr, std::uint32_t type) noexcept {
  if (rtmr != 1 && rtmr != 2) {
    return false;
  }
  return type == event_type::k_efi_gpt_event || type == event_type::k_efi_boot_services_application ||
         type == event_type::k_event_tag || type == event_type::k_ipl;
}

bool
ImageLayerComparison::all_predicted_match() const noexcept {
  return std::all_of(events.begin(), events.end(), [](const EventComparison &c) {
    return c.status == EventStatus::match || c.status == EventStatus::unexpected_in_log;
  });
}

std::size_t
ImageLayerComparison::count(EventStatus status) const noexcept {
  return static_cast<std::size_t>(std::count_if(
      events.begin(), events.end(), [&](const EventComparison &c) { return c.status == status; }));
}

ImageLayerComparison
compare_image_layer(const EventLog &log, std::span<const PredictedEvent> expected) {
  ImageLayerComparison out;
  // The log's image-layer events, and whether a prediction consumed them.
  std::vector<const Event *> logged;
  for (const auto &e : log.events) {
    if (!is_extending(e) || e.mr_index < 1 || e.mr_index > k_rtmr_count) {
      continue;
    }
    if (is_image_layer_event(e.mr_index - 1, e.type)) {
      logged.push_back(&e);
    } else {
      ++out.platform_events_not_compared;
    }
  }
  std::vector<bool> consumed(logged.size(), false);
  std::array<std::size_t, k_rtmr_count> position{};
  for (const auto &p : expected) {
    if (!is_image_layer_event(p.rtmr, p.type)) {
      continue;
    }
    EventComparison c;
    c.rtmr = p.rtmr;
    c.position = position.at(p.rtmr)++;
    c.expected = p;
    // The first logged event of the same register and type that no earlier
    // prediction took: predictions and log are aligned per (register, type).
    std::optional<std::size_t> hit;
    for (std::size_t i = 0; i < logged.size() && !hit; ++i) {
      if (!consumed[i] && logged[i]->mr_index == mr_index_of_rtmr(p.rtmr) && logged[i]->type == p.type) {
        hit = i;
      }
    }
    if (!hit) {
      c.status = EventStatus::missing_in_log;
    } else {
      consumed[*hit] = true;
      c.actual = *logged[*hit];
      if (!p.digest) {
        c.status = EventStatus::not_predicted;
      } else {
        const auto *d = c.actual->digest(k_alg_sha384);
        const bool same = d != nullptr && d->size() == p.digest->size() &&
                          std::equal(d->begin(), d->end(), p.digest->begin());
        c.status = same ? EventStatus::match : EventStatus::digest_mismatch;
      }
    }
    out.events.push_back(std::move(c));
  }
  for (std::size_t i = 0; i < logged.size(); ++i) {
    if (consumed[i]) {
      continue;
    }
    EventComparison c;
    c.rtmr = logged[i]->mr_index - 1;
    c.position = position.at(c.rtmr)++;
    c.status = EventStatus::unexpected_in_log;
    c.actual = *logged[i];
    out.events.push_back(std::move(c));
  }
  return out;
}

nlohmann::json
image_layer_report_json(const ImageLayerComparison &comparison, std::string_view platform_note) {
  nlohmann::json events = nlohmann::json::array();
  for (const auto &c : comparison.events) {
    nlohmann::json e = {{"rtmr", c.rtmr}, {"position", c.position}, {"status", to_string(c.status)}};
    if (c.actual) {
      e["actual"] = event_json(*c.actual);
    }
    if (c.expected) {
      e["expected"] = expected_json(*c.expected);
    }
    events.push_back(std::move(e));
  }
  return {{"match", comparison.all_predicted_match()},
          {"events", events},
          {"counts",
           {{"match", comparison.count(EventStatus::match)},
            {"digest_mismatch", comparison.count(EventStatus::digest_mismatch)},
            {"missing_in_log", comparison.count(EventStatus::missing_in_log)},
            {"not_predicted", comparison.count(EventStatus::not_predicted)},
            {"unexpected_in_log", comparison.count(EventStatus::unexpected_in_log)}}},
          {"platform_events_not_compared", comparison.platform_events_not_compared},
          {"platform_layer", std::string(platform_note)}};
}

std::string
image_layer_report_text(const ImageLayerComparison &comparison, std::string_view platform_note) {
  const auto status_text = [](EventStatus s) -> std::string {
    switch (s) {
    case EventStatus::match:
      return "match";
    case EventStatus::digest_mismatch:
      return "MISMATCH";
    case EventStatus::missing_in_log:
      return "MISSING in log";
    case EventStatus::not_predicted:
      return "NOT PREDICTED";
    case EventStatus::unexpected_in_log:
      return "log only";
    }
    return "?";
  };
  const auto short_hex = [](const std::string &hex) {
    return hex.empty() ? std::string("-") : hex.substr(0, 16);
  };
  std::string out = "image layer, event by event:\n";
  out += fmt::format("  {:<5} {:<4} {:<36} {:<33} {:<14} {:<16}  {}\n",
                     "RTMR",
                     "PCR",
                     "label",
                     "type",
                     "status",
                     "log digest",
                     "predicted");
  for (const auto &c : comparison.events) {
    const std::string pcr = c.actual && c.actual->pcr ? std::to_string(*c.actual->pcr) : "-";
    std::string label = c.expected ? c.expected->label : "(not predicted)";
    const std::string type = event_type_name(c.expected ? c.expected->type : c.actual->type);
    const std::string logged = c.actual ? actual_digest_hex(*c.actual) : std::string();
    const std::string predicted =
        c.expected && c.expected->digest ? to_hex(*c.expected->digest) : std::string();
    out += fmt::format("  {:<5} {:<4} {:<36} {:<33} {:<14} {:<16}  {}\n",
                       c.rtmr,
                       pcr,
                       label,
                       type,
                       status_text(c.status),
                       short_hex(logged),
                       short_hex(predicted));
    if (c.status == EventStatus::digest_mismatch) {
      out += fmt::format("        log:       {}\n        predicted: {}\n", logged, predicted);
    }
    if (c.status != EventStatus::match) {
      const std::string what = c.actual ? describe_event(*c.actual) : c.expected->description;
      if (!what.empty()) {
        out += fmt::format("        ({})\n", what);
      }
      if (c.expected && !c.expected->depends_on.empty()) {
        out += fmt::format("        depends on: {}\n", join(c.expected->depends_on));
      }
    }
  }
  const std::size_t predicted = comparison.events.size() - comparison.count(EventStatus::unexpected_in_log);
  out += fmt::format("image layer: {} predicted: {} match, {} mismatch, {} missing in the log, {} not "
                     "predicted; {} in the log only\n",
                     predicted,
                     comparison.count(EventStatus::match),
                     comparison.count(EventStatus::digest_mismatch),
                     comparison.count(EventStatus::missing_in_log),
                     comparison.count(EventStatus::not_predicted),
                     comparison.count(EventStatus::unexpected_in_log));
  out += fmt::format("platform layer: {} events not compared ({})\n",
                     comparison.platform_events_not_compared,
                     platform_note);
  return out;
}

QuoteCheck
check_against_quote(const RtmrBank &replayed, const Quote &quote) {
  QuoteCheck check;
  for (std::size_t i = 0; i < k_rtmr_count; ++i) {
    check.rtmr_match[i] = replayed.value(i) == quote.body.rtmr[i];
  }
  return check;
}

nlohmann::json
replay_report_json(const EventLog &log,
                   const RtmrBank &replayed,
                   const std::optional<Quote> &quote,
                   const std::optional<QuoteCheck> &quote_check,
                   const std::optional<ReplayComparison> &comparison) {
  nlohmann::json events = nlohmann::json::array();
  for (const auto &e : log.events) {
    auto j = event_json(e);
    j["extends"] = is_extending(e);
    if (is_extending(e)) {
      j["rtmr"] = e.mr_index - 1;
    }
    events.push_back(std::move(j));
  }
  nlohmann::json rtmr = nlohmann::json::object();
  for (std::size_t i = 0; i < k_rtmr_count; ++i) {
    rtmr[std::to_string(i)] = to_hex(replayed.value(i));
  }
  nlohmann::json out = {{"schema", "cvmforge.tdx-replay/v1"},
                        {"log",
                         {{"algorithms", nlohmann::json::array()},
                          {"end_offset", log.end_offset},
                          {"records", log.events.size()}}},
                        {"rtmr", rtmr},
                        {"events", events}};
  for (const auto &a : log.algorithms) {
    out["log"]["algorithms"].push_back(algorithm_name(a.algorithm));
  }
  if (quote) {
    nlohmann::json q = {{"version", quote->header.version},
                        {"mr_td", to_hex(quote->body.mr_td)},
                        {"mr_config_id", to_hex(quote->body.mr_config_id)},
                        {"mr_owner", to_hex(quote->body.mr_owner)},
                        {"mr_owner_config", to_hex(quote->body.mr_owner_config)},
                        {"mr_seam", to_hex(quote->body.mr_seam)},
                        {"td_attributes", fmt::format("{:016x}", quote->body.td_attributes)},
                        {"td_attribute_names", td_attribute_names(quote->body.td_attributes)},
                        {"xfam", fmt::format("{:016x}", quote->body.xfam)},
                        {"report_data", to_hex(quote->body.report_data)},
                        {"rtmr", nlohmann::json::array()}};
    for (const auto &r : quote->body.rtmr) {
      q["rtmr"].push_back(to_hex(r));
    }
    if (quote_check) {
      q["rtmr_match"] = quote_check->rtmr_match;
    }
    out["quote"] = q;
  }
  if (comparison) {
    nlohmann::json regs = nlohmann::json::array();
    for (const auto &reg : comparison->registers) {
      nlohmann::json r = {
          {"rtmr", reg.rtmr}, {"match", !reg.first_divergence}, {"events", nlohmann::json::array()}};
      for (const auto &c : reg.events) {
        nlohmann::json e = {{"position", c.position}, {"status", to_string(c.status)}};
        if (c.actual) {
          e["actual"] = event_json(*c.actual);
        }
        if (c.expected) {
          e["expected"] = expected_json(*c.expected);
        }
        r["events"].push_back(std::move(e));
      }
      if (reg.first_divergence) {
        const auto &c = reg.events[*reg.first_divergence];
        r["first_divergence"] = {
            {"position", c.position},
            {"status", to_string(c.status)},
            {"label", c.expected ? c.expected->label : ""},
            {"depends_on", c.expected ? c.expected->depends_on : std::vector<std::string>{}}};
      }
      regs.push_back(std::move(r));
    }
    out["comparison"] = {{"match", comparison->all_match()}, {"registers", regs}};
  }
  return out;
}

std::string
replay_report_text(const EventLog &log,
                   const RtmrBank &replayed,
                   const std::optional<Quote> &quote,
                   const std::optional<QuoteCheck> &quote_check,
                   const std::optional<ReplayComparison> &comparison) {
  std::string out;
  std::size_t extending = 0;
  for (const auto &e : log.events) {
    extending += is_extending(e) ? 1 : 0;
  }
  out += fmt::format("event log: {} records ({} extending), ends at offset {:#x}\n",
                     log.events.size(),
                     extending,
                     log.end_offset);
  for (const auto &e : log.events) {
    if (!is_extending(e)) {
      continue;
    }
    out += fmt::format("  RTMR{}{} {:<34} {}  {}\n",
                       e.mr_index - 1,
                       e.pcr ? fmt::format(" (PCR{:<2})", *e.pcr) : std::string(),
                       event_type_name(e.type),
                       actual_digest_hex(e).substr(0, 16),
                       describe_event(e));
  }
  for (std::size_t i = 0; i < k_rtmr_count; ++i) {
    out += fmt::format("RTMR{} {}", i, to_hex(replayed.value(i)));
    if (quote_check) {
      out += quote_check->rtmr_match[i] ? "  = quote" : "  != quote " + to_hex(quote->body.rtmr[i]);
    }
    out += "\n";
  }
  if (quote) {
    out += fmt::format("quote v{}: MRTD {}\n  attributes {:016x} ({}), XFAM {:016x}\n",
                       quote->header.version,
                       to_hex(quote->body.mr_td),
                       quote->body.td_attributes,
                       join(td_attribute_names(quote->body.td_attributes)),
                       quote->body.xfam);
  }
  if (comparison) {
    for (const auto &reg : comparison->registers) {
      if (!reg.first_divergence) {
        out += fmt::format("RTMR{}: all {} events match the prediction\n", reg.rtmr, reg.events.size());
        continue;
      }
      const auto &c = reg.events[*reg.first_divergence];
      out += fmt::format(
          "RTMR{}: first divergence at event {} ({})\n", reg.rtmr, c.position, to_string(c.status));
      if (c.actual) {
        out += fmt::format("  log:       {} {} {}\n",
                           event_type_name(c.actual->type),
                           actual_digest_hex(*c.actual),
                           describe_event(*c.actual));
      }
      if (c.expected) {
        out += fmt::format("  predicted: {} {} [{}]\n",
                           c.expected->label,
                           c.expected->digest ? to_hex(*c.expected->digest) : "(not predicted)",
                           c.expected->description);
        out += fmt::format("  depends on: {}\n", join(c.expected->depends_on));
        if (!c.expected->digest) {
          out += fmt::format("  reason: {}\n", c.expected->not_predicted_reason);
        }
      }
    }
  }
  return out;
}

} // namespace cvm::measure
