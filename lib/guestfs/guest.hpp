// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The guest as the pipeline stages see it: files, mounts, devices, inspection
// and in-guest commands. Session implements it over libguestfs; unit tests use
// tests/unit/fakes/fake_guest.hpp. Every path argument is a path INSIDE the
// guest (absolute, relative to the mounted root), never a host path; device
// and mountable names are the libguestfs API names ("/dev/sda2",
// "btrfsvol:/dev/sda2/@"), which are NOT the names a shell inside the
// appliance sees, so never build shell commands out of them.
namespace cvm::guestfs {

// One entry of list_filesystems(): a mountable and its filesystem type
// ("ext4", "vfat", "crypto_LUKS", "swap", "unknown" ...).
struct FilesystemEntry {
  std::string mountable;
  std::string type;

  bool operator==(const FilesystemEntry &) const = default;
};

// One entry of an inspected OS's fstab as libguestfs resolved it.
struct MountpointEntry {
  std::string mountpoint; // "/", "/boot", "/boot/efi"
  std::string mountable;  // "/dev/sda2"

  bool operator==(const MountpointEntry &) const = default;
};

// What inspect_os() reports for one root filesystem.
struct OsInfo {
  std::string root;   // the root mountable, e.g. "/dev/sda2"
  std::string type;   // "linux", "windows", ...
  std::string distro; // "debian", "ubuntu", "fedora", "unknown" ...
  int major_version = 0;
  int minor_version = 0;
  std::string product_name;                 // e.g. "Debian GNU/Linux 12 (bookworm)"
  std::string package_format;               // "deb", "rpm", "unknown" ...
  std::vector<MountpointEntry> mountpoints; // sorted by mountpoint, "/" first
};

// statvfs(2) of a mounted filesystem, in bytes.
struct FsUsage {
  std::uint64_t block_size = 0; // fragment size (f_frsize)
  std::uint64_t total_bytes = 0;
  std::uint64_t free_bytes = 0; // f_bfree * f_frsize (including root-reserved)
  std::uint64_t used_bytes = 0; // total - free
};

enum class ReadOnly { yes, no };

class Guest {
public:
  Guest() = default;
  Guest(const Guest &) = delete;
  Guest &operator=(const Guest &) = delete;
  Guest(Guest &&) = default;
  Guest &operator=(Guest &&) = default;
  virtual ~Guest() = default;

  // --- Files (the guest's root must be mounted). Throw cvm::Error(guest). ---

  // Whether `path` exists (symlinks are not followed).
  virtual bool exists(const std::string &path) = 0;
  // Whether `path` is a directory / regular file / symlink (symlinks not followed).
  virtual bool is_dir(const std::string &path) = 0;
  virtual bool is_file(const std::string &path) = 0;
  virtual bool is_symlink(const std::string &path) = 0;
  // Contents of `path`, byte-exact.
  virtual std::vector<std::byte> read_file(const std::string &path) = 0;
  // Creates or truncates `path` with `content` (byte-exact).
  virtual void write(const std::string &path, std::span<const std::byte> content) = 0;
  // mkdir -p.
  virtual void mkdir_p(const std::string &path) = 0;
  // Names in directory `path` (no "." or ".."), sorted.
  virtual std::vector<std::string> ls(const std::string &path) = 0;
  // Removes file `path` (error if missing).
  virtual void rm(const std::string &path) = 0;
  // rm -rf `path` (no error if missing).
  virtual void rm_rf(const std::string &path) = 0;
  // chmod `mode` `path`.
  virtual void chmod(int mode, const std::string &path) = 0;
  // Creates symlink `linkname` -> `target`.
  virtual void ln_s(const std::string &target, const std::string &linkname) = 0;
  // The target of symlink `path`.
  virtual std::string readlink(const std::string &path) = 0;
  // Usage of the filesystem mounted at or containing `path`.
  virtual FsUsage statvfs(const std::string &path) = 0;

  // --- In-guest programs ---

  // Runs `argv` chrooted into the mounted guest root (argv[0] is looked up in a
  // PATH containing at least /usr/bin and /bin; give full paths for sbin
  // tools). No shell is involved. Returns stdout; throws cvm::Error(guest) with
  // stderr if the exit status is non-zero. Output is limited to ~2-4 MB.
  // Environment of the command (libguestfs daemon): the APPLIANCE's /dev,
  // /dev/pts, /proc, /sys (and /selinux) are bind-mounted into the guest root
  // for the duration, each only if that directory exists in the guest (failures
  // are silent); /run and /tmp are not mounted; other guest filesystems
  // (/boot, /boot/efi) must be mounted by the caller first; `uname -r` is the
  // appliance kernel, so pass kernel versions explicitly.
  virtual std::string command(const std::vector<std::string> &argv) = 0;

  // --- Mounts ---

  // Mounts `mountable` at `mountpoint` (read-write, or read-only with ReadOnly::yes).
  virtual void
  mount(const std::string &mountable, const std::string &mountpoint, ReadOnly read_only = ReadOnly::no) = 0;
  virtual void umount(const std::string &mountpoint) = 0;
  virtual void umount_all() = 0;
  // Flushes all writes to the disks.
  virtual void sync() = 0;

  // --- Devices ---

  // Every filesystem-like thing libguestfs found, sorted by mountable. LUKS
  // volumes are NOT listed (libguestfs 1.48): use vfs_type() on partitions.
  virtual std::vector<FilesystemEntry> list_filesystems() = 0;
  // All partitions ("/dev/sda1", ...), sorted.
  virtual std::vector<std::string> list_partitions() = 0;
  // Filesystem type of `mountable` ("ext4", "vfat", "crypto_LUKS" ...).
  virtual std::string vfs_type(const std::string &mountable) = 0;
  // Filesystem UUID / label of `mountable`; empty string if it has none.
  virtual std::string vfs_uuid(const std::string &mountable) = 0;
  virtual std::string vfs_label(const std::string &mountable) = 0;
  // The whole device and the 1-based number of `partition`.
  virtual std::string part_to_dev(const std::string &partition) = 0;
  virtual int part_to_partnum(const std::string &partition) = 0;
  // "gpt", "msdos", ... of whole `device`.
  virtual std::string part_get_parttype(const std::string &device) = 0;
  // The GPT type GUID (upper case) of partition `partnum` on `device`.
  virtual std::string part_get_gpt_type(const std::string &device, int partnum) = 0;
  // Whether `mountable` is an LVM logical volume.
  virtual bool is_lv(const std::string &mountable) = 0;

  // --- Inspection (see guestfs(3) "INSPECTION") ---

  // One OsInfo per operating system root found; nothing needs to be mounted.
  virtual std::vector<OsInfo> inspect_os() = 0;

  // --- Convenience on top of the primitives ---

  // read_file() as text.
  std::string
  read_text(const std::string &path) {
    const std::vector<std::byte> bytes = read_file(path);
    return {reinterpret_cast<const char *>(bytes.data()), bytes.size()}; // NOLINT
  }

  // write() of text.
  void
  write_text(const std::string &path, std::string_view text) {
    write(path, std::as_bytes(std::span(text.data(), text.size())));
  }
};

} // namespace cvm::guestfs
