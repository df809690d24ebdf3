// SPDX-License-Identifier: Apache-2.0
// Launcher over libguestfs: each launch is a new Session.
#include "lib/guestfs/appliance.hpp"
#include "lib/guestfs/session.hpp"
#include "lib/host/accel.hpp"

namespace cvm::guestfs {

namespace {

class SessionLauncher final : public Launcher {
public:
  std::string
  accelerator() override {
    return host::accel_name();
  }

  std::string
  disk_format(const std::filesystem::path &path) override {
    Session probe;
    return probe.disk_format(path);
  }

  void
  disk_create(const std::filesystem::path &path,
              const std::string &format,
              std::int64_t size_bytes) override {
    Session s;
    s.disk_create(path, format, size_bytes);
  }

  std::unique_ptr<Appliance>
  launch(const LaunchSpec &spec) override {
    m_timed_out = false;
    SessionOptions options;
    options.smp = spec.smp;
    options.memsize_mib = spec.memsize_mib;
    options.cancel_launch = spec.cancel_launch;
    auto session = std::make_unique<Session>(options);
    for (const auto &d : spec.drives) {
      session->add_drive(d.path, d.options);
    }
    try {
      session->launch();
    } catch (...) {
      m_timed_out = session->launch_timed_out();
      throw;
    }
    return session;
  }

  [[nodiscard]] bool
  last_launch_timed_out() const override {
    return m_timed_out;
  }

private:
  bool m_timed_out = false;
};

} // namespace

std::unique_ptr<Launcher>
make_session_launcher() {
  return std::make_unique<SessionLauncher>();
}

} // namespace cvm::guestfs
