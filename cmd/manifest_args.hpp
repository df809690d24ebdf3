// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/manifest/manifest.hpp"

#include <string>

// Shared by the verbs that take a manifest (validate, plan, build).
namespace cvm::cli {

// Load `path`, print every diagnostic on stderr, and return the manifest or
// throw cvm::Error(manifest) with a one-line summary (exit code 2).
manifest::Manifest load_manifest_or_throw(const std::string &path);

} // namespace cvm::cli
