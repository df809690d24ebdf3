// SPDX-License-Identifier: Apache-2.0
// Each stage of lib/plan/stages.hpp bound to its function. The plan library
// stays free of libguestfs and libcryptsetup (`cvmforge plan` runs without
// them), so the binding is this second table; the static_assert below keeps
// it complete and in the plan's order.
#include "lib/pipeline/stage_table.hpp"

#include "lib/pipeline/stages.hpp"

#include <array>
#include <utility>

namespace cvm::pipeline {

namespace {

using plan::Stage;

constexpr std::array<std::pair<Stage, StageFn>, plan::k_stage_count> k_functions{{
    {Stage::check_inputs, stages::check_inputs},
    {Stage::inspect_base, stages::inspect_base},
    {Stage::prepare_key, stages::prepare_key},
    {Stage::create_output, stages::create_output},
    {Stage::format_luks, stages::format_luks},
    {Stage::copy_esp, stages::copy_esp},
    {Stage::copy_root, stages::copy_root},
    {Stage::inject_files, stages::inject_files},
    {Stage::inject_agent, stages::inject_agent},
    {Stage::configure_boot, stages::configure_boot},
    {Stage::rebuild_initramfs, stages::rebuild_initramfs},
    {Stage::make_uki, stages::make_uki},
    {Stage::extract_boot_artifacts, stages::extract_boot_artifacts},
    {Stage::close_image, stages::close_image},
    {Stage::measure, stages::measure},
    {Stage::commit, stages::commit},
}};

constexpr bool
complete_and_in_order() {
  for (std::size_t i = 0; i < k_functions.size(); ++i) {
    if (static_cast<std::size_t>(k_functions[i].first) != i) {
      return false;
    }
  }
  return true;
}
// (Whether a function pointer is null is not a constant expression under
// -fsanitize=address; the array's element type already makes each a function.)
static_assert(complete_and_in_order(), "bind every plan::Stage to its function, in enum order");

} // namespace

StageFn
stage_function(plan::Stage stage) {
  return k_functions[static_cast<std::size_t>(stage)].second;
}

} // namespace cvm::pipeline
