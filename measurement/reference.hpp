// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "measurement/predict.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

// Encodings of a Prediction: cvmforge's own JSON (schema
// cvmforge.tdx-measurement/v1), a Trustee RVPS "sample" message, an Intel
// Trust Authority policy, and readable text. All deterministic: sorted keys,
// lower-case hex.
namespace cvm::measure {

inline constexpr std::string_view k_measurement_schema = "cvmforge.tdx-measurement/v1";

// The full result: inputs, both MRTD candidates, per-event lists with labels
// and dependencies, registers (null when not predicted), notes.
nlohmann::json prediction_to_json(const Prediction &prediction);

// Sets `j`'s "digest" to the event's lower-case hex digest, or to null with
// "not_predicted" saying why (as in prediction_to_json's events).
void put_predicted_digest(nlohmann::json &j, const PredictedEvent &event);

// Reads the "events" of a prediction_to_json() document back (for `measure
// replay --expected`). Throws cvm::Error(input) naming the event on bad input.
std::vector<PredictedEvent> events_from_json(const nlohmann::json &document);

// The reference values Trustee's default TDX policy queries: mr_td, rtmr_1,
// rtmr_2, tdvfkernel, tdvfkernelparams (only those predicted).
nlohmann::json trustee_reference_values(const Prediction &prediction);

// {"version":"0.1.0","type":"sample","payload":"<base64 of the reference values>"},
// ready for `rvps-tool register --path`.
nlohmann::json trustee_rvps_message(const Prediction &prediction);

// An Intel Trust Authority policy: the Policy Builder JSON form
// ({"policy":{"tdx_appraisal":{…}}}) and the equivalent Rego.
nlohmann::json ita_policy(const Prediction &prediction);

std::string ita_policy_rego(const Prediction &prediction);

// Readable text: MRTD candidates, registers, then each register's events.
std::string prediction_to_text(const Prediction &prediction);

} // namespace cvm::measure
