// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/pipeline/context.hpp"

#include <nlohmann/json.hpp>

namespace cvm::pipeline {

// The build report (<output>.report.json) from the typed state the stages
// left in `ctx`: commit makes it once, as its last step. A section appears
// when the stage that produces it has run (a stage's unit test can read its
// own section); no key material ever enters it.
nlohmann::ordered_json build_report(const BuildContext &ctx);

} // namespace cvm::pipeline
