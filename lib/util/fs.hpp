// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cvm::fs {

// Contents of `path`; throws cvm::Error(io or input) naming the file and errno.
// Refuses files larger than `max_size` bytes (untrusted inputs stay bounded).
std::vector<std::byte> read_file(const std::filesystem::path &path,
                                 std::size_t max_size = std::size_t{1} << 30U);

std::string read_text(const std::filesystem::path &path, std::size_t max_size = std::size_t{64} << 20U);

// As read_file, but nullopt if `path` does not exist (other failures throw).
std::optional<std::vector<std::byte>> read_file_if_exists(const std::filesystem::path &path,
                                                          std::size_t max_size = std::size_t{1} << 30U);

// A file that appears at its final path only when commit() succeeds. Data is
// written to "<dir>/.<name>.tmp-XXXXXX", fsync'ed, then renamed over the final
// name (or, with NoReplace::yes, linked so an existing file is never
// clobbered). Destroying an uncommitted AtomicFile removes the temporary.
class AtomicFile {
public:
  enum class NoReplace { yes, no };

  AtomicFile(std::filesystem::path final_path, mode_t mode, NoReplace no_replace = NoReplace::no);
  AtomicFile(const AtomicFile &) = delete;
  AtomicFile &operator=(const AtomicFile &) = delete;
  AtomicFile(AtomicFile &&other) noexcept;
  AtomicFile &operator=(AtomicFile &&) = delete;
  ~AtomicFile();

  void write(std::span<const std::byte> data);
  void write(std::string_view text);
  // fsync, close, rename into place; throws on any failure (temp removed).
  void commit();

  const std::filesystem::path &
  temp_path() const noexcept {
    return m_temp_path;
  }
  int
  fd() const noexcept {
    return m_fd;
  }

private:
  std::filesystem::path m_final_path;
  std::filesystem::path m_temp_path;
  int m_fd = -1;
  NoReplace m_no_replace;
  bool m_committed = false;
};

// Convenience: write `data` to `path` atomically with `mode`.
void write_file_atomic(const std::filesystem::path &path,
                       std::span<const std::byte> data,
                       mode_t mode = 0644,
                       AtomicFile::NoReplace no_replace = AtomicFile::NoReplace::no);
void write_file_atomic(const std::filesystem::path &path,
                       std::string_view text,
                       mode_t mode = 0644,
                       AtomicFile::NoReplace no_replace = AtomicFile::NoReplace::no);

// Removes `path` when it goes out of scope unless release() was called:
// a half-written output (a LUKS2 header, an archive) must not survive the
// failure that interrupted it.
class RemoveOnFailure {
public:
  explicit RemoveOnFailure(std::filesystem::path path)
    : m_path(std::move(path)) {}
  RemoveOnFailure(const RemoveOnFailure &) = delete;
  RemoveOnFailure &operator=(const RemoveOnFailure &) = delete;
  RemoveOnFailure(RemoveOnFailure &&) = delete;
  RemoveOnFailure &operator=(RemoveOnFailure &&) = delete;
  ~RemoveOnFailure() {
    if (m_armed) {
      std::error_code ec;
      std::filesystem::remove(m_path, ec);
    }
  }
  void
  release() noexcept {
    m_armed = false;
  }

private:
  std::filesystem::path m_path;
  bool m_armed = true;
};

// A private (0700) temporary directory, removed with its contents on
// destruction unless keep() was called.
class TempDir {
public:
  // Created under `parent` (default: $TMPDIR or /var/tmp, since build scratch
  // can be larger than a tmpfs /tmp).
  explicit TempDir(std::string_view prefix = "cvmforge",
                   std::optional<std::filesystem::path> parent = std::nullopt);
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  TempDir(TempDir &&other) noexcept;
  TempDir &operator=(TempDir &&) = delete;
  ~TempDir();

  const std::filesystem::path &
  path() const noexcept {
    return m_path;
  }
  void
  keep() noexcept {
    m_keep = true;
  }

private:
  std::filesystem::path m_path;
  bool m_keep = false;
};

// Move-only owner of a file descriptor.
class Fd {
public:
  Fd() = default;
  explicit Fd(int fd) noexcept
    : m_fd(fd) {}
  Fd(const Fd &) = delete;
  Fd &operator=(const Fd &) = delete;
  Fd(Fd &&other) noexcept;
  Fd &operator=(Fd &&other) noexcept;
  ~Fd();

  int
  get() const noexcept {
    return m_fd;
  }
  explicit operator bool() const noexcept {
    return m_fd >= 0;
  }
  int release() noexcept;
  // Close now, reporting failure (close errors on written files matter).
  bool close() noexcept;

private:
  int m_fd = -1;
};

// errno as text, e.g. "No such file or directory".
std::string errno_text(int err);

// Descriptor I/O that retries calls interrupted by a signal (EINTR), so no
// caller writes that loop again.

// read(2) / pread(2) of up to `buffer.size()` bytes: the count read, 0 at end
// of file, or -1 with errno set (never EINTR).
ssize_t read_some(int fd, std::span<std::byte> buffer) noexcept;
ssize_t pread_some(int fd, std::span<std::byte> buffer, off_t offset) noexcept;

// Writes all of `data` (at `offset` for pwrite_full), continuing after short
// writes. false with errno set on failure; some of `data` may have been written.
bool write_full(int fd, std::span<const std::byte> data) noexcept;
bool pwrite_full(int fd, std::span<const std::byte> data, off_t offset) noexcept;

// Everything `fd` yields until end of file. Throws cvm::Error(io) "read
// `what`: <errno>" on a read error, cvm::Error(input) once more than
// `max_size` bytes arrive (untrusted inputs stay bounded).
std::vector<std::byte> read_to_end(int fd, std::size_t max_size, std::string_view what);

} // namespace cvm::fs
