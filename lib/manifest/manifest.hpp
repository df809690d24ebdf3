// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/manifest/diagnostics.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

// Manifest schema v1: the resolved, validated form of a cvmforge manifest.
// Every key is documented in manifests/README.md. All paths are absolute
// (relative ones were resolved against the manifest's directory). Defaults
// are filled in, so consumers never re-derive them.
namespace cvm::manifest {

enum class ImageFormat { qcow2, raw };
enum class SizePolicy { fit, fixed };
// The guest's initramfs generator: the one type for what the manifest asks
// for (initramfs.backend) and what inspection of the base image finds.
enum class InitramfsGenerator { initramfs_tools, dracut };
enum class KeySource { generate, file };
enum class PbkdfType { pbkdf2, argon2i, argon2id };
enum class BootMode { grub, direct, uki };
enum class Tee { tdx, sample };
enum class Filesystem { ext4, xfs }; // xfs: data volumes only

struct Pbkdf {
  PbkdfType type = PbkdfType::pbkdf2;
  std::string hash = "sha256";     // pbkdf2 only
  std::uint32_t iterations = 1000; // pbkdf2: iterations; argon2: time cost
  std::uint32_t memory_kib = 0;    // argon2 only
  std::uint32_t parallel = 0;      // argon2 only
};

struct Base {
  std::filesystem::path path;
  ImageFormat format = ImageFormat::qcow2;
};

struct Output {
  std::filesystem::path path;
  ImageFormat format = ImageFormat::qcow2;
  SizePolicy size_policy = SizePolicy::fit;
  std::uint64_t size_bytes = 0;        // fixed: the virtual disk size
  std::uint32_t headroom_percent = 20; // fit: free space added to the root content
  std::uint64_t headroom_min_bytes = 256ULL << 20U;
  std::filesystem::path key_file;         // default: <output>.key
  std::filesystem::path report;           // default: <output>.report.json
  std::filesystem::path reference_values; // default: <output>.reference.json
};

struct Partition {
  std::uint64_t size_bytes = 0; // 0 = computed (root)
  std::string label;
  Filesystem filesystem = Filesystem::ext4;
};

struct Layout {
  Partition esp{256ULL << 20U, "ESP", Filesystem::ext4};
  Partition boot{512ULL << 20U, "boot", Filesystem::ext4};
  Partition root{0, "root", Filesystem::ext4};
};

struct Recovery {
  bool enabled = false;
  std::optional<std::filesystem::path> passphrase_file; // nullopt = generate, write <output>.recovery
  // argon2id, 256 MiB, 2 lanes, time cost 6: opens in a TD with 1 GiB of RAM
  // (cryptsetup needs the memory cost free at unlock time). A generated
  // passphrase has 200 bits of entropy; raise the cost for chosen ones.
  Pbkdf pbkdf{PbkdfType::argon2id, "sha256", 6, 256U * 1024U, 2};
};

struct Luks {
  std::string cipher = "aes-xts-plain64";
  std::uint32_t key_size_bits = 512;
  std::uint32_t sector_size = 4096;
  Pbkdf pbkdf; // main keyslot: PBKDF2, minimal iterations (the key is 64 random bytes)
  std::string label = "cvmforge-root";
  std::string mapper_name = "cvmroot";
  std::optional<std::string> integrity; // e.g. "hmac-sha256"; nullopt = none
  Recovery recovery;
};

struct Key {
  KeySource source = KeySource::generate;
  std::optional<std::filesystem::path> file; // source: file
  std::uint32_t bytes = 64;
};

struct Retries {
  std::uint32_t attempts = 5;
  std::uint32_t backoff_initial_ms = 1000;
  std::uint32_t backoff_max_ms = 30000;
};

struct Timeouts {
  std::uint32_t connect_s = 10;
  std::uint32_t request_s = 30;
  std::uint32_t total_s = 300;
};

struct Attestation {
  bool enabled = false;
  std::vector<std::string> kbs_urls;
  std::optional<std::filesystem::path> ca_cert;
  std::string resource_path; // repository/type/tag
  Tee tee = Tee::tdx;
  // Test setups only: build even though the binding verdict leaves inputs
  // unbound; image, report and resource policy are marked NOT BOUND.
  bool insecure_allow_unbound = false;
  Timeouts timeouts;
  Retries retries;
};

struct Boot {
  BootMode mode = BootMode::grub;
  std::vector<std::string> cmdline_add;
};

struct FileToInject {
  std::filesystem::path source;
  std::string dest; // absolute path inside the guest
  std::uint32_t mode = 0644;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
};

struct PlatformProfile {
  std::string name;
  std::uint32_t vcpus = 2;
  std::uint64_t memory_bytes = 2ULL << 30U;
  std::string qemu_version = "7.2";
  std::string ovmf_version; // edk2 tag, e.g. "edk2-stable202211"; "" = not given
  std::optional<std::filesystem::path> firmware;
  // Platform inputs captured once from a reference TD (measurement/README.md):
  // a platform-profile JSON (ACPI blobs, variables) and/or its event log.
  std::optional<std::filesystem::path> platform;
  std::optional<std::filesystem::path> reference_ccel;
};

struct Measurement {
  std::string profile; // the profile `cvmforge build` measures for; "" = none
  std::map<std::string, PlatformProfile> profiles;
};

// A data volume (manifests/README.md, "volumes"): its own disk, LUKS2 with
// its own key released by the KBS in the same attested session as the root's,
// opened in the initramfs and mounted by the root's fstab.
enum class VolumeKind { built }; // built: cvmforge build writes the disk
struct Volume {
  std::string name; // [a-z0-9][a-z0-9-]{0,23}: mapper, label, file and resource names derive from it
  VolumeKind kind = VolumeKind::built;
  std::string mount; // absolute guest path; not "/", not under /boot
  Filesystem filesystem = Filesystem::ext4;
  std::uint64_t size_bytes = 0;                // the volume disk's virtual size (required)
  std::vector<std::string> mount_options;      // fstab options; empty = "defaults"
  bool required = true;                        // false: boot goes on without it (console line)
  std::string resource_path;                   // default: <attestation.resource_path>-<name>
  std::optional<std::filesystem::path> source; // built: host directory copied into it
  std::filesystem::path output;                // default: <output dir>/<output stem>.<name>.qcow2
  std::filesystem::path key_file;              // default: <volume output>.key
  std::string mapper_name;                     // "cvmvol-<name>"
  std::string label;                           // LUKS2 label "cvmforge-<name>"
};

struct Reproducibility {
  std::optional<std::int64_t> source_date_epoch;
  std::string seed; // "" = random UUIDs
};

struct Manifest {
  int version = 1;
  std::string name;
  std::filesystem::path manifest_path; // absolute
  Base base;
  Output output;
  Layout partitions;
  Luks luks;
  Key key;
  std::optional<InitramfsGenerator> initramfs; // initramfs.backend; nullopt: "auto", the base image's own
  Attestation attestation;
  Boot boot;
  std::vector<FileToInject> files;
  std::vector<Volume> volumes;
  Measurement measurement;
  Reproducibility reproducibility;
  // Where each key was written ("base.path" -> file:line:col), so later
  // stages can point at the manifest line behind a failure.
  std::map<std::string, Location> locations;

  // The location of `dotted_key` or, failing that, of the manifest's first line.
  Location where(const std::string &dotted_key) const;
};

struct LoadOptions {
  // Check that referenced input files exist and are readable.
  bool check_files = true;
};

struct LoadResult {
  std::optional<Manifest> manifest; // set iff there are no errors
  Diagnostics diagnostics;
};

// Read, parse and validate the manifest at `path`. Never throws for manifest
// problems (they are diagnostics); throws cvm::Error(io) only if the file
// cannot be read. Touches nothing on disk.
LoadResult load(const std::filesystem::path &path, const LoadOptions &options = {});

// Same, from text (for tests); `path` names the file in diagnostics and is the
// base for relative paths.
LoadResult
load_from_string(const std::string &text, const std::filesystem::path &path, const LoadOptions &options = {});

// Enum names as written in the manifest.
const char *to_string(ImageFormat v);
const char *to_string(SizePolicy v);
const char *to_string(InitramfsGenerator v);
// initramfs.backend: "auto" for nullopt.
const char *to_string(const std::optional<InitramfsGenerator> &v);
const char *to_string(KeySource v);
const char *to_string(PbkdfType v);
const char *to_string(BootMode v);
const char *to_string(Tee v);
const char *to_string(Filesystem v);
const char *to_string(VolumeKind v);

} // namespace cvm::manifest
