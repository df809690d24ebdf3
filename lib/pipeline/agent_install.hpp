// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/baseimage/inspect.hpp"
#include "lib/guestfs/guest.hpp"
#include "lib/manifest/manifest.hpp"
#include "measurement/predict.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// What inject-agent puts into the new root, as functions of the manifest and
// the build's identifiers, so they can be tested without an appliance.
namespace cvm::pipeline::agent {

// Paths inside the guest (and, identically, inside its initramfs).
inline constexpr const char *k_bundle_prefix = "/usr/lib/cvmforge-agent";
inline constexpr const char *k_etc_dir = "/etc/cvmforge";
inline constexpr const char *k_config = "/etc/cvmforge/agent.json";
inline constexpr const char *k_ca_cert = "/etc/cvmforge/kbs-ca.pem";
inline constexpr const char *k_header_policy = "/etc/cvmforge/luks-header-policy.json";
inline constexpr const char *k_insecure_marker = "/etc/cvmforge/INSECURE-TEST";
inline constexpr const char *k_header_copy = "/run/cvmforge/header.luks2";

// A data volume as inject-agent hands it to the agent: its LUKS UUID (the
// guest finds it as /dev/disk/by-uuid/<uuid>) and its header policy, pinned
// at build time like the root's.
struct VolumeAgent {
  const manifest::Volume *volume = nullptr;
  std::string luks_uuid;
  std::string header_policy_json;
};
// In the guest and its initramfs: /etc/cvmforge/volumes/<name>.luks-header-policy.json;
// the checked header copy at boot: /run/cvmforge/volumes/<name>.luks2.
std::string volume_header_policy(std::string_view name);
std::string volume_header_copy(std::string_view name);

// The agent flavour a manifest needs: the test flavour (sample evidence,
// plain http) ONLY for `attestation.tee: sample`.
struct Flavour {
  std::string name; // bundle directory and binary: "cvmforge-agent" | "cvmforge-agent-test"
  bool insecure_test = false;

  [[nodiscard]] std::string
  guest_dir() const {
    return std::string(k_bundle_prefix) + "/" + name;
  }
  [[nodiscard]] std::string
  guest_binary() const {
    return guest_dir() + "/" + name;
  }
};

Flavour flavour_for(const manifest::Attestation &attestation);

// The host directory holding agent bundles (<dir>/<flavour>/): `configured`
// if not empty, else $CVMFORGE_AGENT_DIR, else the first of
// <exe dir>/../agent-bundle (build tree) and <exe dir>/../lib/cvmforge-agent
// (installed) that exists. Throws cvm::Error(input) naming what was tried if
// `<dir>/<flavour>/<flavour>` is not an executable file.
std::filesystem::path find_bundle(const std::filesystem::path &configured, const Flavour &flavour);

// The luks device as the initramfs sees it.
std::string luks_device(std::string_view luks_uuid);

// Whether a kernel of this `uname -r` version exposes the tdx_guest RTMR
// sysfs attributes (Linux >= 6.16) through which the agent closes the release
// window after the key was released (cmd/agent/README.md). nullopt if the
// version does not start with MAJOR.MINOR.
std::optional<bool> kernel_can_extend_rtmr(std::string_view kernel_version);

// The agent's JSON configuration (cmd/agent/README.md) for this manifest.
// `volumes`: the data volumes, in the manifest's order; their keys are 64 bytes.
std::string agent_config_json(const manifest::Manifest &m,
                              std::string_view luks_uuid,
                              std::size_t key_size,
                              std::span<const VolumeAgent> volumes = {});

// The kernel parameters for attested unlock: `params` as configure-boot made
// them, with the backend's network and "no systemd-cryptsetup" additions
// (initramfs-tools: ip=dhcp; dracut: rd.neednet=1 ip=dhcp rd.luks=0 instead of
// rd.luks.name=).
std::vector<std::string> attestation_kernel_parameters(manifest::InitramfsGenerator initramfs_backend,
                                                       std::vector<std::string> params);

// What the KBS operator needs, written as <output>.kbs.json.
nlohmann::ordered_json kbs_info(const manifest::Manifest &m, const Flavour &flavour);

// The reference values a TDX resource policy pins, encoded as Trustee's TDX
// verifier puts them into its claims: lower-case hex without prefix, 96
// digits for the 48-byte registers (hex::encode in
// deps/verifier/src/tdx/claims.rs).
struct PolicyPins {
  std::vector<std::string> mrtd;   // the quote's MRTD must be one of these
  std::map<int, std::string> rtmr; // RTMR index -> the value it must equal
  // RTMRs the caller asked to pin that have no predicted value, with why:
  // the policy cannot check them (it says so in a comment).
  std::map<int, std::string> not_pinned;
};

// The RTMRs pinned by default: RTMR0 (TD firmware configuration), RTMR1
// (boot loaders, kernel), RTMR2 (kernel command line, initrd), and RTMR3 at
// its predicted initial zeros. The agent extends RTMR3 right after the key is
// released (Linux >= 6.16, cmd/agent/README.md); only a policy that checks
// RTMR3 refuses the quotes of whatever runs after that, so the release window
// closes. On older kernels RTMR3 stays zero and the pin costs nothing.
inline constexpr std::array<int, 4> k_default_pinned_rtmrs = {0, 1, 2, 3};

// The pins for `rtmrs` (indices 0..3) from reference values in cvmforge's
// format (measure::prediction_to_json, <output>.reference.json): MRTD as both
// page-add-order candidates unless the profile selected one, each RTMR of
// `rtmrs` that is predicted, the others in `not_pinned` with the first event
// of theirs that was not predicted. Throws cvm::Error(input) for a document
// without "mrtd" and "rtmr", cvm::Error(internal) for an index outside 0..3.
PolicyPins policy_pins(const nlohmann::json &reference, std::span<const int> rtmrs = k_default_pinned_rtmrs);
PolicyPins policy_pins(const measure::Prediction &prediction,
                       std::span<const int> rtmrs = k_default_pinned_rtmrs);

// Throws cvm::Error(input) if `m` attests with TDX evidence but has no
// measurement.profile: its resource policy could pin nothing, so the build
// refuses before it writes anything.
void require_policy_reference_values(const manifest::Manifest &m);

// The Trustee resource policy (Rego) written as <output>.resource-policy.rego.
// tdx: templates/kbs/resource-policy.rego.in, releasing the image's key only
// to affirmed TDX evidence whose quote carries one of `pins->mrtd`, every RTMR
// of `pins->rtmr` and debug off; throws cvm::Error(input) without pins, without
// an MRTD or without any pinned RTMR (such a policy would release the key to
// other images), cvm::Error(internal) for a value that is not 96 lower-case hex
// digits. sample (INSECURE-TEST): templates/kbs/resource-policy-sample.rego.in,
// affirmed sample evidence; `pins` is not used.
std::string resource_policy(const manifest::Manifest &m, const std::optional<PolicyPins> &pins);
std::filesystem::path resource_policy_path(const manifest::Manifest &m);

// Every template file (relative to templates/initramfs/) with the variables
// inject-agent renders it with, and its destination in the guest and mode.
struct TemplateInstall {
  std::string source;      // e.g. "initramfs-tools/hook.in"
  std::string destination; // absolute path in the guest
  int mode = 0644;
  std::map<std::string, std::string> variables;
};
std::vector<TemplateInstall> templates_for(manifest::InitramfsGenerator initramfs_backend,
                                           const manifest::Manifest &m,
                                           const Flavour &flavour,
                                           std::string_view luks_uuid);

// Writes everything into the new root mounted at `root` ("" = "/") of `g`:
// the bundle from `bundle_dir`, /etc/cvmforge (config, CA, header policy from
// `policy_json`, INSECURE-TEST marker, each volume's header policy), and the
// rendered templates. The initramfs hooks copy all of /etc/cvmforge.
void install(guestfs::Guest &g,
             const std::string &root,
             const std::filesystem::path &bundle_dir,
             const Flavour &flavour,
             const std::vector<TemplateInstall> &templates,
             const std::string &config_json,
             const std::string &policy_json,
             const std::optional<std::filesystem::path> &ca_cert,
             std::span<const VolumeAgent> volumes = {});

} // namespace cvm::pipeline::agent
