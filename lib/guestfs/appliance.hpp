// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/guestfs/guest.hpp"
#include "lib/util/secret.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

// The appliance as the build stages use it: the Guest operations plus
// partitioning, filesystems, copies, host transfers and LUKS, and a Launcher
// that creates disks and starts appliances. Session and SessionLauncher
// implement them over libguestfs; unit tests use
// tests/unit/fakes/fake_appliance.hpp. Device names are libguestfs API names.
namespace cvm::guestfs {

// Cache mode of an added drive.
enum class CacheMode {
  writeback, // safe: every flush reaches the disk image (the default)
  unsafe,    // flushes ignored: faster, but only correct if the caller ends
             // with sync() + shutdown() and treats any exception as a failed
             // build (which the pipeline does; virt-resize does the same)
};

struct AddDriveOptions {
  std::string format = "qcow2"; // never probed: probing is a security hole
  ReadOnly read_only = ReadOnly::yes;
  CacheMode cache_mode = CacheMode::writeback;
  std::optional<std::string> label; // exposes the drive as /dev/disk/guestfs/<label>
  // Pass discards (fstrim) through to the image, so freed blocks become
  // unallocated qcow2 clusters again ("besteffort": where the stack allows).
  bool discard = false;
};

struct MkfsOptions {
  std::optional<int> block_size;
  std::optional<std::string> label;
  std::optional<std::string> features; // passed to mkfs -O
};

// An mke2fs extended option (-E) that guestfs_mke2fs can pass.
enum class Mke2fsExtended {
  lazy_itable_init,  // -E lazy_itable_init=1: inode tables left unzeroed
  lazy_journal_init, // -E lazy_journal_init=1: journal left unzeroed
  no_discard,        // -E nodiscard: no discard of the device first
};

// The mke2fs optional arguments the pipeline uses (guestfs_mke2fs).
struct Mke2fsOptions {
  std::string fs_type = "ext4";
  std::optional<std::int64_t> block_size;
  std::optional<std::int64_t> journal_size; // MiB (mke2fs -J size=)
  std::optional<std::string> label;
  std::optional<std::string> uuid;
  // ONE extended option, not a set: guestfs_mke2fs passes each of its
  // extended options as a separate "-E", and mke2fs (e2fsprogs 1.47) keeps
  // only the last -E on its command line, silently. Asking for lazy journal
  // init and nodiscard together got nodiscard alone, and a zeroed journal
  // (through dm-crypt: megabytes of allocated ciphertext). Newer e2fsprogs
  // may reject several -E instead; either way, one is all that works.
  std::optional<Mke2fsExtended> extended;
  std::optional<bool> force_create;
};

struct PartitionInfo {
  int number = 0;
  std::uint64_t start = 0; // bytes
  std::uint64_t end = 0;   // bytes, inclusive
  std::uint64_t size = 0;  // bytes
};

class Appliance : public Guest {
public:
  // --- Devices and partitions ---
  // The whole disks, in the order they were added ("/dev/sda", "/dev/sdb").
  virtual std::vector<std::string> list_devices() = 0;
  virtual void part_init(const std::string &device, const std::string &parttype) = 0;
  // Adds a partition from sector `start` to sector `end` (inclusive);
  // `prlogex` is "p" (primary), "l" or "e".
  virtual void
  part_add(const std::string &device, const std::string &prlogex, std::int64_t start, std::int64_t end) = 0;
  virtual void part_set_gpt_type(const std::string &device, int partnum, const std::string &guid) = 0;
  virtual void part_set_name(const std::string &device, int partnum, const std::string &name) = 0;
  virtual void part_set_disk_guid(const std::string &device, const std::string &guid) = 0;
  virtual void part_set_gpt_guid(const std::string &device, int partnum, const std::string &guid) = 0;
  virtual std::vector<PartitionInfo> part_list(const std::string &device) = 0;

  // --- Filesystems and mountpoints ---
  // mkfs -t `fstype` (the same default in Session).
  virtual void
  mkfs(const std::string &fstype, const std::string &device, const MkfsOptions &options = {}) = 0;
  virtual void mke2fs(const std::string &device, const Mke2fsOptions &options) = 0;
  // Sets the UUID of the (unmounted) filesystem on `device`: ext2/3/4, xfs.
  virtual void set_uuid(const std::string &device, const std::string &uuid) = 0;
  // mount -o `options`.
  virtual void
  mount_options(const std::string &options, const std::string &mountable, const std::string &mountpoint) = 0;
  // A mountpoint in the appliance's own root, outside any guest filesystem.
  virtual void mkmountpoint(const std::string &path) = 0;
  virtual void rmmountpoint(const std::string &path) = 0;
  // FITRIM of the filesystem mounted at `mountpoint`.
  virtual void fstrim(const std::string &mountpoint) = 0;

  // --- Copies inside the appliance ---
  // cp -a `src` `dest`.
  virtual void cp_a(const std::string &src, const std::string &dest) = 0;
  // Unpacks the host tar file `host_tar` into directory `dir`, keeping
  // numeric owners, modes, times, xattrs and ACLs (tar-in, xattrs and acls on).
  virtual void unpack_tree(const std::filesystem::path &host_tar, const std::string &dir) = 0;
  // Disk usage of `path` in bytes (du -s).
  virtual std::int64_t du(const std::string &path) = 0;
  virtual void chown(int owner, int group, const std::string &path) = 0;

  // --- Transfers between host and appliance ---
  // Host file `host_file` -> guest file or device `guest_path`.
  virtual void upload(const std::filesystem::path &host_file, const std::string &guest_path) = 0;
  // Host file -> guest file or device at byte `offset`.
  virtual void upload_offset(const std::filesystem::path &host_file,
                             const std::string &guest_path,
                             std::int64_t offset) = 0;
  // Guest file or device -> host file `host_file`.
  virtual void download(const std::string &guest_path, const std::filesystem::path &host_file) = 0;
  virtual void download_offset(const std::string &guest_path,
                               const std::filesystem::path &host_file,
                               std::int64_t offset,
                               std::int64_t size) = 0;

  // --- LUKS in the appliance's kernel ---
  // Opens LUKS `device` as /dev/mapper/`mapname` with `key` (non-empty,
  // NUL-free; never logged).
  virtual void cryptsetup_open(const std::string &device,
                               const SecretBytes &key,
                               const std::string &mapname,
                               ReadOnly read_only = ReadOnly::no) = 0;
  virtual void cryptsetup_close(const std::string &device) = 0;

  // --- The appliance itself ---
  // Checked shutdown: throws if the appliance could not write the disks out.
  virtual void shutdown() = 0;
  // The appliance's process id (for a signal handler that must stop it); 0 if none.
  virtual int appliance_pid() = 0;
};

// One disk of a launch.
struct DriveSpec {
  std::filesystem::path path;
  AddDriveOptions options;
};

struct LaunchSpec {
  std::vector<DriveSpec> drives;
  std::optional<int> smp;         // appliance vCPUs; nullopt: 1
  std::optional<int> memsize_mib; // nullopt: libguestfs default or LIBGUESTFS_MEMSIZE
  // Polled while the appliance starts; true ends the launch with an
  // ErrorKind::interrupted error.
  std::function<bool()> cancel_launch;
};

// Creates disk images and starts appliances.
class Launcher {
public:
  Launcher() = default;
  Launcher(const Launcher &) = delete;
  Launcher &operator=(const Launcher &) = delete;
  Launcher(Launcher &&) = default;
  Launcher &operator=(Launcher &&) = default;
  virtual ~Launcher() = default;

  // The accelerator appliances run with ("kvm", "tcg"), for the report.
  virtual std::string accelerator() = 0;
  // The format qemu-img would detect ("qcow2", "raw", "unknown"): for
  // checking a declared format, never for choosing one.
  virtual std::string disk_format(const std::filesystem::path &path) = 0;
  // A new sparse image of `size_bytes`.
  virtual void
  disk_create(const std::filesystem::path &path, const std::string &format, std::int64_t size_bytes) = 0;
  // A running appliance with `spec.drives` attached in order. Throws
  // cvm::Error: ErrorKind::interrupted if cancelled, otherwise guest.
  virtual std::unique_ptr<Appliance> launch(const LaunchSpec &spec) = 0;
  // Whether the last launch() failed because the appliance did not start in
  // time (rather than because of its drives).
  [[nodiscard]] virtual bool last_launch_timed_out() const = 0;
};

// The libguestfs Launcher (lib/guestfs/session.cpp).
std::unique_ptr<Launcher> make_session_launcher();

} // namespace cvm::guestfs
