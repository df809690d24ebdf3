// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/manifest/manifest.hpp"
#include "lib/plan/stages.hpp"
#include "measurement/binding.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace cvm::plan {

// One step of `cvmforge build`, as decided before anything is touched.
struct StagePlan {
  std::size_t index;                      // its position in plan::Stages
  std::string name;                       // "copy-root"
  std::string heading;                    // "Copying the root filesystem into the LUKS2 volume"
  std::optional<std::string> skip_reason; // nullopt = runs
};

struct BuildPlan {
  manifest::Manifest manifest;
  std::vector<StagePlan> stages;
  // Attested images: what binds the key to the image, as far as the
  // manifest tells (the build completes it after inspecting the base).
  std::optional<measure::BindingVerdict> binding;
};

// One file `cvmforge build` writes.
struct OutputFile {
  std::string key;            // the manifest key that names or implies it ("output.path")
  std::filesystem::path path; // where it goes
  std::string what;           // "the disk key (0600): upload it to your key broker"
  bool secret = false;        // written 0600; never commit it, never print it
};

// Every file a build of `manifest` writes, in the order `build` checks them;
// `plan` shows the same list (so it never understates what a build writes).
std::vector<OutputFile> output_files(const manifest::Manifest &manifest);

// True for test-flavour manifests (attestation.tee: sample): images that
// must never be deployed.
bool insecure_test(const manifest::Manifest &manifest);

// The stages of `cvmforge build` for `manifest`: the stage table
// (lib/plan/stages.hpp) with each heading and skip rule applied.
BuildPlan make_plan(manifest::Manifest manifest);

nlohmann::ordered_json to_json(const BuildPlan &plan);

// Human-readable plan: the resolved manifest summary and numbered stages.
std::string to_text(const BuildPlan &plan);

} // namespace cvm::plan
