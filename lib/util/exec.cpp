// SPDX-License-Identifier: Apache-2.0
#include "lib/util/exec.hpp"

#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/log.hpp"

#include <fmt/ranges.h>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>

extern char **environ; // NOLINT

namespace cvm::exec {

std::optional<std::string>
find_program(const std::string &program) {
  if (program.find('/') != std::string::npos) {
    return ::access(program.c_str(), X_OK) == 0 ? std::optional(program) : std::nullopt;
  }
  const char *path = std::getenv("PATH"); // NOLINT(concurrency-mt-unsafe)
  std::string_view rest = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
  while (!rest.empty()) {
    const auto colon = rest.find(':');
    const std::string dir(rest.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
    const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate)) {
      return candidate;
    }
  }
  return std::nullopt;
}

namespace {

struct Pipe {
  fs::Fd read;
  fs::Fd write;
};

Pipe
make_pipe() {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    throw Error(ErrorKind::io, "pipe: {}", fs::errno_text(errno));
  }
  return {fs::Fd(fds[0]), fs::Fd(fds[1])};
}

} // namespace

Result
run(const std::vector<std::string> &argv, const Options &options) {
  if (argv.empty()) {
    throw Error(ErrorKind::internal, "exec::run: empty argv");
  }
  log::debug("running: {}", fmt::join(argv, " "));
  const auto program = find_program(argv[0]);
  if (!program) {
    throw Error(ErrorKind::io, "{}: program not found in PATH", argv[0]);
  }

  std::vector<char *> c_argv;
  c_argv.reserve(argv.size() + 1);
  for (const auto &a : argv) {
    c_argv.push_back(const_cast<char *>(a.c_str())); // NOLINT(cppcoreguidelines-pro-type-const-cast)
  }
  c_argv.push_back(nullptr);

  std::vector<std::string> env_storage;
  for (char **e = environ; *e != nullptr; ++e) {
    env_storage.emplace_back(*e);
  }
  for (const auto &e : options.extra_env) {
    env_storage.push_back(e);
  }
  std::vector<char *> c_env;
  c_env.reserve(env_storage.size() + 1);
  for (auto &e : env_storage) {
    c_env.push_back(e.data());
  }
  c_env.push_back(nullptr);

  Pipe in = make_pipe();
  Pipe out = make_pipe();
  Pipe err = make_pipe();

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.read.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out.write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err.write.get(), 2);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, program->c_str(), &actions, nullptr, c_argv.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    throw Error(ErrorKind::io, "cannot start {}: {}", argv[0], fs::errno_text(rc));
  }
  in.read.close();
  out.write.close();
  err.write.close();

  if (options.stdin_data) {
    // Ignore SIGPIPE for the write: a child that exits early must not kill us.
    struct sigaction ign {};
    struct sigaction old {};
    ign.sa_handler = SIG_IGN; // NOLINT
    ::sigaction(SIGPIPE, &ign, &old);
    // A child that stops reading early is not an error here: its exit status tells.
    (void)fs::write_full(in.write.get(), std::as_bytes(std::span(*options.stdin_data)));
    ::sigaction(SIGPIPE, &old, nullptr);
  }
  in.write.close();

  Result result;
  const auto deadline =
      options.timeout ? std::optional(std::chrono::steady_clock::now() + *options.timeout) : std::nullopt;
  std::array<pollfd, 2> pfds{{{out.read.get(), POLLIN, 0}, {err.read.get(), POLLIN, 0}}};
  int open_streams = 2;
  std::array<char, 65536> buf{};
  while (open_streams > 0) {
    int wait_ms = -1;
    if (deadline) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        ::kill(pid, SIGKILL);
        result.timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(left.count());
    }
    const int n = ::poll(pfds.data(), pfds.size(), wait_ms);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    for (std::size_t i = 0; i < pfds.size(); ++i) {
      if (pfds[i].fd < 0 || pfds[i].revents == 0) {
        continue;
      }
      const ssize_t got = fs::read_some(pfds[i].fd, std::as_writable_bytes(std::span(buf)));
      if (got > 0) {
        (i == 0 ? result.out : result.err).append(buf.data(), static_cast<std::size_t>(got));
      } else {
        pfds[i].fd = -1;
        --open_streams;
      }
    }
  }

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    result.exit_status = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exit_status = 128 + WTERMSIG(status);
  }
  log::trace("{} exited with {}", argv[0], result.exit_status);
  return result;
}

} // namespace cvm::exec
