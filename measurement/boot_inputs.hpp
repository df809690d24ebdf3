// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "measurement/predict.hpp"

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// What predict() reads, loaded from files: the boot artifacts (named one by
// one, or found in the artifacts directory `cvmforge build` writes; layout
// in measurement/README.md) and the platform profile. `cvmforge measure` and
// the build's measure stage both load through here, so the same directory
// gives the same prediction. The library does no I/O of its own: files are
// reached through the caller's ReadFile.
namespace cvm::measure {

// The bytes of `path`, or nullopt if there is no such file; throws
// cvm::Error for any other failure.
using ReadFile = std::function<std::optional<std::vector<std::byte>>(const std::filesystem::path &)>;

// Where the artifacts of one boot are. An empty path is "not given": it is
// then looked for in `artifacts_dir` (if not empty) under its usual names.
struct BootFiles {
  BootMode mode = BootMode::direct;
  std::filesystem::path artifacts_dir;

  std::filesystem::path uki; // UKI boot: kernel, initrd and cmdline are its sections
  std::filesystem::path kernel;
  std::filesystem::path initrd;
  std::optional<std::string> cmdline; // nullopt: the `cmdline` file of artifacts_dir, if any
  std::optional<std::pair<int, int>> linux_version;
  std::filesystem::path disk_head; // grub and UKI boot: the GPT event

  // Grub boot only.
  std::filesystem::path shim;
  std::filesystem::path grub;
  std::filesystem::path fallback;
  bool shim_fallback_run = false;
  std::filesystem::path sbat_level;   // text: shim's SbatLevel variable
  std::filesystem::path grub_records; // JSON list of what grub measures
  std::filesystem::path mok_digests;  // JSON {MokList: hex, ...}
  GrubFlavor grub_flavor = GrubFlavor::none;
};

// Reads the artifacts `files` names (grub-only files only for grub boot).
// Labels name the files ("vmlinuz", "uki.efi:.linux"). Throws
// cvm::Error(input) for a given file that does not exist or a UKI without a
// .linux section, cvm::Error(usage) when the boot's kernel or UKI is neither
// given nor in the directory, or for malformed grub records / MOK digests.
BootArtifacts load_boot_artifacts(const BootFiles &files, const ReadFile &read);

// The platform profile JSON at `path` (schema in measurement/README.md);
// files it names are read relative to its directory. Throws
// cvm::Error(usage) naming the file for text that is not JSON, and as
// parse_platform_profile does.
PlatformProfile load_platform_profile(const std::filesystem::path &path, const ReadFile &read);

// adopt_reference_log with the event log at `path`; errors name the file.
void
adopt_reference_log_file(PlatformProfile &profile, const std::filesystem::path &path, const ReadFile &read);

} // namespace cvm::measure
