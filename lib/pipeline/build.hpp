// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/guestfs/appliance.hpp"
#include "lib/luks/luks_volume.hpp"
#include "lib/plan/plan.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

// `cvmforge build`: execute a BuildPlan against real images.
namespace cvm::pipeline {

enum class Overwrite { no, yes };
enum class KeepFailed { no, yes };

struct BuildOptions {
  Overwrite overwrite = Overwrite::no;     // --force: replace output and key file
  KeepFailed keep_failed = KeepFailed::no; // --keep-failed: keep temporaries on failure
  // Emits one JSON object per progress event (stage start/end); empty = none.
  std::function<void(const nlohmann::ordered_json &)> on_event;
  // Directory holding cvmforge-agent bundles (cmd/agent); empty = next to the
  // cvmforge binary.
  std::filesystem::path agent_dir;
};

// What the stages reach outside the process through: libguestfs appliances
// and libcryptsetup in a build (real_backends()), fakes in unit tests.
struct Backends {
  std::unique_ptr<guestfs::Launcher> launcher;
  std::unique_ptr<luks::LuksVolume> luks;
};

// libguestfs and libcryptsetup.
Backends real_backends();

// bugprone-exception-escape: the implicit noexcept members reach
// nlohmann::json internals the check cannot prove non-throwing.
// NOLINTNEXTLINE(bugprone-exception-escape)
struct BuildResult {
  std::filesystem::path output;
  std::filesystem::path key_file;
  std::filesystem::path report;
  nlohmann::ordered_json report_json;
};

// Runs every stage of `plan` in order. On success the output image, key file
// and report exist at their final paths; on failure or interruption nothing
// new is left at those paths and temporaries are removed (unless
// `keep_failed`). Throws cvm::Error.
BuildResult run_build(const plan::BuildPlan &plan, const BuildOptions &options);
// The same with other backends (unit tests run the whole pipeline on fakes).
BuildResult run_build(const plan::BuildPlan &plan, const BuildOptions &options, Backends backends);

} // namespace cvm::pipeline
