// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

// Reads a tar archive (as libguestfs tar_out writes it, with xattrs, ACLs and
// SELinux labels) into a map of path -> everything the build must preserve.
namespace cvm::test {

struct TreeEntry {
  // "file", "dir", "symlink", "chr", "blk", "fifo", "socket". A hard link
  // reads as its file (tar stores whichever path it met first as the file and
  // the others as links to it; that order depends on readdir, not on the
  // tree), with the whole group in hardlink_group.
  std::string type;
  unsigned mode = 0;
  std::int64_t uid = 0;
  std::int64_t gid = 0;
  std::int64_t size = 0;
  std::int64_t mtime = 0;
  std::int64_t mtime_nsec = 0;
  std::string link_target;    // symlink target
  std::string hardlink_group; // all paths of a hard-linked file, sorted, '\n'-separated
  std::uint64_t rdev = 0;
  std::string content_sha256;
  std::map<std::string, std::string> xattrs; // name -> hex value
  std::string acl;

  bool operator==(const TreeEntry &) const = default;
};

using Tree = std::map<std::string, TreeEntry>;

Tree read_tar_tree(const std::filesystem::path &tarfile);

// Human-readable difference of one entry ("" if equal).
std::string describe_difference(const TreeEntry &a, const TreeEntry &b);

} // namespace cvm::test
