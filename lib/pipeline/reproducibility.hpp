// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/manifest/manifest.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

// What makes two builds of one manifest give the same measured bytes: the
// seed (identifiers, lib/pipeline/ids.hpp) and SOURCE_DATE_EPOCH (the time
// the guest's own boot tools stamp on what they generate).
namespace cvm::pipeline {

struct SourceDateEpoch {
  std::int64_t value = 0;
  std::string source; // "manifest" or "environment"
};

// reproducibility.source_date_epoch, else the SOURCE_DATE_EPOCH environment
// variable (the reproducible-builds.org convention; `env_value` is its value
// or nullptr), else nullopt: generated files then carry the build's time.
// An environment value that is not a decimal integer in [0, 2^53) is an
// Error(input): silently building with the clock would defeat the point.
std::optional<SourceDateEpoch> resolve_source_date_epoch(const manifest::Manifest &m, const char *env_value);

// `argv` of one of the guest's boot tools as it is run: with a
// SOURCE_DATE_EPOCH, through the guest's env(1) so the tool sees it
// (the libguestfs daemon passes no environment of ours); dracut also gets
// --reproducible (fixed cpio order and timestamps), which needs it.
enum class BootTool { dracut, other };
std::vector<std::string>
boot_tool_argv(std::vector<std::string> argv, const std::optional<SourceDateEpoch> &epoch, BootTool tool);

// The build report's "reproducibility" object: whether identifiers are
// seed-derived, the SOURCE_DATE_EPOCH used and where it came from, and each
// known reason two builds of this manifest give different measured values
// ("measured_differences") or different unmeasured bytes ("other_differences").
nlohmann::ordered_json reproducibility_report(const manifest::Manifest &m,
                                              const std::optional<SourceDateEpoch> &epoch);

} // namespace cvm::pipeline
