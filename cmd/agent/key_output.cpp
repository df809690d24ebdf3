// SPDX-License-Identifier: Apache-2.0
#include "cmd/agent/key_output.hpp"

#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace cvm::agent {

namespace {

void
require_pipe_or_socket(int fd, std::string_view what) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    throw Error(ErrorKind::usage, "{}: {}", what, fs::errno_text(errno));
  }
  if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)) {
    throw Error(ErrorKind::usage,
                "{} is not a pipe or socket; refusing to write the key to a file or terminal",
                what);
  }
}

void
write_all(int fd, const SecretBytes &key, std::string_view what) {
  if (!fs::write_full(fd, std::span<const std::byte>(key.data(), key.size()))) {
    throw Error(ErrorKind::io, "writing the key to {}: {}", what, fs::errno_text(errno));
  }
}

} // namespace

void
check_key_fd(int fd) {
  require_pipe_or_socket(fd, fmt::format("key fd {}", fd));
}

void
check_key_fifo(const std::filesystem::path &path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISFIFO(st.st_mode)) {
    throw Error(ErrorKind::usage, "{} is not an existing FIFO", path.string());
  }
}

void
write_key_to_fd(int fd, const SecretBytes &key) {
  const std::string what = fmt::format("key fd {}", fd);
  require_pipe_or_socket(fd, what);
  fs::Fd owned(fd);
  write_all(fd, key, what);
  if (!owned.close()) {
    throw Error(ErrorKind::io, "closing {}: {}", what, fs::errno_text(errno));
  }
}

void
write_key_to_fifo(const std::filesystem::path &path, const SecretBytes &key) {
  check_key_fifo(path);
  const int fd = ::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    throw Error(ErrorKind::io, "open {}: {}", path.string(), fs::errno_text(errno));
  }
  write_key_to_fd(fd, key);
}

} // namespace cvm::agent
