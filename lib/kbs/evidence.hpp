// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <span>
#include <string>

// Where the TEE evidence comes from. The production agent has exactly one
// implementation (TDX through configfs-tsm); the `sample` provider exists only
// in the test-flavour library (lib/kbs/sample/).
namespace cvm::kbs {

class EvidenceProvider {
public:
  virtual ~EvidenceProvider() = default;

  // The KBS "tee" name this provider produces evidence for ("tdx", "sample").
  [[nodiscard]] virtual std::string tee() const = 0;

  // Checks, before any network traffic, that the provider can work here
  // (e.g. configfs-tsm present with provider tdx_guest). Throws cvm::Error.
  virtual void preflight() = 0;

  // The "primary_evidence" JSON binding `digest` (hash of the canonical runtime
  // data). Throws cvm::Error on any failure, including evidence that does not
  // contain the requested binding.
  virtual nlohmann::json primary_evidence(std::span<const std::byte> digest) = 0;

  // After the key was released and before it is handed over: make this TEE's
  // later evidence differ from the evidence that obtained the key, so code
  // that runs after the initramfs (the root filesystem) cannot attest as the
  // initramfs and obtain the key again. Returns false
  // if the TEE or kernel offers no way to do so (nothing changed); throws
  // cvm::Error if it does but the change did not take effect.
  virtual bool close_release_window() = 0;

  EvidenceProvider(const EvidenceProvider &) = delete;
  EvidenceProvider &operator=(const EvidenceProvider &) = delete;
  EvidenceProvider(EvidenceProvider &&) = delete;
  EvidenceProvider &operator=(EvidenceProvider &&) = delete;

protected:
  EvidenceProvider() = default;
};

} // namespace cvm::kbs
