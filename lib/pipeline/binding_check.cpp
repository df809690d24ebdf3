// SPDX-License-Identifier: Apache-2.0
// The binding verdict during a build: computed from the manifest and what
// inspect-base found, recorded in the report, and enforced before anything is
// written (measurement/binding.hpp says what it covers).
#include "lib/pipeline/stages.hpp"
#include "lib/plan/binding.hpp"
#include "lib/util/error.hpp"
#include "lib/util/log.hpp"

#include <algorithm>

namespace cvm::pipeline::stages {

void
record_binding(BuildContext &ctx, const measure::BindingVerdict &verdict) {
  const auto &m = ctx.manifest;
  ctx.binding = verdict;
  if (verdict.bindable() || m.attestation.tee != manifest::Tee::tdx) {
    return;
  }
  const std::string what = measure::unbound_summary(verdict);
  if (m.attestation.insecure_allow_unbound) {
    log::warning("NOT BOUND (attestation.insecure_allow_unbound): {}", what);
    return;
  }
  std::string ways;
  for (const auto &w : verdict.ways_out) {
    ways += "\n  - " + w;
  }
  throw Error(ErrorKind::manifest,
              "{}: the disk key would not be bound to this image: {}. Ways out:{}",
              m.manifest_path.string(),
              what,
              ways);
}

void
check_binding_after_inspection(BuildContext &ctx) {
  const auto &m = ctx.manifest;
  if (!m.attestation.enabled) {
    return;
  }
  plan::GuestBootFacts gf;
  if (!ctx.facts.kernels.empty()) {
    // The newest kernel is the one the image boots (extract-boot-artifacts
    // picks the same).
    const auto newest = std::max_element(
        ctx.facts.kernels.begin(), ctx.facts.kernels.end(), [](const auto &a, const auto &b) {
          return baseimage::compare_versions(a.version, b.version) < 0;
        });
    gf.kernel_version = plan::kernel_major_minor(newest->version);
  }
  // The guests cvmforge converts are Debian's, whose GRUB builds (2.06,
  // 2.12) measure none of their commands into the TDX RTMRs.
  gf.grub_flavor = measure::GrubFlavor::none;
  gf.shim = std::any_of(ctx.facts.efi_binaries.begin(),
                        ctx.facts.efi_binaries.end(),
                        [](const std::string &b) { return b.find("shim") != std::string::npos; });
  ctx.boot_facts = gf;
  record_binding(ctx, plan::binding_verdict(m, &gf));
}

} // namespace cvm::pipeline::stages
