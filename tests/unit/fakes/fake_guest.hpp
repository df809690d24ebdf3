// SPDX-License-Identifier: Apache-2.0
#pragma once

// FakeGuest: an in-memory cvm::guestfs::Guest for unit tests of pipeline
// stages and of inspection logic. It models devices (each with its own file
// tree), a partition table per disk, a mount table, inspection results and
// in-guest commands (recorded; their output is scripted). Errors are thrown
// as cvm::Error(ErrorKind::guest) with libguestfs-like messages.
//
//   FakeGuest g;
//   g.add_partition("/dev/sda", 1, "vfat", "ABCD-1234", k_esp_type_guid);
//   g.add_partition("/dev/sda", 2, "ext4", "0f0e...");
//   g.tree("/dev/sda2").put_file("/etc/os-release", "ID=debian\n");
//   g.oses.push_back({.root = "/dev/sda2", .type = "linux", .distro = "debian", ...});

#include "lib/guestfs/guest.hpp"
#include "lib/util/error.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
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

class FakeGuest : public Guest {
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
      if (!is_dir(mountpoint)) {
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
    return device(mountable, "vfs_uuid").uuid;
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

private:
  [[noreturn]] static void
  fail(const std::string &call, const std::string &args, const std::string &why) {
    throw Error(ErrorKind::guest, "{} {}: {}", call, args, why);
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
};

} // namespace cvm::guestfs::test
