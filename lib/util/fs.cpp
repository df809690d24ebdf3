// SPDX-License-Identifier: Apache-2.0
#include "lib/util/fs.hpp"

#include "lib/util/error.hpp"
#include "lib/util/log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace cvm::fs {

namespace stdfs = std::filesystem;

std::string
errno_text(int err) {
  return std::strerror(err); // NOLINT(concurrency-mt-unsafe): messages only
}

ssize_t
read_some(int fd, std::span<std::byte> buffer) noexcept {
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n >= 0 || errno != EINTR) {
      return n;
    }
  }
}

ssize_t
pread_some(int fd, std::span<std::byte> buffer, off_t offset) noexcept {
  for (;;) {
    const ssize_t n = ::pread(fd, buffer.data(), buffer.size(), offset);
    if (n >= 0 || errno != EINTR) {
      return n;
    }
  }
}

namespace {

// `write_once(data)` is one write(2)/pwrite(2) call for the rest of the data.
template<typename WriteOnce>
bool
write_loop(std::span<const std::byte> data, WriteOnce write_once) noexcept {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write_once(data.subspan(done), done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    if (n == 0) {
      // Not an error POSIX defines for a non-empty write, but looping on it would never end.
      errno = EIO;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

} // namespace

bool
write_full(int fd, std::span<const std::byte> data) noexcept {
  return write_loop(data, [fd](std::span<const std::byte> rest, std::size_t) {
    return ::write(fd, rest.data(), rest.size());
  });
}

bool
pwrite_full(int fd, std::span<const std::byte> data, off_t offset) noexcept {
  return write_loop(data, [fd, offset](std::span<const std::byte> rest, std::size_t done) {
    return ::pwrite(fd, rest.data(), rest.size(), offset + static_cast<off_t>(done));
  });
}

std::vector<std::byte>
read_to_end(int fd, std::size_t max_size, std::string_view what) {
  std::vector<std::byte> out;
  std::vector<std::byte> buf(65536);
  for (;;) {
    const ssize_t n = read_some(fd, buf);
    if (n < 0) {
      throw Error(ErrorKind::io, "read {}: {}", what, errno_text(errno));
    }
    if (n == 0) {
      return out;
    }
    if (out.size() + static_cast<std::size_t>(n) > max_size) {
      throw Error(ErrorKind::input, "{} is larger than the {} bytes allowed", what, max_size);
    }
    out.insert(out.end(), buf.begin(), buf.begin() + n);
  }
}

std::vector<std::byte>
read_file(const stdfs::path &path, std::size_t max_size) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    throw Error(ErrorKind::input, "cannot open {}: {}", path.string(), errno_text(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    throw Error(ErrorKind::io, "stat {}: {}", path.string(), errno_text(errno));
  }
  if (S_ISDIR(st.st_mode)) {
    throw Error(ErrorKind::input, "{} is a directory, not a file", path.string());
  }
  return read_to_end(fd.get(), max_size, path.string());
}

std::optional<std::vector<std::byte>>
read_file_if_exists(const stdfs::path &path, std::size_t max_size) {
  std::error_code ec;
  if (!stdfs::exists(path, ec) && !ec) {
    return std::nullopt;
  }
  return read_file(path, max_size);
}

std::string
read_text(const stdfs::path &path, std::size_t max_size) {
  const auto bytes = read_file(path, max_size);
  return {reinterpret_cast<const char *>(bytes.data()), bytes.size()}; // NOLINT
}

AtomicFile::AtomicFile(stdfs::path final_path, mode_t mode, NoReplace no_replace)
  : m_final_path(std::move(final_path))
  , m_no_replace(no_replace) {
  // The temporary lives next to the final name, so a directory given as the
  // final name would put it in the directory's parent (for "/tmp": in "/")
  // and fail only at the rename. Refuse it before creating anything.
  std::error_code ec;
  if (!m_final_path.has_filename() || stdfs::is_directory(m_final_path, ec)) {
    throw Error(ErrorKind::io, "{} is a directory; a file name is needed", m_final_path.string());
  }
  const stdfs::path dir = m_final_path.has_parent_path() ? m_final_path.parent_path() : ".";
  std::string templ = (dir / ("." + m_final_path.filename().string() + ".tmp-XXXXXX")).string();
  m_fd = ::mkostemp(templ.data(), O_CLOEXEC);
  if (m_fd < 0) {
    throw Error(ErrorKind::io, "cannot create a temporary file in {}: {}", dir.string(), errno_text(errno));
  }
  m_temp_path = templ;
  if (::fchmod(m_fd, mode) != 0) {
    const int err = errno;
    ::close(m_fd);
    ::unlink(m_temp_path.c_str());
    throw Error(ErrorKind::io, "chmod {}: {}", m_temp_path.string(), errno_text(err));
  }
}

AtomicFile::AtomicFile(AtomicFile &&other) noexcept
  : m_final_path(std::move(other.m_final_path))
  , m_temp_path(std::move(other.m_temp_path))
  , m_fd(std::exchange(other.m_fd, -1))
  , m_no_replace(other.m_no_replace)
  , m_committed(std::exchange(other.m_committed, true)) {}

AtomicFile::~AtomicFile() {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
  if (!m_committed && !m_temp_path.empty()) {
    ::unlink(m_temp_path.c_str());
  }
}

void
AtomicFile::write(std::span<const std::byte> data) {
  if (!write_full(m_fd, data)) {
    throw Error(ErrorKind::io, "write {}: {}", m_temp_path.string(), errno_text(errno));
  }
}

void
AtomicFile::write(std::string_view text) {
  write(std::as_bytes(std::span<const char>(text.data(), text.size())));
}

void
AtomicFile::commit() {
  if (::fsync(m_fd) != 0) {
    throw Error(ErrorKind::io, "fsync {}: {}", m_temp_path.string(), errno_text(errno));
  }
  const int fd = std::exchange(m_fd, -1);
  if (::close(fd) != 0) {
    throw Error(ErrorKind::io, "close {}: {}", m_temp_path.string(), errno_text(errno));
  }
  if (m_no_replace == NoReplace::yes) {
    // link() fails with EEXIST instead of replacing: no window where a file
    // created by someone else is overwritten.
    if (::link(m_temp_path.c_str(), m_final_path.c_str()) != 0) {
      const int err = errno;
      if (err == EEXIST) {
        throw Error(ErrorKind::exists, "{} already exists", m_final_path.string());
      }
      throw Error(
          ErrorKind::io, "link {} -> {}: {}", m_temp_path.string(), m_final_path.string(), errno_text(err));
    }
    ::unlink(m_temp_path.c_str());
  } else if (::rename(m_temp_path.c_str(), m_final_path.c_str()) != 0) {
    throw Error(
        ErrorKind::io, "rename {} -> {}: {}", m_temp_path.string(), m_final_path.string(), errno_text(errno));
  }
  m_committed = true;
  // Make the rename itself durable.
  const stdfs::path dir = m_final_path.has_parent_path() ? m_final_path.parent_path() : ".";
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd) {
    ::fsync(dfd.get());
  }
}

void
write_file_atomic(const stdfs::path &path,
                  std::span<const std::byte> data,
                  mode_t mode,
                  AtomicFile::NoReplace no_replace) {
  AtomicFile f(path, mode, no_replace);
  f.write(data);
  f.commit();
}

void
write_file_atomic(const stdfs::path &path,
                  std::string_view text,
                  mode_t mode,
                  AtomicFile::NoReplace no_replace) {
  write_file_atomic(path, std::as_bytes(std::span<const char>(text.data(), text.size())), mode, no_replace);
}

TempDir::TempDir(std::string_view prefix, std::optional<stdfs::path> parent) {
  stdfs::path base;
  if (parent) {
    base = *parent;
  } else if (const char *t = std::getenv("TMPDIR");
             t != nullptr && *t != '\0') { // NOLINT(concurrency-mt-unsafe)
    base = t;
  } else {
    base = "/var/tmp";
  }
  std::string templ = (base / (std::string(prefix) + ".XXXXXX")).string();
  if (::mkdtemp(templ.data()) == nullptr) {
    throw Error(
        ErrorKind::io, "cannot create a temporary directory in {}: {}", base.string(), errno_text(errno));
  }
  m_path = templ;
}

TempDir::TempDir(TempDir &&other) noexcept
  : m_path(std::move(other.m_path))
  , m_keep(other.m_keep) {
  other.m_path.clear();
}

TempDir::~TempDir() {
  if (m_path.empty()) {
    return;
  }
  if (m_keep) {
    log::info("kept temporary directory {}", m_path.string());
    return;
  }
  std::error_code ec;
  stdfs::remove_all(m_path, ec);
  if (ec) {
    log::warning("could not remove {}: {}", m_path.string(), ec.message());
  }
}

Fd::Fd(Fd &&other) noexcept
  : m_fd(std::exchange(other.m_fd, -1)) {}

Fd &
Fd::operator=(Fd &&other) noexcept {
  if (this != &other) {
    close();
    m_fd = std::exchange(other.m_fd, -1);
  }
  return *this;
}

Fd::~Fd() {
  close();
}

int
Fd::release() noexcept {
  return std::exchange(m_fd, -1);
}

bool
Fd::close() noexcept {
  if (m_fd < 0) {
    return true;
  }
  return ::close(std::exchange(m_fd, -1)) == 0;
}

} // namespace cvm::fs
