// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/manifest/manifest.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

// The stages of `cvmforge build`, in the order they run. This enum and the
// table in stages.cpp are the one description of a stage: its name, its
// heading and when it is skipped. `cvmforge plan` prints the table; the
// executor (lib/pipeline/stage_table.cpp) binds every entry to the function
// in lib/pipeline/stages/<name>.cpp, and the compiler checks that both
// tables list every stage, in this order.
namespace cvm::plan {

enum class Stage : std::uint8_t {
  check_inputs,           // the base is what the manifest says; no output would be overwritten
  inspect_base,           // what the base contains; whether cvmforge can convert it
  prepare_key,            // disk key, volume key, recovery and build passphrases
  create_output,          // the output qcow2 and its GPT
  format_luks,            // both LUKS2 headers (libcryptsetup); the build header onto the root partition
  copy_esp,               // a new FAT ESP with the base's files
  copy_root,              // opens the LUKS2 volume and copies the root into it: the encryption
  inject_files,           // the manifest's files:
  inject_agent,           // the attestation agent and its initramfs hooks
  configure_boot,         // fstab, crypttab, initramfs and GRUB configuration
  rebuild_initramfs,      // the guest's own initramfs generator and GRUB
  make_uki,               // boot.mode uki: the unified kernel image on the ESP
  extract_boot_artifacts, // kernel, initrd, command line (and GPT, loaders) to the host
  close_image,            // the final LUKS2 header replaces the build header; checked shutdown
  measure,                // TDX reference values
  commit,                 // image, key, report and side files at their final paths
};

// One row of the stage table.
struct StageSpec {
  Stage id;
  std::string_view name; // "copy-root": progress lines, --json events, the report
  // What the progress line says while it runs.
  std::string (*heading)(const manifest::Manifest &);
  // Why the stage does not run for this manifest; nullopt: it runs.
  std::optional<std::string> (*skip)(const manifest::Manifest &);
};

inline constexpr std::size_t k_stage_count = static_cast<std::size_t>(Stage::commit) + 1;

// The table, in execution order: stage_specs()[i].id == Stage(i).
std::span<const StageSpec, k_stage_count> stage_specs();

// The row of `stage`.
const StageSpec &spec(Stage stage);

// "copy-root".
std::string_view to_string(Stage stage);

} // namespace cvm::plan
