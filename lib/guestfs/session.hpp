// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/guestfs/appliance.hpp"
#include "lib/guestfs/guest.hpp"
#include "lib/host/accel.hpp"
#include "lib/util/secret.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// <guestfs.h> stays inside lib/guestfs/*.cpp.
struct guestfs_h;

namespace cvm::guestfs {

// Options of a new Session. Everything not set here comes from the standard
// LIBGUESTFS_* environment (LIBGUESTFS_BACKEND, _BACKEND_SETTINGS, _DEBUG,
// _TRACE, _MEMSIZE, ...), which the handle honours.
struct SessionOptions {
  // nullopt: accel_decision() (probe, cached per process, CVM_ACCEL wins).
  std::optional<host::Accel> accel;
  // Appliance memory in MiB; nullopt: libguestfs default or LIBGUESTFS_MEMSIZE.
  std::optional<int> memsize_mib;
  // Appliance vCPUs; nullopt: 1.
  std::optional<int> smp;
  // How long launch() may take before the appliance is killed and launch()
  // fails; nullopt: CVM_LAUNCH_TIMEOUT or 5 minutes (see lib/host/launch_watchdog.hpp).
  std::optional<std::chrono::seconds> launch_timeout;
  // Polled during launch(); true ends the launch at once with an
  // ErrorKind::interrupted error (the pipeline passes its SIGINT/SIGTERM flag).
  std::function<bool()> cancel_launch;
};

enum class Preallocation { off, metadata, full };

struct DiskCreateOptions {
  Preallocation preallocation = Preallocation::off;
  std::optional<std::filesystem::path> backing_file; // none by default
  std::optional<std::string> backing_format;
};

struct StatNs {
  std::int64_t dev = 0;
  std::int64_t ino = 0;
  std::int64_t mode = 0;
  std::int64_t nlink = 0;
  std::int64_t uid = 0;
  std::int64_t gid = 0;
  std::int64_t size = 0;
  std::int64_t blocks = 0;
  std::int64_t mtime_sec = 0;
  std::int64_t mtime_nsec = 0;
};

struct Xattr {
  std::string name;
  std::vector<std::byte> value;
};

enum class Sparse { yes, no };

struct CopyDeviceOptions {
  std::optional<std::int64_t> src_offset;
  std::optional<std::int64_t> dest_offset;
  std::optional<std::int64_t> size;
  Sparse sparse = Sparse::no;
};

// Flags of tar_in/tar_out; all off by default.
struct TarOptions {
  std::optional<std::string> compress; // "gzip", "xz", ... ; none by default
  bool xattrs = false;
  bool selinux = false;
  bool acls = false;
  bool numeric_owner = false; // tar_out only
};

// A libguestfs handle: move-only RAII owner of guestfs_h*.
//
// * Created with guestfs_create(), so the LIBGUESTFS_* environment is honoured.
// * The default stderr error handler is removed; every failing call throws
//   cvm::Error(ErrorKind::guest, "<call> <args>: <libguestfs error>").
// * Library, appliance and trace events go to cvm::log at debug / trace level.
//   If the cvm log level is trace, guestfs verbose and trace modes are enabled.
// * Accelerator: unless the user set LIBGUESTFS_BACKEND_SETTINGS, TCG means
//   backend setting "force_tcg" (see backend_settings.hpp).
// * Finishing: call sync() (if you wrote) and shutdown() on the success path;
//   shutdown() throws if the appliance could not write the disks out. The
//   destructor only closes best-effort (errors logged at debug level).
class Session final : public Appliance {
public:
  // Throws cvm::Error(guest) if the handle cannot be created or configured.
  explicit Session(const SessionOptions &options = {});
  Session(Session &&other) noexcept;
  Session &operator=(Session &&other) noexcept;
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;
  ~Session() override;

  // The accelerator this handle was configured for.
  host::Accel
  accel() const noexcept {
    return m_accel;
  }

  // --- Set-up and lifetime ---

  // Creates a disk image on the host (no appliance needed).
  void disk_create(const std::filesystem::path &path,
                   const std::string &format,
                   std::int64_t size_bytes,
                   const DiskCreateOptions &options = {});
  // The format of host disk image `path` as qemu-img detects it ("qcow2",
  // "raw", "unknown"); no appliance needed.
  std::string disk_format(const std::filesystem::path &path);
  // Adds `path` as the next drive (/dev/sda, /dev/sdb, ...). Before launch().
  void add_drive(const std::filesystem::path &path, const AddDriveOptions &options);
  // Shorthand: add_drive(path, {format, read_only}).
  void add_drive(const std::filesystem::path &path, const std::string &format, ReadOnly read_only);
  // Starts the appliance (8-35 s under TCG), watched by a LaunchWatchdog: a
  // launch that outlasts the launch timeout fails with ErrorKind::guest, one
  // cancelled (SessionOptions::cancel_launch) with ErrorKind::interrupted.
  void launch();
  // Whether the last launch() failed because it outlasted the launch timeout
  // (callers that explain launch failures as bad input must not do so then).
  [[nodiscard]] bool
  launch_timed_out() const noexcept {
    return m_launch_timed_out;
  }
  // Orderly shutdown of the appliance, writing the disks out; THROWS on
  // failure, which must not be ignored. Idempotent.
  void shutdown() override;
  // Enables or disables guestfs trace output (to cvm::log at trace level).
  void set_trace(bool enabled);
  bool get_trace();

  // --- Guest (see guest.hpp) ---
  bool exists(const std::string &path) override;
  bool is_dir(const std::string &path) override;
  bool is_file(const std::string &path) override;
  bool is_symlink(const std::string &path) override;
  std::vector<std::byte> read_file(const std::string &path) override;
  // Small contents go through guestfs_write; contents over 1 MiB are uploaded
  // from a host temporary file (guestfs_write is limited by the protocol).
  void write(const std::string &path, std::span<const std::byte> content) override;
  void mkdir_p(const std::string &path) override;
  std::vector<std::string> ls(const std::string &path) override;
  void rm(const std::string &path) override;
  void rm_rf(const std::string &path) override;
  void chmod(int mode, const std::string &path) override;
  void ln_s(const std::string &target, const std::string &linkname) override;
  std::string readlink(const std::string &path) override;
  FsUsage statvfs(const std::string &path) override;
  std::string command(const std::vector<std::string> &argv) override;
  void mount(const std::string &mountable,
             const std::string &mountpoint,
             ReadOnly read_only = ReadOnly::no) override;
  void umount(const std::string &mountpoint) override;
  void umount_all() override;
  void sync() override;
  std::vector<FilesystemEntry> list_filesystems() override;
  std::vector<std::string> list_partitions() override;
  std::string vfs_type(const std::string &mountable) override;
  std::string vfs_uuid(const std::string &mountable) override;
  std::string vfs_label(const std::string &mountable) override;
  std::string part_to_dev(const std::string &partition) override;
  int part_to_partnum(const std::string &partition) override;
  std::string part_get_parttype(const std::string &device) override;
  std::string part_get_gpt_type(const std::string &device, int partnum) override;
  bool is_lv(const std::string &mountable) override;
  std::vector<OsInfo> inspect_os() override;

  // --- Inspection, one call each (roots from inspect_os_roots()) ---
  std::vector<std::string> inspect_os_roots();
  std::string inspect_get_type(const std::string &root);
  std::string inspect_get_distro(const std::string &root);
  int inspect_get_major_version(const std::string &root);
  int inspect_get_minor_version(const std::string &root);
  std::string inspect_get_product_name(const std::string &root);
  std::string inspect_get_package_format(const std::string &root);
  // fstab as resolved by libguestfs, sorted by mountpoint.
  std::vector<MountpointEntry> inspect_get_mountpoints(const std::string &root);
  std::vector<std::string> inspect_get_filesystems(const std::string &root);

  // --- Devices and partitions ---
  std::vector<std::string> list_devices() override;
  std::int64_t blockdev_getsize64(const std::string &device);
  // part_init: `parttype` "gpt" or "msdos".
  void part_init(const std::string &device, const std::string &parttype) override;
  // part_add: `prlogex` "p"/"primary", sectors (512 bytes), `end_sector` inclusive
  // (-N counts from the end of the disk).
  void part_add(const std::string &device,
                const std::string &prlogex,
                std::int64_t start_sector,
                std::int64_t end_sector) override;
  void part_set_gpt_type(const std::string &device, int partnum, const std::string &guid) override;
  void part_set_name(const std::string &device, int partnum, const std::string &name) override;
  // The GPT disk GUID and a partition's unique GUID (canonical UUID text).
  void part_set_disk_guid(const std::string &device, const std::string &guid) override;
  void part_set_gpt_guid(const std::string &device, int partnum, const std::string &guid) override;
  std::string part_get_disk_guid(const std::string &device);
  std::string part_get_gpt_guid(const std::string &device, int partnum);
  std::vector<PartitionInfo> part_list(const std::string &device) override;

  // --- Filesystems ---
  void mkfs(const std::string &fstype, const std::string &device, const MkfsOptions &options = {}) override;
  void mke2fs(const std::string &device, const Mke2fsOptions &options) override;
  void set_uuid(const std::string &device, const std::string &uuid) override;
  void set_label(const std::string &mountable, const std::string &label);
  // mount -o `options`.
  void mount_options(const std::string &options,
                     const std::string &mountable,
                     const std::string &mountpoint) override;
  // Mount points outside the guest's root (e.g. to mount two roots at once).
  // Before any mount.
  void mkmountpoint(const std::string &path) override;
  // e2fsck -f (with `correct`, fix automatically; else report only).
  void e2fsck(const std::string &device, bool correct);
  void fstrim(const std::string &mountpoint) override;

  // --- File operations beyond Guest ---
  void cp(const std::string &src, const std::string &dest);
  // cp -a (preserves ownership, modes, timestamps, symlinks).
  void cp_a(const std::string &src, const std::string &dest) override;
  void unpack_tree(const std::filesystem::path &host_tar, const std::string &dir) override;
  bool is_dir_follow(const std::string &path);
  // Every path below `directory`, relative to it but with a leading "/"
  // (find("/etc") gives "/default", "/default/grub", ...), sorted.
  std::vector<std::string> find(const std::string &directory);
  // Checksum of a file or device, computed in the appliance: `type` is
  // "sha256", "sha512", "md5", ... (guestfs_checksum); lower-case hex.
  std::string checksum(const std::string &type, const std::string &path);
  // Disk usage of `path` in bytes (du -s).
  std::int64_t du(const std::string &path) override;
  void touch(const std::string &path);
  void chown(int owner, int group, const std::string &path) override;
  std::string realpath(const std::string &path);
  StatNs lstatns(const std::string &path);
  std::vector<Xattr> getxattrs(const std::string &path);
  std::vector<Xattr> lgetxattrs(const std::string &path);

  // --- Transfers between host and guest ---
  // Host file `host_file` -> guest file or device `guest_path`.
  void upload(const std::filesystem::path &host_file, const std::string &guest_path) override;
  // Host file -> guest file/device at byte `offset`.
  void upload_offset(const std::filesystem::path &host_file,
                     const std::string &guest_path,
                     std::int64_t offset) override;
  // Guest file or device -> host file `host_file`.
  void download(const std::string &guest_path, const std::filesystem::path &host_file) override;
  void download_offset(const std::string &guest_path,
                       const std::filesystem::path &host_file,
                       std::int64_t offset,
                       std::int64_t size) override;
  // tar -x of host `tarfile` into guest `directory`.
  void
  tar_in(const std::filesystem::path &tarfile, const std::string &directory, const TarOptions &options = {});
  // tar -c of guest `directory` into host `tarfile`.
  void
  tar_out(const std::string &directory, const std::filesystem::path &tarfile, const TarOptions &options = {});
  void copy_device_to_device(const std::string &src,
                             const std::string &dest,
                             const CopyDeviceOptions &options = {});

  // --- LUKS inside the appliance ---
  // LUKS-formats `device` with `key` in `keyslot` (cryptsetup defaults; no
  // PBKDF control: use lib/luks for production headers). `key` must be
  // non-empty and NUL-free; it is never logged (libguestfs traces it as "***").
  void luks_format(const std::string &device, const SecretBytes &key, int keyslot);
  // Opens LUKS `device` as /dev/mapper/`mapname`. Same key rules; guestfs
  // trace is switched off around the call regardless.
  void cryptsetup_open(const std::string &device,
                       const SecretBytes &key,
                       const std::string &mapname,
                       ReadOnly read_only = ReadOnly::no) override;
  void cryptsetup_close(const std::string &device) override;

  // --- Appliance process and mountpoints ---
  // The appliance's process id (for a signal handler that must stop it).
  int appliance_pid() override;
  // Removes a mountpoint made by mkmountpoint() (nothing may be mounted there).
  void rmmountpoint(const std::string &path) override;

  // --- Creating special files (tests use these to build fixtures) ---
  // Hard link `linkname` -> `target`.
  void ln(const std::string &target, const std::string &linkname);
  void mknod_c(int mode, int major, int minor, const std::string &path);
  void mknod_b(int mode, int major, int minor, const std::string &path);
  void mkfifo(int mode, const std::string &path);
  void truncate_size(const std::string &path, std::int64_t size);
  // Writes `content` at `offset` (the file keeps its size if larger).
  void pwrite(const std::string &path, std::string_view content, std::int64_t offset);
  void setxattr(const std::string &name, std::string_view value, const std::string &path);
  // `acl_type` "access" or "default"; `acl` in setfacl's short text form.
  void acl_set_file(const std::string &path, const std::string &acl_type, const std::string &acl);
  void cap_set_file(const std::string &path, const std::string &cap);
  // The file capabilities of `path` as text ("" for none).
  std::string cap_get_file(const std::string &path);
  void utimens(const std::string &path,
               std::int64_t atime_sec,
               std::int64_t atime_nsec,
               std::int64_t mtime_sec,
               std::int64_t mtime_nsec);

  // The raw handle, for lib/guestfs internals only.
  guestfs_h *handle() const noexcept;

private:
  struct State;
  std::unique_ptr<State> m_state; // handle + callback state (stable address)
  host::Accel m_accel = host::Accel::tcg;
  std::chrono::seconds m_launch_timeout{std::chrono::minutes(5)};
  std::function<bool()> m_cancel_launch;
  bool m_launch_timed_out = false;

  guestfs_h *checked_handle(const char *call) const;
  // guestfs_shutdown (errors logged at debug level) and guestfs_close.
  void close_best_effort() noexcept;
};

} // namespace cvm::guestfs
