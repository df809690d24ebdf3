// SPDX-License-Identifier: Apache-2.0
#include "cmd/agent/header_check.hpp"

#include "lib/luks/header.hpp"
#include "lib/luks/policy.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cvm::agent {

namespace {

class Fd {
public:
  explicit Fd(int fd)
    : m_fd(fd) {}
  Fd(const Fd &) = delete;
  Fd &operator=(const Fd &) = delete;
  Fd(Fd &&) = delete;
  Fd &operator=(Fd &&) = delete;
  ~Fd() {
    if (m_fd >= 0) {
      (void)::close(m_fd);
    }
  }
  [[nodiscard]] int
  get() const noexcept {
    return m_fd;
  }

private:
  int m_fd;
};

void
make_private_dir(const std::filesystem::path &dir) {
  if (dir.empty()) {
    return;
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw Error(ErrorKind::io, "cannot create {}: {}", dir.string(), std::strerror(errno));
  }
}

} // namespace

void
check_and_copy_header(const kbs::LuksTarget &luks) {
  if (!luks.header_policy) {
    throw Error(ErrorKind::usage, "luks.header_policy is not set");
  }
  luks::Policy policy;
  try {
    policy = luks::policy_from_json(fs::read_text(*luks.header_policy, std::size_t{1} << 20U));
  } catch (const Error &e) {
    throw Error(ErrorKind::usage, "header policy {}: {}", luks.header_policy->string(), e.what());
  }
  const Fd device(::open(luks.device.c_str(), O_RDONLY | O_CLOEXEC));
  if (device.get() < 0) {
    throw Error(ErrorKind::io, "cannot open LUKS device {}: {}", luks.device, std::strerror(errno));
  }
  luks::Header header = [&] {
    try {
      return luks::read_compliant_header(device.get(), policy);
    } catch (const Error &e) {
      throw Error(e.kind(), "LUKS header of {} rejected: {}", luks.device, e.what());
    }
  }();
  make_private_dir(luks.header_copy.parent_path());
  luks::write_header_copy(header, luks.header_copy);
  log::info("LUKS header of {} complies with the policy; checked copy in {}",
            luks.device,
            luks.header_copy.string());
}

} // namespace cvm::agent
