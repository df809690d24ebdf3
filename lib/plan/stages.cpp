// SPDX-License-Identifier: Apache-2.0
// The stage table: one row per stage of lib/plan/stages.hpp's enum.
#include "lib/plan/stages.hpp"

#include "lib/manifest/to_json.hpp"

#include <fmt/format.h>

namespace cvm::plan {

namespace {

using manifest::Manifest;
using Skip = std::optional<std::string>;

Skip
runs(const Manifest & /*unused*/) {
  return std::nullopt;
}

// A fixed heading.
template<const char *Text>
std::string
heading(const Manifest & /*unused*/) {
  return Text;
}

constexpr char k_check_inputs[] = "Checking inputs and outputs";
constexpr char k_inspect_base[] = "Inspecting the base image";
constexpr char k_create_output[] = "Creating the output image and its partition table";
constexpr char k_format_luks[] = "Writing the LUKS2 header";
constexpr char k_copy_esp[] = "Copying the EFI system partition";
constexpr char k_copy_root[] = "Copying the root filesystem into the LUKS2 volume";
constexpr char k_inject_files[] = "Injecting files";
constexpr char k_inject_agent[] = "Installing the attestation agent and initramfs hooks";
constexpr char k_configure_boot[] = "Writing fstab, crypttab and the boot loader configuration";
constexpr char k_make_uki[] = "Assembling the unified kernel image (guest's systemd EFI stub) onto the ESP";
constexpr char k_extract[] = "Extracting kernel, initrd and command line for measurement";
constexpr char k_close_image[] = "Closing the image (final LUKS2 header, checked shutdown)";
constexpr char k_measure[] = "Computing TDX reference values";
constexpr char k_commit[] = "Putting the image, key file and report in place";

constexpr std::array<StageSpec, k_stage_count> k_table{{
    {Stage::check_inputs, "check-inputs", heading<k_check_inputs>, runs},
    {Stage::inspect_base, "inspect-base", heading<k_inspect_base>, runs},
    {Stage::prepare_key,
     "prepare-key",
     [](const Manifest &m) -> std::string {
       return m.key.source == manifest::KeySource::file ? "Reading the disk key file"
                                                        : "Generating the disk key";
     },
     runs},
    {Stage::create_output, "create-output", heading<k_create_output>, runs},
    {Stage::format_luks, "format-luks", heading<k_format_luks>, runs},
    {Stage::copy_esp, "copy-esp", heading<k_copy_esp>, runs},
    {Stage::copy_root, "copy-root", heading<k_copy_root>, runs},
    {Stage::inject_files,
     "inject-files",
     heading<k_inject_files>,
     [](const Manifest &m) -> Skip {
       return m.files.empty() ? Skip("the manifest lists no files") : std::nullopt;
     }},
    {Stage::inject_agent,
     "inject-agent",
     heading<k_inject_agent>,
     [](const Manifest &m) -> Skip {
       return m.attestation.enabled ? std::nullopt : Skip("attestation is disabled");
     }},
    {Stage::configure_boot, "configure-boot", heading<k_configure_boot>, runs},
    {Stage::rebuild_initramfs,
     "rebuild-initramfs",
     [](const Manifest &m) -> std::string {
       return m.boot.mode == manifest::BootMode::grub
                  ? "Regenerating the initramfs and GRUB with the guest's own tools"
                  : "Regenerating the initramfs with the guest's own tools";
     },
     runs},
    {Stage::make_uki,
     "make-uki",
     heading<k_make_uki>,
     [](const Manifest &m) -> Skip {
       return m.boot.mode == manifest::BootMode::uki
                  ? std::nullopt
                  : Skip(fmt::format("boot.mode is {}", manifest::to_string(m.boot.mode)));
     }},
    {Stage::extract_boot_artifacts, "extract-boot-artifacts", heading<k_extract>, runs},
    {Stage::close_image, "close-image", heading<k_close_image>, runs},
    {Stage::measure,
     "measure",
     heading<k_measure>,
     [](const Manifest &m) -> Skip {
       return m.measurement.profile.empty() ? Skip("no measurement.profile in the manifest") : std::nullopt;
     }},
    {Stage::commit, "commit", heading<k_commit>, runs},
}};

constexpr bool
in_enum_order() {
  for (std::size_t i = 0; i < k_table.size(); ++i) {
    if (static_cast<std::size_t>(k_table[i].id) != i || k_table[i].name.empty()) {
      return false;
    }
  }
  return true;
}
static_assert(in_enum_order(), "the stage table must list every Stage once, in enum order");

} // namespace

std::span<const StageSpec, k_stage_count>
stage_specs() {
  return k_table;
}

const StageSpec &
spec(Stage stage) {
  return k_table[static_cast<std::size_t>(stage)];
}

std::string_view
to_string(Stage stage) {
  return spec(stage).name;
}

} // namespace cvm::plan
