// SPDX-License-Identifier: Apache-2.0
#include "measurement/reference.hpp"

#include "lib/util/base64.hpp"
#include "lib/util/error.hpp"
#include "lib/util/hex.hpp"
#include "lib/util/text.hpp"
#include "measurement/eventlog.hpp"

#include <fmt/core.h>

namespace cvm::measure {

namespace {

const std::string k_zero48_hex(96, '0');

std::optional<std::string>
digest_of_label(const Prediction &p, std::string_view label) {
  for (const auto &e : p.events) {
    if (e.label == label && e.digest) {
      return to_hex(*e.digest);
    }
  }
  return std::nullopt;
}

std::vector<std::string>
mrtd_values(const Prediction &p) {
  if (p.selected_page_add_order == PageAddOrder::single_pass) {
    return {to_hex(p.mrtd.single_pass)};
  }
  if (p.selected_page_add_order == PageAddOrder::two_pass) {
    return {to_hex(p.mrtd.two_pass)};
  }
  return {to_hex(p.mrtd.single_pass), to_hex(p.mrtd.two_pass)};
}

std::uint32_t
type_from_name(const std::string &name) {
  // Accept both "0x80000003" and the type names this project writes.
  if (name.starts_with("0x")) {
    return static_cast<std::uint32_t>(std::stoul(name, nullptr, 16));
  }
  for (std::uint32_t t : {event_type::k_efi_handoff_tables2,
                          event_type::k_efi_platform_firmware_blob2,
                          event_type::k_efi_variable_driver_config,
                          event_type::k_separator,
                          event_type::k_platform_config_flags,
                          event_type::k_efi_variable_boot,
                          event_type::k_efi_variable_authority,
                          event_type::k_efi_action,
                          event_type::k_efi_gpt_event,
                          event_type::k_efi_boot_services_application,
                          event_type::k_ipl,
                          event_type::k_event_tag}) {
    if (event_type_name(t) == name) {
      return t;
    }
  }
  return 0;
}

} // namespace

void
put_predicted_digest(nlohmann::json &j, const PredictedEvent &event) {
  if (event.digest) {
    j["digest"] = to_hex(*event.digest);
  } else {
    j["digest"] = nullptr;
    j["not_predicted"] = event.not_predicted_reason;
  }
}

nlohmann::json
prediction_to_json(const Prediction &p) {
  nlohmann::json events = nlohmann::json::array();
  for (const auto &e : p.events) {
    nlohmann::json j = {{"rtmr", e.rtmr},
                        {"mr_index", e.rtmr + 1},
                        {"type", event_type_name(e.type)},
                        {"type_id", fmt::format("{:#x}", e.type)},
                        {"label", e.label},
                        {"description", e.description},
                        {"depends_on", e.depends_on}};
    put_predicted_digest(j, e);
    events.push_back(std::move(j));
  }
  nlohmann::json rtmr = nlohmann::json::object();
  for (std::size_t i = 0; i < p.rtmr.size(); ++i) {
    rtmr[std::to_string(i)] = p.rtmr[i] ? nlohmann::json(to_hex(*p.rtmr[i])) : nlohmann::json(nullptr);
  }
  nlohmann::json mrtd = {{"single_pass", to_hex(p.mrtd.single_pass)},
                         {"two_pass", to_hex(p.mrtd.two_pass)},
                         {"selected",
                          p.selected_page_add_order ? nlohmann::json(to_string(*p.selected_page_add_order))
                                                    : nlohmann::json(nullptr)}};
  return {
      {"schema", k_measurement_schema},
      {"inputs", p.inputs},
      {"mrtd", mrtd},
      {"rtmr", rtmr},
      {"events", events},
      {"notes", p.notes},
      {"verifier", {{"trustee_rvps_sample", trustee_reference_values(p)}, {"ita_policy", ita_policy(p)}}}};
}

std::vector<PredictedEvent>
events_from_json(const nlohmann::json &document) {
  std::vector<PredictedEvent> out;
  try {
    if (!document.contains("events") || !document["events"].is_array()) {
      throw Error(
          ErrorKind::input, "expected reference: no \"events\" array (schema {})", k_measurement_schema);
    }
    std::size_t index = 0;
    for (const auto &j : document["events"]) {
      PredictedEvent e;
      e.rtmr = j.at("rtmr").get<std::size_t>();
      if (e.rtmr >= 4) {
        throw Error(ErrorKind::input, "expected reference: event {} has rtmr {}", index, e.rtmr);
      }
      e.type = type_from_name(j.value("type_id", j.value("type", std::string("0x0"))));
      e.label = j.value("label", "");
      e.description = j.value("description", "");
      e.depends_on = j.value("depends_on", std::vector<std::string>{});
      if (j.contains("digest") && j["digest"].is_string()) {
        const auto d = from_hex(j["digest"].get<std::string>());
        if (!d || d->size() != 48) {
          throw Error(ErrorKind::input, "expected reference: event {} digest is not 96 hex digits", index);
        }
        crypto::Sha384 digest{};
        std::copy(d->begin(), d->end(), digest.begin());
        e.digest = digest;
      } else {
        e.not_predicted_reason = j.value("not_predicted", "not predicted");
      }
      out.push_back(std::move(e));
      ++index;
    }
  } catch (const nlohmann::json::exception &e) {
    throw Error(ErrorKind::input, "expected reference: {}", e.what());
  } catch (const std::logic_error &e) {
    throw Error(ErrorKind::input, "expected reference: {}", e.what());
  }
  return out;
}

nlohmann::json
trustee_reference_values(const Prediction &p) {
  nlohmann::json v = nlohmann::json::object();
  v["mr_td"] = mrtd_values(p);
  for (std::size_t i : {1U, 2U}) {
    if (p.rtmr[i]) {
      v[fmt::format("rtmr_{}", i)] = {to_hex(*p.rtmr[i])};
    }
  }
  // Trustee selects the kernel event by its device path File(kernel): direct boot only.
  const bool direct = p.inputs.contains("image") && p.inputs["image"].value("boot", "") == "direct";
  if (direct) {
    if (const auto k = digest_of_label(p, "kernel")) {
      v["tdvfkernel"] = {*k};
    }
  }
  if (const auto params = digest_of_label(p, "linux.load_options")) {
    v["tdvfkernelparams"] = {*params};
  }
  return v;
}

nlohmann::json
trustee_rvps_message(const Prediction &p) {
  const std::string payload = trustee_reference_values(p).dump();
  return {{"version", "0.1.0"}, {"type", "sample"}, {"payload", base64_encode(as_bytes(payload))}};
}

nlohmann::json
ita_policy(const Prediction &p) {
  nlohmann::json appraisal = nlohmann::json::object();
  const auto mrtd = mrtd_values(p);
  appraisal["tdx_mrtd"] = mrtd.size() == 1 ? nlohmann::json(mrtd[0]) : nlohmann::json(mrtd);
  for (std::size_t i = 0; i < 3; ++i) {
    if (p.rtmr[i]) {
      appraisal[fmt::format("tdx_rtmr{}", i)] = to_hex(*p.rtmr[i]);
    }
  }
  appraisal["tdx_rtmr3"] = k_zero48_hex;
  appraisal["tdx_is_debuggable"] = false;
  return {{"policy", {{"tdx_appraisal", appraisal}}}};
}

std::string
ita_policy_rego(const Prediction &p) {
  std::string rules;
  std::string sets;
  const auto policy = ita_policy(p)["policy"]["tdx_appraisal"];
  for (const auto &[key, value] : policy.items()) {
    if (value.is_boolean()) {
      rules += fmt::format("  input.{} == {}\n", key, value.get<bool>() ? "true" : "false");
    } else if (value.is_array()) {
      std::string members;
      for (const auto &m : value) {
        members += (members.empty() ? "" : ", ") + m.dump();
      }
      sets += fmt::format("acceptable_{} := {{{}}}\n", key, members);
      rules += fmt::format("  acceptable_{}[input.{}]\n", key, key);
    } else {
      rules += fmt::format("  input.{} == {}\n", key, value.dump());
    }
  }
  return fmt::format(
      "default matches_tdx_policy = false\n\nmatches_tdx_policy = true {{\n{}}}\n\n{}", rules, sets);
}

std::string
prediction_to_text(const Prediction &p) {
  // At most text::k_report_width columns: a 96-digit value goes under its name.
  std::string out;
  out += fmt::format("MRTD (single_pass){}\n  {}\n",
                     p.selected_page_add_order == PageAddOrder::single_pass ? "  selected" : "",
                     to_hex(p.mrtd.single_pass));
  out += fmt::format("MRTD (two_pass){}\n  {}\n",
                     p.selected_page_add_order == PageAddOrder::two_pass ? "  selected" : "",
                     to_hex(p.mrtd.two_pass));
  for (std::size_t i = 0; i < p.rtmr.size(); ++i) {
    out += fmt::format("RTMR{}\n  {}\n", i, p.rtmr[i] ? to_hex(*p.rtmr[i]) : "not predicted");
  }
  std::size_t current = 99;
  for (const auto &e : p.events) {
    if (e.rtmr != current) {
      current = e.rtmr;
      out += fmt::format("\nRTMR{} events:\n", current);
    }
    out += fmt::format("  {:<36} {:<34} {}\n",
                       e.label,
                       event_type_name(e.type),
                       e.digest ? to_hex(*e.digest).substr(0, 16) + "…" : "NOT PREDICTED");
    out += text::wrap(e.description, "      ", "      ");
    if (!e.digest) {
      out += text::wrap(e.not_predicted_reason, "      reason: ", "        ");
    }
    std::string deps;
    for (const auto &d : e.depends_on) {
      deps += (deps.empty() ? "" : ", ") + d;
    }
    out += text::wrap(deps, "      depends on: ", "        ");
  }
  if (!p.notes.empty()) {
    out += "\nnotes:\n";
    for (const auto &n : p.notes) {
      out += text::wrap(n, "  - ", "    ");
    }
  }
  return out;
}

} // namespace cvm::measure
