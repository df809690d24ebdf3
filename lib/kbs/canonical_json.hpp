// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <nlohmann/json.hpp>

#include <string>

// RFC 8785 JSON Canonicalization Scheme (JCS), the serialisation both the KBS
// and the attester hash to bind the runtime data into the TEE evidence.
namespace cvm::kbs {

// The JCS form of `value`: no whitespace, object members sorted by the UTF-16
// code units of their names, strings escaped minimally (only '"', '\\' and
// control characters; \b \t \n \f \r short forms, otherwise \u00xx in lower
// case), numbers in the ECMAScript Number.prototype.toString form of the
// nearest IEEE-754 double (integers are converted to double first, as JCS
// requires). Throws cvm::Error(input) on NaN/infinity, binary values or
// invalid UTF-8.
std::string canonical_json(const nlohmann::json &value);

// The ECMAScript string form of `number` (RFC 8785 §3.2.2.3); exposed for the
// number vectors. Throws cvm::Error(input) for NaN and infinities.
std::string canonical_number(double number);

} // namespace cvm::kbs
