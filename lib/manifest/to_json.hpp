// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/manifest/manifest.hpp"

#include <nlohmann/json.hpp>

namespace cvm::manifest {

// The resolved manifest (defaults filled in, paths absolute) as JSON, with the
// same key names as the YAML schema. Used by `cvmforge plan` and build reports.
nlohmann::ordered_json to_json(const Manifest &manifest);

} // namespace cvm::manifest
