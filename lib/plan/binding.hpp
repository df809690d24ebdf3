// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/manifest/manifest.hpp"
#include "measurement/binding.hpp"

#include <optional>
#include <set>
#include <utility>

// The binding verdict of a manifest (measurement/binding.hpp), and the checks
// `validate`, `plan` and `build` apply with it before anything is built.
namespace cvm::plan {

// What inspecting the base image (or the built image) adds to the manifest.
struct GuestBootFacts {
  std::optional<std::pair<int, int>> kernel_version;
  std::optional<measure::GrubFlavor> grub_flavor;
  bool shim = false;
  std::optional<int> systemd_stub_version;
  // From the build's prediction: registers with an event not predicted.
  std::set<std::size_t> rtmr_not_predicted;
};

// "6.1.0-26-cloud-amd64" -> (6, 1); nullopt if it does not start MAJOR.MINOR.
std::optional<std::pair<int, int>> kernel_major_minor(std::string_view kernel_version);

// The verdict for an attested manifest; `facts` once the base is inspected.
measure::BindingVerdict binding_verdict(const manifest::Manifest &m, const GuestBootFacts *facts = nullptr);

// Adds to `d` what the verdict and the measurement inputs say about `m`:
// an error at boot.mode when an attested manifest leaves an input unbound
// (a warning with attestation.insecure_allow_unbound), and errors for a
// measurement profile whose firmware is not a TDVF, contradicts its stated
// edk2 version, or (attested) does not measure into the RTMRs.
// `check_files`: read the firmware file (validate --no-file-checks skips it).
void check_binding(const manifest::Manifest &m, manifest::Diagnostics &d, bool check_files);

// manifest::load plus check_binding: what validate, plan and build accept.
manifest::LoadResult load_checked(const std::filesystem::path &path,
                                  const manifest::LoadOptions &options = {});

} // namespace cvm::plan
