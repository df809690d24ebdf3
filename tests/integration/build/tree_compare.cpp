// SPDX-License-Identifier: Apache-2.0
#include "tests/integration/build/tree_compare.hpp"

#include "lib/crypto/crypto.hpp"
#include "lib/util/hex.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>

#include <map>
#include <memory>
#include <set>
#include <stdexcept>

namespace cvm::test {

Tree
read_tar_tree(const std::filesystem::path &tarfile) {
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_all(a.get());
  archive_read_support_filter_all(a.get());
  if (archive_read_open_filename(a.get(), tarfile.c_str(), 1 << 20) != ARCHIVE_OK) {
    throw std::runtime_error(
        fmt::format("cannot open {}: {}", tarfile.string(), archive_error_string(a.get())));
  }
  Tree tree;
  std::map<std::string, std::string> hardlinks; // link path -> path stored as the file
  archive_entry *e = nullptr;
  int rc = 0;
  while ((rc = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
    std::string path = archive_entry_pathname(e);
    while (path.starts_with("./")) {
      path = path.substr(2);
    }
    if (!path.empty() && path.back() == '/') {
      path.pop_back();
    }
    TreeEntry t;
    switch (archive_entry_filetype(e)) {
    case AE_IFREG:
      t.type = "file";
      break;
    case AE_IFDIR:
      t.type = "dir";
      break;
    case AE_IFLNK:
      t.type = "symlink";
      t.link_target = archive_entry_symlink(e);
      break;
    case AE_IFCHR:
      t.type = "chr";
      break;
    case AE_IFBLK:
      t.type = "blk";
      break;
    case AE_IFIFO:
      t.type = "fifo";
      break;
    case AE_IFSOCK:
      t.type = "socket";
      break;
    default:
      t.type = "other";
    }
    if (const char *hl = archive_entry_hardlink(e); hl != nullptr) {
      std::string target = hl;
      while (target.starts_with("./")) {
        target = target.substr(2);
      }
      hardlinks[path] = target;
    }
    t.mode = archive_entry_perm(e);
    t.uid = archive_entry_uid(e);
    t.gid = archive_entry_gid(e);
    t.size = archive_entry_size(e);
    t.mtime = archive_entry_mtime(e);
    t.mtime_nsec = archive_entry_mtime_nsec(e);
    t.rdev = archive_entry_rdev(e);
    const char *name = nullptr;
    const void *value = nullptr;
    size_t vsize = 0;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &value, &vsize) == ARCHIVE_OK) {
      t.xattrs[name] = to_hex(std::span(static_cast<const std::byte *>(value), vsize));
    }
    if (const char *acl = archive_entry_acl_to_text(
            e, nullptr, ARCHIVE_ENTRY_ACL_TYPE_ACCESS | ARCHIVE_ENTRY_ACL_TYPE_DEFAULT);
        acl != nullptr) {
      t.acl = acl;
    }
    if (t.type == "file") {
      crypto::Hasher h(crypto::HashAlgorithm::sha256);
      const void *buf = nullptr;
      size_t len = 0;
      la_int64_t off = 0;
      while (archive_read_data_block(a.get(), &buf, &len, &off) == ARCHIVE_OK) {
        h.update(std::span(static_cast<const std::byte *>(buf), len));
      }
      t.content_sha256 = to_hex(h.final());
    }
    tree[path] = std::move(t);
  }
  if (rc != ARCHIVE_EOF) {
    throw std::runtime_error(fmt::format("reading {}: {}", tarfile.string(), archive_error_string(a.get())));
  }
  // Hard links: every path of a group reads as the file, plus the group.
  std::map<std::string, std::set<std::string>> groups; // stored file -> all paths
  for (const auto &[link, target] : hardlinks) {
    if (tree.count(target) == 0) {
      throw std::runtime_error(
          fmt::format("{}: hard link {} to {}, which is not in the archive", tarfile.string(), link, target));
    }
    groups[target].insert(link);
    groups[target].insert(target);
  }
  for (const auto &[target, paths] : groups) {
    std::string joined;
    for (const auto &p : paths) {
      joined += (joined.empty() ? "" : "\n") + p;
    }
    const TreeEntry file = tree.at(target);
    for (const auto &p : paths) {
      TreeEntry &t = tree[p];
      t.type = file.type;
      t.size = file.size;
      t.content_sha256 = file.content_sha256;
      t.hardlink_group = joined;
    }
  }
  return tree;
}

std::string
describe_difference(const TreeEntry &a, const TreeEntry &b) {
  std::string d;
  auto field = [&](const char *name, const auto &x, const auto &y) {
    if (x != y) {
      d += fmt::format(" {}: {} != {};", name, x, y);
    }
  };
  field("type", a.type, b.type);
  field("mode", a.mode, b.mode);
  field("uid", a.uid, b.uid);
  field("gid", a.gid, b.gid);
  field("size", a.size, b.size);
  field("mtime", a.mtime, b.mtime);
  field("mtime_nsec", a.mtime_nsec, b.mtime_nsec);
  field("link", a.link_target, b.link_target);
  field("hard links", a.hardlink_group, b.hardlink_group);
  field("rdev", a.rdev, b.rdev);
  field("sha256", a.content_sha256, b.content_sha256);
  field("acl", a.acl, b.acl);
  if (a.xattrs != b.xattrs) {
    d += " xattrs differ;";
  }
  return d;
}

} // namespace cvm::test
