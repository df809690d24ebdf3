// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/pipeline/context.hpp"
#include "lib/plan/stages.hpp"

namespace cvm::pipeline {

using StageFn = void (*)(BuildContext &);

// The function that carries out `stage` (lib/pipeline/stages/<name>.cpp).
StageFn stage_function(plan::Stage stage);

} // namespace cvm::pipeline
