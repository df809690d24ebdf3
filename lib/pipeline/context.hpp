// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/baseimage/inspect.hpp"
#include "lib/baseimage/policy.hpp"
#include "lib/guestfs/appliance.hpp"
#include "lib/luks/luks_volume.hpp"
#include "lib/manifest/manifest.hpp"
#include "lib/pipeline/agent_install.hpp"
#include "lib/pipeline/build.hpp"
#include "lib/pipeline/layout.hpp"
#include "lib/pipeline/reproducibility.hpp"
#include "lib/plan/binding.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/secret.hpp"
#include "measurement/binding.hpp"
#include "measurement/predict.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// Per-build state shared by the stages. Each stage records what it found or
// made here instead of re-querying later (house rule 8).
namespace cvm::pipeline {

// Mount points inside the appliance during the copy phase.
inline constexpr const char *k_src = "/cvmforge-src";
inline constexpr const char *k_dst = "/cvmforge-dst";
// Mount options for the output's ext4 filesystems while the build writes
// them: no background inode-table zeroing, and no journal (noload on a
// clean filesystem runs ext4 without one). mke2fs leaves both unwritten;
// through dm-crypt every block the build writes, zeros included, becomes an
// allocated ciphertext block in the image, and copying the tree cycles the
// whole journal. The journal is first used at the guest's first boot.
inline constexpr const char *k_output_ext4_mount_options = "noinit_itable,noload";
// The guest's systemd EFI stub, from which boot.mode uki builds the UKI.
inline constexpr const char *k_systemd_efi_stub = baseimage::k_systemd_efi_stub;

enum class StageStatus { running, ok, skipped };

// One stage as the executor ran it (the report's "stages").
struct StageRecord {
  std::string name;
  StageStatus status = StageStatus::running;
  std::string skip_reason;
  std::optional<double> seconds; // rounded to 0.1 s; none while running
};

// What inject-agent installed (attested images only).
struct InstalledAgent {
  std::string flavour;
  std::filesystem::path bundle; // the agent bundle it came from
  bool insecure_test = false;
  nlohmann::ordered_json kbs;               // what the key broker needs (<output>.kbs.json)
  std::vector<std::string> initramfs_files; // what it wrote for the initramfs generator
  bool not_bound_marker = false;            // /etc/cvmforge/NOT-BOUND is in the image
};

// A data volume as the build makes it: its own disk, LUKS2 header and keys.
struct VolumeBuild {
  const manifest::Volume *spec = nullptr;
  std::filesystem::path output_tmp; // the volume's disk while it is being built
  std::string disk;                 // its API device name in the appliance
  std::string luks_uuid;            // the guest finds it as /dev/disk/by-uuid/<luks_uuid>
  std::string fs_uuid;
  // Keys: only in memory, wiped on destruction.
  SecretBytes unlock_key; // the volume's KBS resource; keyslot 0
  SecretBytes volume_key;
  SecretBytes build_passphrase; // keyslot 0 of its build-only header
  std::filesystem::path final_header;
  std::filesystem::path build_header;
  std::optional<luks::HeaderInfo> header_info; // make-volumes
  std::string header_policy_json;              // make-volumes: pinned like the root's
  std::optional<guestfs::FsUsage> usage;       // make-volumes: its filesystem when written
  double seconds = 0.0;                        // make-volumes: format, mkfs and copy
  std::uint64_t allocated_bytes = 0;           // commit: of its disk file
};

// The base image file as check-inputs found it: what a third party
// rebuilding the image needs to find the same base.
struct BaseFile {
  std::string format; // as declared by the manifest, and checked
  std::string sha256;
};

// A file's size and digests.
struct FileDigests {
  std::uint64_t size = 0;
  std::string sha256;
  std::string sha384;
};

// What extract-boot-artifacts exported for measurement (ctx.artifacts_dir).
struct ExtractedBoot {
  std::string kernel_version; // the kernel the image boots
  FileDigests kernel;
  FileDigests initrd;
  std::string cmdline; // what the kernel is started with
};

// What make-uki put on the ESP (boot.mode uki).
struct BuiltUki {
  std::string path; // in the guest's tree
  std::uint64_t size = 0;
  std::string sha256;
  std::string authenticode_sha384;
  std::string stub_version; // empty: the stub carries none
  std::string kernel_version;
  std::string cmdline; // the command line inside the UKI
};

// What commit measured and published (the report's output section).
struct CommitFacts {
  std::uint64_t allocated_bytes = 0;     // of the image file
  std::uint64_t base_used_bytes = 0;     // the base's root (and /boot) content
  std::uint64_t added_content_bytes = 0; // content the build adds by design (the UKI)
  std::optional<std::filesystem::path> recovery_file;
  std::vector<std::pair<std::string, std::filesystem::path>> direct_boot; // "vmlinuz" -> path
  std::optional<agent::PolicyPins> policy_pins;                           // TDX attested images
};

// How the output's filesystems are mounted in the appliance. Each phase is
// entered by one function and checked by the stages that need it
// (require_mounts), so a stage moved to the wrong place fails at once.
enum class OutputMounts {
  none, // nothing of the output is mounted
  // copy-root to inject-agent (mount_for_copy): the base's root read-only at
  // k_src (its /boot below it), the new root at k_dst, the new /boot below it.
  copy,
  // configure-boot to close-image (mount_output_as_root): the new root at
  // "/", /boot and the ESP where the guest mounts them; chrooted tools run here.
  root,
};

struct BuildContext;

// Throws cvm::Error(internal) unless the output is mounted as `expected`.
void require_mounts(const BuildContext &ctx, OutputMounts expected, std::string_view stage);

struct BuildContext {
  BuildContext(const manifest::Manifest &manifest_in, const BuildOptions &options_in, Backends backends = {})
    : manifest(manifest_in)
    , options(options_in)
    , launcher(std::move(backends.launcher))
    , luks(std::move(backends.luks)) {}

  const manifest::Manifest &manifest;
  const BuildOptions &options;
  std::unique_ptr<guestfs::Launcher> launcher;
  std::unique_ptr<luks::LuksVolume> luks;

  // Host side.
  std::optional<fs::TempDir> work;     // private scratch (headers, artifacts)
  std::filesystem::path output_tmp;    // the image while it is being built
  std::filesystem::path artifacts_dir; // extracted kernel/initrd/cmdline
  bool committed = false;              // output, key and report are in place
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::vector<StageRecord> stage_log; // filled by the executor
  std::optional<BaseFile> base_file;  // check-inputs

  // The base image.
  baseimage::BaseImageFacts facts;
  ContentSizes content;
  manifest::InitramfsGenerator initramfs_backend = manifest::InitramfsGenerator::initramfs_tools;

  // The output image.
  DiskLayout layout;
  std::unique_ptr<guestfs::Appliance> guest; // base (read-only) + output, launched
  std::string base_disk;                     // API device names
  std::string out_disk;
  std::string out_esp;
  std::string out_boot;
  std::string out_root;
  // "/dev/mapper/<mapper_name>" while the LUKS2 volume is open in the
  // appliance (copy-root to close-image); empty otherwise.
  std::string mapper_device;
  OutputMounts mounts = OutputMounts::none;

  // The manifest's data volumes, in its order (prepare-key on).
  std::vector<VolumeBuild> volumes;

  // Identifiers (seed-derived with reproducibility.seed) and the time the
  // guest's boot tools stamp on what they generate.
  std::optional<SourceDateEpoch> source_date_epoch;
  std::string luks_uuid;
  std::string root_fs_uuid;
  std::string boot_fs_uuid;
  std::string esp_fs_uuid;

  // Keys: only in memory, wiped on destruction.
  SecretBytes unlock_key; // the KBS resource; keyslot 0 of the final header
  SecretBytes volume_key;
  SecretBytes recovery_passphrase; // keyslot 1, if enabled
  SecretBytes build_passphrase;    // keyslot 0 of the build-only header

  std::filesystem::path final_header;
  std::filesystem::path build_header;
  luks::FormatResult header_layout;
  std::optional<luks::HeaderInfo> final_header_info; // format-luks: what the image's header says
  std::optional<guestfs::FsUsage> root_usage;        // copy-root: the new root after the copy
  std::optional<std::size_t> files_injected;         // inject-files
  std::optional<std::string> crypttab_options;       // configure-boot: the root's, or why none

  std::vector<std::string> kernel_parameters;
  std::optional<BuiltUki> uki;                       // make-uki
  std::vector<baseimage::KernelImage> kernels_after; // in the output, after rebuild
  std::optional<ExtractedBoot> boot_artifacts;       // extract-boot-artifacts

  std::optional<measure::Prediction> prediction; // measure
  std::string reference_values;                  // its JSON; written by commit when set

  std::optional<InstalledAgent> agent; // set by inject-agent

  // Attested images: what binds the key to the image (inspect-base, then
  // completed by make-uki and measure).
  std::optional<measure::BindingVerdict> binding;
  plan::GuestBootFacts boot_facts;

  std::optional<CommitFacts> commit_facts; // commit, before it writes the report

  // The build report (lib/pipeline/report.hpp), made from the fields above
  // by commit, once, and written as its last file.
  nlohmann::ordered_json report;

  void
  emit(const nlohmann::ordered_json &event) const {
    if (options.on_event) {
      options.on_event(event);
    }
  }
};

} // namespace cvm::pipeline
