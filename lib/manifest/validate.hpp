// SPDX-License-Identifier: Apache-2.0
#pragma once

// Internal to lib/manifest: defaults that depend on other keys, and the
// cross-field rules (contradictions) that single-key checks cannot see.

#include "lib/manifest/manifest.hpp"
#include "lib/manifest/reader.hpp"

namespace cvm::manifest::detail {

// Fill in defaults derived from other keys (output.key_file = <output>.key, ...).
void apply_defaults(Manifest &manifest);

// Report contradictions between keys; each at the location of the key at fault.
void validate(Reader &reader, const Manifest &manifest);

} // namespace cvm::manifest::detail
