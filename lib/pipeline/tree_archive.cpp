// SPDX-License-Identifier: Apache-2.0
#include "lib/pipeline/tree_archive.hpp"

#include "lib/util/c_handle.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string>

namespace cvm::pipeline {

namespace {

// archive_read_free / archive_write_free also close the archive.
int
free_archive(archive *a) {
  return archive_read_free(a);
}
int
free_write_archive(archive *a) {
  return archive_write_free(a);
}
CVM_DEFINE_C_PTR(DiskReader, archive, free_archive);
CVM_DEFINE_C_PTR(LinkResolver, archive_entry_linkresolver, archive_entry_linkresolver_free);
CVM_DEFINE_C_PTR(TarWriter, archive, free_write_archive);

std::string
archive_error(archive *a) {
  const char *text = archive_error_string(a);
  return text != nullptr ? text : "unknown libarchive error";
}

} // namespace

TreeArchiveStats
write_tree_archive(const std::filesystem::path &dir, const std::filesystem::path &tar) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || ::access(dir.c_str(), R_OK | X_OK) != 0) {
    throw Error(ErrorKind::input, "{} is not a readable directory", dir.string());
  }
  const int fd = ::open(tar.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw Error(ErrorKind::io, "cannot create {}: {}", tar.string(), fs::errno_text(errno));
  }
  fs::Fd out(fd);
  fs::RemoveOnFailure remove(tar);

  TarWriterPtr writer(archive_write_new());
  DiskReaderPtr disk(archive_read_disk_new());
  if (!writer || !disk) {
    throw Error(ErrorKind::io, "libarchive: out of memory");
  }
  if (archive_write_set_format_pax_restricted(writer.get()) != ARCHIVE_OK ||
      archive_write_open_fd(writer.get(), out.get()) != ARCHIVE_OK) {
    throw Error(ErrorKind::io, "{}: {}", tar.string(), archive_error(writer.get()));
  }
  // Owners as numbers (the guest has its own user database), never follow
  // symlinks, keep xattrs and ACLs; sparse files stay sparse.
  archive_read_disk_set_symlink_physical(disk.get());
  archive_read_disk_set_behavior(disk.get(), ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS);
  // Hard links: the first name carries the data, later names link to it
  // (the tar strategy never defers an entry, so there is nothing to flush).
  LinkResolverPtr links(archive_entry_linkresolver_new());
  if (!links) {
    throw Error(ErrorKind::io, "libarchive: out of memory");
  }
  archive_entry_linkresolver_set_strategy(links.get(), archive_format(writer.get()));
  if (archive_read_disk_open(disk.get(), dir.c_str()) != ARCHIVE_OK) {
    throw Error(ErrorKind::input, "{}: {}", dir.string(), archive_error(disk.get()));
  }
  TreeArchiveStats stats;
  for (;;) {
    archive_entry *entry = archive_entry_new();
    const auto free_entry = [](archive_entry *e) { archive_entry_free(e); };
    const std::unique_ptr<archive_entry, decltype(free_entry)> owned(entry, free_entry);
    const int rc = archive_read_next_header2(disk.get(), entry);
    if (rc == ARCHIVE_EOF) {
      break;
    }
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      throw Error(ErrorKind::input, "reading {}: {}", dir.string(), archive_error(disk.get()));
    }
    const std::filesystem::path source = archive_entry_sourcepath(entry);
    if (archive_read_disk_can_descend(disk.get()) != 0) {
      archive_read_disk_descend(disk.get());
    }
    // Paths relative to `dir`, as "./a/b"; the top directory itself is ".".
    const std::string rel = source.lexically_relative(dir).generic_string();
    archive_entry_set_pathname(entry, rel == "." ? "." : ("./" + rel).c_str());
    archive_entry_set_uname(entry, nullptr);
    archive_entry_set_gname(entry, nullptr);
    archive_entry *spare = nullptr;
    archive_entry_linkify(links.get(), &entry, &spare);
    if (entry == nullptr || spare != nullptr) {
      throw Error(ErrorKind::internal, "libarchive deferred a hard link for {}", rel);
    }
    if (archive_write_header(writer.get(), entry) != ARCHIVE_OK) {
      throw Error(ErrorKind::io, "{}: {}: {}", tar.string(), rel, archive_error(writer.get()));
    }
    ++stats.entries;
    if (archive_entry_filetype(entry) == AE_IFREG && archive_entry_size(entry) > 0) {
      // Block by block as the disk reader finds the data. A hole is written
      // as zeros, which the pax writer drops again where the entry's sparse
      // map (filled by the disk reader) says it is a hole, as bsdtar does.
      const void *block = nullptr;
      std::size_t size = 0;
      la_int64_t offset = 0;
      la_int64_t progress = 0;
      const auto write = [&](const void *data, std::size_t n) {
        if (archive_write_data(writer.get(), data, n) != static_cast<la_ssize_t>(n)) {
          throw Error(ErrorKind::io, "{}: {}: {}", tar.string(), rel, archive_error(writer.get()));
        }
      };
      static constexpr std::array<char, std::size_t{64} * 1024> k_zeros{};
      for (;;) {
        const int r = archive_read_data_block(disk.get(), &block, &size, &offset);
        if (r == ARCHIVE_EOF) {
          break;
        }
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
          throw Error(ErrorKind::input, "reading {}: {}", source.string(), archive_error(disk.get()));
        }
        for (; progress < offset;) {
          const auto n = static_cast<std::size_t>(std::min<la_int64_t>(offset - progress, k_zeros.size()));
          write(k_zeros.data(), n);
          progress += static_cast<la_int64_t>(n);
        }
        write(block, size);
        progress += static_cast<la_int64_t>(size);
        stats.content_bytes += size;
      }
    }
  }
  if (archive_write_close(writer.get()) != ARCHIVE_OK) {
    throw Error(ErrorKind::io, "{}: {}", tar.string(), archive_error(writer.get()));
  }
  if (!out.close()) {
    throw Error(ErrorKind::io, "closing {}: {}", tar.string(), fs::errno_text(errno));
  }
  remove.release();
  return stats;
}

} // namespace cvm::pipeline
