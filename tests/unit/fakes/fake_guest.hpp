// SPDX-License-Identifier: Apache-2.0
#pragma once

// FakeGuest: an in-memory cvm::guestfs::Appliance (and so Guest) for unit
// tests of pipeline stages and of inspection logic. It models devices (each
// with its own file tree and raw bytes), a partition table per disk, a mount
// table, inspection results, in-guest commands (recorded; their output is
// scripted), mkfs, LUKS open/close, copies and host transfers. Errors are
// thrown as cvm::Error(ErrorKind::guest) with libguestfs-like messages.
// FakeLauncher (below) hands FakeGuests to stages that launch appliances.
//
//   FakeGuest g;
//   g.add_partition("/dev/sda", 1, "vfat", "ABCD-1234", k_esp_type_guid);
//   g.add_partition("/dev/sda", 2, "ext4", "0f0e...");
//   g.tree("/dev/sda2").put_file("/etc/os-release", "ID=debian\n");
//   g.oses.push_back({.root = "/dev/sda2", .type = "linux", .distro = "debian", ...});

#include "lib/guestfs/appliance.hpp"
#include "lib/guestfs/guest.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace cvm::guestfs::test {

// One filesystem's files, keyed by absolute path inside that filesystem.
class FakeTree {
public:
  enum class Kind { file, dir, symlink };

  struct Node {
    Kind kind = Kind::file;
    std::vector<std::byte> content;
    std::string target; // symlinks
    int mode = 0644;
  };

  // Creates `path` (and its parent directories) as a file holding `content`.
  FakeTree &
  put_file(const std::string &path, std::string_view content = {}, int mode = 0644) {
    put_dir(parent(path));
    Node n;
    n.kind = Kind::file;
    n.content.resize(content.size());
    std::transform(
        content.begin(), content.end(), n.content.begin(), [](char c) { return static_cast<std::byte>(c); });
    n.mode = mode;
    m_nodes[path] = std::move(n);
    return *this;
  }

  // mkdir -p `path`.
  FakeTree &
  put_dir(const std::string &path) {
    std::string cur;
    std::size_t pos = 1;
    while (pos <= path.size()) {
      const std::size_t next = path.find('/', pos);
      cur = path.substr(0, next == std::string::npos ? path.size() : next);
      if (cur.size() > 1 && m_nodes.count(cur) == 0) {
        Node n;
        n.kind = Kind::dir;
        n.mode = 0755;
        m_nodes[cur] = std::move(n);
      }
      if (next == std::string::npos) {
        break;
      }
      pos = next + 1;
    }
    return *this;
  }

  // Creates symlink `path` -> `target`.
  FakeTree &
  put_symlink(const std::string &path, const std::string &target) {
    put_dir(parent(path));
    Node n;
    n.kind = Kind::symlink;
    n.target = target;
    n.mode = 0777;
    m_nodes[path] = std::move(n);
    return *this;
  }

  // The node at `path`, or nullptr ("/" is an implicit directory).
  const Node *
  find(const std::string &path) const {
    const auto it = m_nodes.find(path);
    return it == m_nodes.end() ? nullptr : &it->second;
  }
  Node *
  find(const std::string &path) {
    const auto it = m_nodes.find(path);
    return it == m_nodes.end() ? nullptr : &it->second;
  }

  bool
  is_dir(const std::string &path) const {
    const Node *n = find(path);
    return path == "/" || (n != nullptr && n->kind == Kind::dir);
  }

  // Direct children of directory `path`, sorted.
  std::vector<std::string>
  children(const std::string &path) const {
    const std::string prefix = path == "/" ? "/" : path + "/";
    std::vector<std::string> out;
    for (const auto &[p, node] : m_nodes) {
      if (p.size() > prefix.size() && p.compare(0, prefix.size(), prefix) == 0 &&
          p.find('/', prefix.size()) == std::string::npos) {
        out.push_back(p.substr(prefix.size()));
      }
    }
    return out;
  }

  // Removes `path` and everything below it.
  void
  erase_tree(const std::string &path) {
    const std::string prefix = path + "/";
    for (auto it = m_nodes.begin(); it != m_nodes.end();) {
      if (it->first == path || it->first.compare(0, prefix.size(), prefix) == 0) {
        it = m_nodes.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::map<std::string, Node> &
  nodes() {
    return m_nodes;
  }

  static std::string
  parent(const std::string &path) {
    const std::size_t slash = path.rfind('/');
    return slash == 0 || slash == std::string::npos ? std::string("/") : path.substr(0, slash);
  }

private:
  std::map<std::string, Node> m_nodes;
};

class FakeGuest : public Appliance {
public:
  struct Device {
    std::string type = "unknown"; // vfs type: "ext4", "vfat", "crypto_LUKS" ...
    std::string uuid;
    std::string label;
    std::optional<std::string> disk; // set for partitions: the whole device
    int partnum = 0;
    std::string gpt_type; // upper-case GUID, partitions on GPT disks
    bool lv = false;
    FsUsage usage{4096, 1024 * 1024 * 1024, 512 * 1024 * 1024, 512 * 1024 * 1024};
    FakeTree tree;
    std::vector<std::byte> raw; // bytes written to the device itself (upload, upload_offset)
    std::string opened_as;      // LUKS: the /dev/mapper name it is open as
    std::string mkfs_options;   // what mkfs/mke2fs was asked for, as text
  };

  // What happened, kept past the appliance's life (tests copy the pointer
  // before a stage takes ownership and destroys the appliance).
  struct Journal {
    bool shut_down = false;
    std::vector<std::string> calls; // "upload /host/file /dev/sdb3", "cryptsetup_open ...", ...
  };

  // --- Scenario set-up (public on purpose: tests poke at it) ---
  std::map<std::string, Device> devices;         // by mountable
  std::map<std::string, std::string> part_types; // disk -> "gpt" / "msdos"
  std::vector<OsInfo> oses;                      // what inspect_os() returns
  // Scripted command results; default: returns "" and records the call.
  std::function<std::string(const std::vector<std::string> &)> on_command;
  // What happened.
  std::vector<std::vector<std::string>> commands_run;
  std::vector<std::pair<std::string, std::string>> mount_log; // (mountable, mountpoint)
  int sync_count = 0;
  std::shared_ptr<Journal> journal = std::make_shared<Journal>();
  // Make shutdown() throw (an appliance that could not write the disks out).
  bool fail_shutdown = false;
  // The secret cryptsetup_open() must be given for a device (by device);
  // devices not listed open with any key that is not empty.
  std::map<std::string, std::string> luks_keys;

  // Adds whole disk `disk` (as launching with a drive does).
  void
  add_disk(const std::string &disk) {
    devices[disk];
  }

  // Adds partition `disk` + `partnum` (e.g. "/dev/sda", 2 -> "/dev/sda2").
  Device &
  add_partition(const std::string &disk,
                int partnum,
                std::string type,
                std::string uuid,
                std::string gpt_type = "0FC63DAF-8483-4772-8E79-3D69D8477DE4") {
    part_types.emplace(disk, "gpt");
    Device &d = devices[disk + std::to_string(partnum)];
    d.type = std::move(type);
    d.uuid = std::move(uuid);
    d.disk = disk;
    d.partnum = partnum;
    d.gpt_type = std::move(gpt_type);
    return d;
  }

  // The file tree of `mountable` (which must have been added).
  FakeTree &
  tree(const std::string &mountable) {
    return device(mountable, "tree").tree;
  }

  // Currently mounted (mountpoint -> mountable).
  const std::vector<std::pair<std::string, std::string>> &
  mounts() const {
    return m_mounts;
  }
  // What is mounted at `mountpoint`, or "".
  std::string
  mounted_at(const std::string &mountpoint) const {
    for (const auto &[mp, mountable] : m_mounts) {
      if (mp == mountpoint) {
        return mountable;
      }
    }
    return {};
  }

  // --- Guest ---

  bool
  exists(const std::string &path) override {
    auto [tree, rel] = resolve(path, "exists");
    return rel == "/" || tree->find(rel) != nullptr || is_mountpoint(path);
  }
  bool
  is_dir(const std::string &path) override {
    auto [tree, rel] = resolve(path, "is_dir");
    return tree->is_dir(rel) || is_mountpoint(path);
  }
  bool
  is_file(const std::string &path) override {
    auto [tree, rel] = resolve(path, "is_file");
    const auto *n = tree->find(rel);
    return n != nullptr && n->kind == FakeTree::Kind::file;
  }
  bool
  is_symlink(const std::string &path) override {
    auto [tree, rel] = resolve(path, "is_symlink");
    const auto *n = tree->find(rel);
    return n != nullptr && n->kind == FakeTree::Kind::symlink;
  }
  std::vector<std::byte>
  read_file(const std::string &path) override {
    auto [tree, rel] = resolve(path, "read_file");
    const auto *n = tree->find(rel);
    if (n == nullptr || n->kind != FakeTree::Kind::file) {
      fail("read_file", path, n == nullptr ? "No such file or directory" : "Is a directory");
    }
    return n->content;
  }
  void
  write(const std::string &path, std::span<const std::byte> content) override {
    auto [tree, rel] = resolve_writable(path, "write");
    if (!tree->is_dir(FakeTree::parent(rel))) {
      fail("write", path, "No such file or directory");
    }
    auto *existing = tree->find(rel);
    if (existing != nullptr && existing->kind == FakeTree::Kind::dir) {
      fail("write", path, "Is a directory");
    }
    FakeTree::Node n;
    n.content.assign(content.begin(), content.end());
    n.mode = existing != nullptr ? existing->mode : 0644;
    tree->nodes()[rel] = std::move(n);
  }
  void
  mkdir_p(const std::string &path) override {
    auto [tree, rel] = resolve_writable(path, "mkdir_p");
    if (rel != "/") {
      tree->put_dir(rel);
    }
  }
  std::vector<std::string>
  ls(const std::string &path) override {
    auto [tree, rel] = resolve(path, "ls");
    if (!tree->is_dir(rel)) {
      fail("ls", path, "No such file or directory");
    }
    return tree->children(rel);
  }
  void
  rm(const std::string &path) override {
    auto [tree, rel] = resolve_writable(path, "rm");
    const auto *n = tree->find(rel);
    if (n == nullptr || n->kind == FakeTree::Kind::dir) {
      fail("rm", path, n == nullptr ? "No such file or directory" : "Is a directory");
    }
    tree->nodes().erase(rel);
  }
  void
  rm_rf(const std::string &path) override {
    auto [tree, rel] = resolve_writable(path, "rm_rf");
    tree->erase_tree(rel);
  }
  void
  chmod(int mode, const std::string &path) override {
    auto [tree, rel] = resolve_writable(path, "chmod");
    auto *n = tree->find(rel);
    if (n == nullptr) {
      fail("chmod", path, "No such file or directory");
    }
    n->mode = mode;
  }
  void
  ln_s(const std::string &target, const std::string &linkname) override {
    auto [tree, rel] = resolve_writable(linkname, "ln_s");
    if (tree->find(rel) != nullptr) {
      fail("ln_s", linkname, "File exists");
    }
    tree->put_symlink(rel, target);
  }
  std::string
  readlink(const std::string &path) override {
    auto [tree, rel] = resolve(path, "readlink");
    const auto *n = tree->find(rel);
    if (n == nullptr || n->kind != FakeTree::Kind::symlink) {
      fail("readlink", path, "Invalid argument");
    }
    return n->target;
  }
  FsUsage
  statvfs(const std::string &path) override {
    return device(mount_for(path, "statvfs").second, "statvfs").usage;
  }
  std::string
  command(const std::vector<std::string> &argv) override {
    if (argv.empty()) {
      throw Error(ErrorKind::internal, "command: empty argv");
    }
    mount_for("/", "command");
    commands_run.push_back(argv);
    return on_command ? on_command(argv) : std::string();
  }
  void
  mount(const std::string &mountable, const std::string &mountpoint, ReadOnly read_only) override {
    device(mountable, "mount");
    if (mountpoint != "/") {
      if (m_appliance_dirs.count(mountpoint) == 0 && !is_dir(mountpoint)) {
        fail("mount", mountable + " " + mountpoint, "mount point is not a directory");
      }
    } else if (!m_mounts.empty()) {
      fail("mount", mountable + " /", "/ is already mounted");
    }
    m_mounts.emplace_back(mountpoint, mountable);
    m_read_only[mountpoint] = read_only == ReadOnly::yes;
    mount_log.emplace_back(mountable, mountpoint);
  }
  void
  umount(const std::string &mountpoint) override {
    const auto it =
        std::find_if(m_mounts.begin(), m_mounts.end(), [&](const auto &m) { return m.first == mountpoint; });
    if (it == m_mounts.end()) {
      fail("umount", mountpoint, "not mounted");
    }
    m_mounts.erase(it);
  }
  void
  umount_all() override {
    m_mounts.clear();
  }
  void
  sync() override {
    ++sync_count;
  }
  // Like libguestfs 1.48, LUKS volumes are left out (ask vfs_type()).
  std::vector<FilesystemEntry>
  list_filesystems() override {
    std::vector<FilesystemEntry> out;
    for (const auto &[name, d] : devices) {
      if (d.type != "crypto_LUKS") {
        out.push_back({name, d.type});
      }
    }
    return out;
  }
  std::vector<std::string>
  list_partitions() override {
    std::vector<std::string> out;
    for (const auto &[name, d] : devices) {
      if (d.disk) {
        out.push_back(name);
      }
    }
    return out;
  }
  std::string
  vfs_type(const std::string &mountable) override {
    return device(mountable, "vfs_type").type;
  }
  std::string
  vfs_uuid(const std::string &mountable) override {
    const Device &d = device(mountable, "vfs_uuid");
    if (d.type == "vfat" && d.raw.size() >= 512 && d.raw[66] == std::byte{0x29}) {
      auto at = [&](std::size_t i) { return std::to_integer<unsigned>(d.raw[i]); };
      return fmt::format("{:02X}{:02X}-{:02X}{:02X}", at(70), at(69), at(68), at(67));
    }
    return d.uuid;
  }
  std::string
  vfs_label(const std::string &mountable) override {
    return device(mountable, "vfs_label").label;
  }
  std::string
  part_to_dev(const std::string &partition) override {
    const Device &d = device(partition, "part_to_dev");
    if (!d.disk) {
      fail("part_to_dev", partition, "device name is not a partition");
    }
    return *d.disk;
  }
  int
  part_to_partnum(const std::string &partition) override {
    const Device &d = device(partition, "part_to_partnum");
    if (!d.disk) {
      fail("part_to_partnum", partition, "device name is not a partition");
    }
    return d.partnum;
  }
  std::string
  part_get_parttype(const std::string &disk) override {
    const auto it = part_types.find(disk);
    if (it == part_types.end()) {
      fail("part_get_parttype", disk, "unrecognised disk label");
    }
    return it->second;
  }
  std::string
  part_get_gpt_type(const std::string &disk, int partnum) override {
    for (const auto &[name, d] : devices) {
      if (d.disk == disk && d.partnum == partnum) {
        return d.gpt_type;
      }
    }
    fail("part_get_gpt_type", disk + " " + std::to_string(partnum), "no such partition");
  }
  bool
  is_lv(const std::string &mountable) override {
    return device(mountable, "is_lv").lv;
  }
  std::vector<OsInfo>
  inspect_os() override {
    return oses;
  }

  // --- Appliance ---
  std::vector<std::string>
  list_devices() override {
    std::set<std::string> out; // disks with a partition table, and bare disks
    for (const auto &[disk, type] : part_types) {
      out.insert(disk);
    }
    for (const auto &[name, d] : devices) {
      if (!d.disk && name.rfind("/dev/mapper/", 0) != 0) {
        out.insert(name);
      }
    }
    return {out.begin(), out.end()};
  }
  void
  part_init(const std::string &disk, const std::string &parttype) override {
    device(disk, "part_init");
    log("part_init " + disk + " " + parttype);
    part_types[disk] = parttype;
    std::erase_if(devices, [&](const auto &e) { return e.second.disk == disk; });
    m_parts.erase(disk);
  }
  void
  part_add(const std::string &disk,
           const std::string &prlogex,
           std::int64_t start,
           std::int64_t end) override {
    if (part_types.count(disk) == 0) {
      fail("part_add", disk, "unrecognised disk label");
    }
    log("part_add " + disk + " " + prlogex + " " + std::to_string(start) + " " + std::to_string(end));
    auto &parts = m_parts[disk];
    const int number = static_cast<int>(parts.size()) + 1;
    parts.push_back({number,
                     static_cast<std::uint64_t>(start) * 512U,
                     static_cast<std::uint64_t>(end) * 512U + 511U,
                     static_cast<std::uint64_t>(end - start + 1) * 512U});
    add_partition(disk, number, "unknown", "");
  }
  void
  part_set_gpt_type(const std::string &disk, int partnum, const std::string &guid) override {
    partition(disk, partnum, "part_set_gpt_type").gpt_type = guid;
  }
  void
  part_set_name(const std::string &disk, int partnum, const std::string &name) override {
    partition(disk, partnum, "part_set_name").label = name;
  }
  void
  part_set_disk_guid(const std::string &disk, const std::string &guid) override {
    device(disk, "part_set_disk_guid");
    disk_guids[disk] = guid;
  }
  void
  part_set_gpt_guid(const std::string &disk, int partnum, const std::string &guid) override {
    partition(disk, partnum, "part_set_gpt_guid");
    partition_guids[disk + std::to_string(partnum)] = guid;
  }
  std::vector<PartitionInfo>
  part_list(const std::string &disk) override {
    device(disk, "part_list");
    return m_parts[disk];
  }
  void
  mkfs(const std::string &fstype, const std::string &dev, const MkfsOptions &options = {}) override {
    Device &d = device(dev, "mkfs");
    d.type = fstype;
    d.label = options.label.value_or("");
    d.uuid = "mkfs-uuid-" + std::to_string(++m_uuid_counter);
    d.tree = FakeTree();
    d.mkfs_options = "mkfs " + fstype;
    if (fstype == "vfat") {
      // A FAT32 boot sector as mkfs.vfat writes one (512-byte sectors, the
      // backup at sector 6, volume ID 0x12345678); vfs_uuid() reads the ID back.
      d.raw.assign(std::size_t{64} * 1024, std::byte{0});
      for (const std::size_t at : {std::size_t{0}, std::size_t{6} * 512}) {
        d.raw[at + 11] = std::byte{0x00};
        d.raw[at + 12] = std::byte{0x02};
        d.raw[at + 50] = std::byte{6};
        d.raw[at + 66] = std::byte{0x29};
        d.raw[at + 67] = std::byte{0x78};
        d.raw[at + 68] = std::byte{0x56};
        d.raw[at + 69] = std::byte{0x34};
        d.raw[at + 70] = std::byte{0x12};
        d.raw[at + 510] = std::byte{0x55};
        d.raw[at + 511] = std::byte{0xAA};
      }
    }
    log("mkfs " + fstype + " " + dev);
  }
  void
  mke2fs(const std::string &dev, const Mke2fsOptions &options) override {
    Device &d = device(dev, "mke2fs");
    d.type = options.fs_type;
    d.label = options.label.value_or("");
    d.uuid = options.uuid.value_or("mke2fs-uuid-" + std::to_string(++m_uuid_counter));
    d.tree = FakeTree();
    d.mkfs_options = "mke2fs -t " + options.fs_type +
                     (options.journal_size ? " -J size=" + std::to_string(*options.journal_size) : "") +
                     (options.extended ? " -E" + std::to_string(static_cast<int>(*options.extended)) : "");
    log("mke2fs " + dev);
  }
  void
  set_uuid(const std::string &dev, const std::string &uuid) override {
    Device &d = device(dev, "set_uuid");
    if (d.type.empty()) {
      fail("set_uuid", dev, "no filesystem");
    }
    d.uuid = uuid;
    log("set_uuid " + dev + " " + uuid);
  }
  void
  mount_options(const std::string &options,
                const std::string &mountable,
                const std::string &mountpoint) override {
    mount(mountable, mountpoint, ReadOnly::no);
    log("mount -o " + options + " " + mountable + " " + mountpoint);
  }
  void
  mkmountpoint(const std::string &path) override {
    m_appliance_dirs.insert(path);
  }
  void
  rmmountpoint(const std::string &path) override {
    if (is_mountpoint(path)) {
      fail("rmmountpoint", path, "Device or resource busy");
    }
    if (m_appliance_dirs.erase(path) == 0) {
      fail("rmmountpoint", path, "No such file or directory");
    }
  }
  void
  fstrim(const std::string &mountpoint) override {
    mount_for(mountpoint, "fstrim");
    log("fstrim " + mountpoint);
  }
  // Copies through the Guest calls, so it crosses mounts as cp -a does.
  // "src/." copies the contents of src into dest; "src/x" copies x into dest.
  void
  cp_a(const std::string &src, const std::string &dest) override {
    log("cp_a " + src + " " + dest);
    if (src.size() >= 2 && src.compare(src.size() - 2, 2, "/.") == 0) {
      const std::string dir = src.substr(0, src.size() - 2);
      for (const auto &name : ls(dir)) {
        copy_node(join(dir, name), join(dest, name));
      }
    } else {
      copy_node(src, join(dest, src.substr(src.rfind('/') + 1)));
    }
  }
  // Records the call; the archive's members become one file, "<dir>/.tar-in",
  // holding the archive's bytes (tests check what went in on the host side).
  void
  unpack_tree(const std::filesystem::path &host_tar, const std::string &dir) override {
    if (!is_dir(dir)) {
      fail("unpack_tree", dir, "No such file or directory");
    }
    write(join(dir, ".tar-in"), fs::read_file(host_tar));
    log("unpack_tree " + host_tar.string() + " " + dir);
  }
  std::int64_t
  du(const std::string &path) override {
    if (is_file(path)) {
      return static_cast<std::int64_t>(read_file(path).size());
    }
    std::int64_t total = 0;
    if (is_dir(path)) {
      for (const auto &name : ls(path)) {
        total += du(join(path, name));
      }
    }
    return total;
  }
  void
  chown(int owner, int group, const std::string &path) override {
    if (!exists(path)) {
      fail("chown", path, "No such file or directory");
    }
    owners[path] = {owner, group};
  }
  void
  upload(const std::filesystem::path &host_file, const std::string &guest_path) override {
    const auto bytes = fs::read_file(host_file);
    log("upload " + host_file.string() + " " + guest_path);
    if (devices.count(guest_path) != 0) {
      devices[guest_path].raw = bytes;
      return;
    }
    write(guest_path, bytes);
  }
  void
  upload_offset(const std::filesystem::path &host_file,
                const std::string &guest_path,
                std::int64_t offset) override {
    const auto bytes = fs::read_file(host_file);
    log("upload_offset " + host_file.string() + " " + guest_path + " " + std::to_string(offset));
    auto &raw = device(guest_path, "upload_offset").raw;
    const auto at = static_cast<std::size_t>(offset);
    if (raw.size() < at + bytes.size()) {
      raw.resize(at + bytes.size());
    }
    std::copy(bytes.begin(), bytes.end(), raw.begin() + static_cast<std::ptrdiff_t>(at));
  }
  void
  download(const std::string &guest_path, const std::filesystem::path &host_file) override {
    log("download " + guest_path + " " + host_file.string());
    const auto it = devices.find(guest_path);
    fs::write_file_atomic(host_file, it != devices.end() ? it->second.raw : read_file(guest_path));
  }
  void
  download_offset(const std::string &guest_path,
                  const std::filesystem::path &host_file,
                  std::int64_t offset,
                  std::int64_t size) override {
    log("download_offset " + guest_path + " " + std::to_string(offset) + " " + std::to_string(size));
    const auto &raw = device(guest_path, "download_offset").raw;
    std::vector<std::byte> out(static_cast<std::size_t>(size));
    for (std::size_t i = 0; i < out.size() && static_cast<std::size_t>(offset) + i < raw.size(); ++i) {
      out[i] = raw[static_cast<std::size_t>(offset) + i];
    }
    fs::write_file_atomic(host_file, out);
  }
  void
  cryptsetup_open(const std::string &dev,
                  const SecretBytes &key,
                  const std::string &mapname,
                  ReadOnly /*read_only*/ = ReadOnly::no) override {
    Device &d = device(dev, "cryptsetup_open");
    const auto it = luks_keys.find(dev);
    const std::string given(key.chars(), key.size());
    if (key.empty() || (it != luks_keys.end() && it->second != given)) {
      fail("cryptsetup_open", dev, "No key available with this passphrase.");
    }
    if (!d.opened_as.empty()) {
      fail("cryptsetup_open", dev, "Device already open");
    }
    d.opened_as = mapname;
    devices["/dev/mapper/" + mapname];
    log("cryptsetup_open " + dev + " " + mapname);
  }
  void
  cryptsetup_close(const std::string &mapper_device) override {
    device(mapper_device, "cryptsetup_close");
    for (auto &[name, d] : devices) {
      if (!d.opened_as.empty() && "/dev/mapper/" + d.opened_as == mapper_device) {
        d.opened_as.clear();
      }
    }
    log("cryptsetup_close " + mapper_device);
  }
  void
  shutdown() override {
    log("shutdown");
    if (fail_shutdown) {
      fail("shutdown", "", "appliance did not exit cleanly");
    }
    journal->shut_down = true;
  }
  int
  appliance_pid() override {
    return 0;
  }

  // Set by the GPT calls.
  std::map<std::string, std::string> disk_guids;      // disk -> GUID
  std::map<std::string, std::string> partition_guids; // partition -> GUID
  std::map<std::string, std::pair<int, int>> owners;  // path -> (uid, gid)

private:
  [[noreturn]] static void
  fail(const std::string &call, const std::string &args, const std::string &why) {
    throw Error(ErrorKind::guest, "{} {}: {}", call, args, why);
  }

  void
  log(std::string line) {
    journal->calls.push_back(std::move(line));
  }

  static std::string
  join(const std::string &dir, const std::string &name) {
    return dir == "/" ? "/" + name : dir + "/" + name;
  }

  void
  copy_node(const std::string &from, const std::string &to) {
    if (is_symlink(from)) {
      ln_s(readlink(from), to);
    } else if (is_dir(from)) {
      mkdir_p(to);
      for (const auto &name : ls(from)) {
        copy_node(join(from, name), join(to, name));
      }
    } else {
      write(to, read_file(from));
    }
  }

  Device &
  partition(const std::string &disk, int partnum, const char *call) {
    for (auto &[name, d] : devices) {
      if (d.disk == disk && d.partnum == partnum) {
        return d;
      }
    }
    fail(call, disk + " " + std::to_string(partnum), "no such partition");
  }

  Device &
  device(const std::string &mountable, const char *call) {
    const auto it = devices.find(mountable);
    if (it == devices.end()) {
      fail(call, mountable, "No such file or directory");
    }
    return it->second;
  }

  bool
  is_mountpoint(const std::string &path) const {
    return std::any_of(m_mounts.begin(), m_mounts.end(), [&](const auto &m) { return m.first == path; });
  }

  // The mount holding `path`: (mountpoint, mountable), longest prefix wins.
  std::pair<std::string, std::string>
  mount_for(const std::string &path, const char *call) const {
    if (path.empty() || path.front() != '/') {
      fail(call, path, "path must start with a / character");
    }
    const std::pair<std::string, std::string> *best = nullptr;
    for (const auto &m : m_mounts) {
      const std::string &mp = m.first;
      const bool under =
          mp == "/" || path == mp ||
          (path.compare(0, mp.size(), mp) == 0 && path.size() > mp.size() && path[mp.size()] == '/');
      if (under && (best == nullptr || mp.size() > best->first.size())) {
        best = &m;
      }
    }
    if (best == nullptr) {
      fail(call, path, "call mount first (no root filesystem mounted)");
    }
    return *best;
  }

  std::pair<FakeTree *, std::string>
  resolve(const std::string &path, const char *call) {
    std::string clean = path;
    while (clean.size() > 1 && clean.back() == '/') {
      clean.pop_back();
    }
    const auto [mp, mountable] = mount_for(clean, call);
    std::string rel = mp == "/" ? clean : clean.substr(mp.size());
    if (rel.empty()) {
      rel = "/";
    }
    return {&device(mountable, call).tree, rel};
  }

  std::pair<FakeTree *, std::string>
  resolve_writable(const std::string &path, const char *call) {
    const auto mp = mount_for(path, call).first;
    if (m_read_only[mp]) {
      fail(call, path, "Read-only file system");
    }
    return resolve(path, call);
  }

  std::vector<std::pair<std::string, std::string>> m_mounts; // (mountpoint, mountable)
  std::map<std::string, bool> m_read_only;
  std::set<std::string> m_appliance_dirs; // mkmountpoint()
  std::map<std::string, std::vector<PartitionInfo>> m_parts;
  int m_uuid_counter = 0;
};

// Hands out the FakeGuests a test prepared, one per launch(), and records
// what was asked.
class FakeLauncher final : public Launcher {
public:
  std::deque<std::unique_ptr<FakeGuest>> appliances; // launch() takes the first
  std::vector<LaunchSpec> launches;
  std::string format = "qcow2";                                        // what disk_format() says
  std::vector<std::pair<std::filesystem::path, std::int64_t>> created; // disk_create()
  std::optional<Error> fail_launch;                                    // thrown by the next launch()
  bool timed_out = false;                                              // with fail_launch: a launch timeout

  std::string
  accelerator() override {
    return "fake";
  }
  std::string
  disk_format(const std::filesystem::path & /*path*/) override {
    return format;
  }
  void
  disk_create(const std::filesystem::path &path,
              const std::string & /*format*/,
              std::int64_t size_bytes) override {
    created.emplace_back(path, size_bytes);
    fs::write_file_atomic(path, std::string_view("fake qcow2\n"));
  }
  std::unique_ptr<Appliance>
  launch(const LaunchSpec &spec) override {
    launches.push_back(spec);
    m_timed_out = false;
    // guestfs_add_drive_opts' rule for labels: 1-20 ASCII letters.
    for (const auto &drive : spec.drives) {
      if (const auto &label = drive.options.label;
          label &&
          (label->empty() || label->size() > 20 || !std::all_of(label->begin(), label->end(), [](char c) {
             return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
           }))) {
        throw Error(ErrorKind::guest,
                    "add_drive {}: label parameter is empty, too long, or contains disallowed characters",
                    drive.path.string());
      }
    }
    if (fail_launch) {
      const Error e = *fail_launch;
      fail_launch.reset();
      m_timed_out = timed_out;
      throw e;
    }
    if (appliances.empty()) {
      throw Error(ErrorKind::internal, "FakeLauncher: no appliance prepared for this launch");
    }
    auto a = std::move(appliances.front());
    appliances.pop_front();
    return a;
  }
  [[nodiscard]] bool
  last_launch_timed_out() const override {
    return m_timed_out;
  }

private:
  bool m_timed_out = false;
};

} // namespace cvm::guestfs::test
