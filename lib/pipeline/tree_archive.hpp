// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <filesystem>

// A host directory as a POSIX pax tar, for guestfs tar-in: the way a data
// volume is seeded from `source:` with the tree's owners, modes, times, hard
// links, symlinks, sparse files, xattrs and ACLs (libarchive's disk reader),
// like copy-root's cp -a does for the root.
namespace cvm::pipeline {

struct TreeArchiveStats {
  std::uint64_t entries = 0;
  std::uint64_t content_bytes = 0; // regular files' sizes
};

// Writes `tar` (created 0600; must not exist) from the tree under `dir`,
// with paths relative to `dir` ("./etc/x"). Devices, FIFOs and sockets are
// kept as entries. Throws cvm::Error(input) if `dir` is not a readable
// directory or an entry cannot be read (naming it), cvm::Error(io) if the
// archive cannot be written; on failure `tar` is removed.
TreeArchiveStats write_tree_archive(const std::filesystem::path &dir, const std::filesystem::path &tar);

} // namespace cvm::pipeline
