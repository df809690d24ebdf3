// SPDX-License-Identifier: Apache-2.0
#include "lib/guestfs/session.hpp"

#include "lib/guestfs/backend_settings.hpp"
#include "lib/host/launch_watchdog.hpp"
#include "lib/util/c_handle.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/log.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <guestfs.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string_view>

namespace cvm::guestfs {

namespace {

CVM_DEFINE_C_PTR(Guestfs, struct guestfs_h, guestfs_close);

// Owners of what libguestfs returns; freed as soon as the copy is taken.
struct FreeDeleter {
  void
  operator()(void *p) const noexcept {
    std::free(p); // NOLINT(cppcoreguidelines-no-malloc,cppcoreguidelines-owning-memory): libguestfs allocates
                  // with malloc
  }
};
using CString = std::unique_ptr<char, FreeDeleter>;

struct StringListDeleter {
  void
  operator()(char **list) const noexcept {
    if (list == nullptr) {
      return;
    }
    for (char **p = list; *p != nullptr; ++p) {
      std::free(*p); // NOLINT(cppcoreguidelines-no-malloc,cppcoreguidelines-owning-memory): libguestfs
                     // allocates with malloc
    }
    std::free(list); // NOLINT(cppcoreguidelines-no-malloc,cppcoreguidelines-owning-memory): libguestfs
                     // allocates with malloc
  }
};
using StringList = std::unique_ptr<char *, StringListDeleter>;

CVM_DEFINE_C_PTR(Statvfs, struct guestfs_statvfs, guestfs_free_statvfs);
CVM_DEFINE_C_PTR(Statns, struct guestfs_statns, guestfs_free_statns);
CVM_DEFINE_C_PTR(PartitionList, struct guestfs_partition_list, guestfs_free_partition_list);
CVM_DEFINE_C_PTR(XattrList, struct guestfs_xattr_list, guestfs_free_xattr_list);

constexpr std::size_t k_max_write_size = std::size_t{1} << 20U; // beyond: upload

std::vector<std::string>
to_vector(StringList list) {
  std::vector<std::string> out;
  for (char **p = list.get(); *p != nullptr; ++p) {
    out.emplace_back(*p);
  }
  return out;
}

// argv for libguestfs: pointers into `strings`, NULL-terminated. libguestfs
// takes `char *const *` but does not write through it.
std::vector<char *>
c_argv(const std::vector<std::string> &strings) {
  std::vector<char *> argv;
  argv.reserve(strings.size() + 1);
  for (const std::string &s : strings) {
    argv.push_back(const_cast<char *>(s.c_str())); // NOLINT(cppcoreguidelines-pro-type-const-cast)
  }
  argv.push_back(nullptr);
  return argv;
}

std::vector<std::byte>
to_bytes(const char *data, std::size_t size) {
  std::vector<std::byte> out(size);
  if (size != 0) {
    std::memcpy(out.data(), data, size);
  }
  return out;
}

std::string_view
cache_mode_name(CacheMode mode) {
  return mode == CacheMode::unsafe ? "unsafe" : "writeback";
}

std::string_view
preallocation_name(Preallocation p) {
  switch (p) {
  case Preallocation::off:
    return "off";
  case Preallocation::metadata:
    return "metadata";
  case Preallocation::full:
    return "full";
  }
  return "off";
}

// Keys go to libguestfs as C strings: copy into a wiped buffer with a NUL.
SecretBytes
key_as_c_string(const SecretBytes &key, std::string_view call) {
  if (key.empty()) {
    throw Error(ErrorKind::guest, "{}: empty key", call);
  }
  const auto *begin = key.data();
  const auto *end = begin + key.size();
  if (std::find(begin, end, std::byte{0}) != end) {
    throw Error(ErrorKind::guest, "{}: the key contains a NUL byte, which libguestfs cannot pass on", call);
  }
  SecretBytes c_key(key.size() + 1);
  std::memcpy(c_key.data(), key.data(), key.size());
  return c_key;
}

} // namespace

namespace {

// What the event callback needs; lives inside the heap-allocated State, so its
// address survives moves of the Session.
struct CallbackState {
  std::string appliance_line; // partial console line, completed by the next event
};

} // namespace

struct Session::State {
  CallbackState callback;
  bool shut_down = false;
  // Declared last so that it is closed first (its callbacks use the fields above).
  GuestfsPtr g;
};

namespace {

void
event_callback(guestfs_h * /*g*/,
               void *opaque,
               uint64_t event,
               int /*event_handle*/,
               int /*flags*/,
               const char *buf,
               size_t buf_len,
               const uint64_t * /*array*/,
               size_t /*array_len*/) noexcept {
  // Called from C: nothing may propagate. Logging can only fail on memory
  // exhaustion, and then losing a debug line is the right outcome.
  try {
    auto *state = static_cast<CallbackState *>(opaque);
    std::string_view text(buf != nullptr ? buf : "", buf != nullptr ? buf_len : 0);
    switch (event) {
    case GUESTFS_EVENT_APPLIANCE: {
      if (!log::enabled(log::Level::trace)) {
        return;
      }
      // Console output arrives in arbitrary chunks; log whole lines.
      state->appliance_line.append(text);
      std::size_t pos = 0;
      while ((pos = state->appliance_line.find('\n')) != std::string::npos) {
        std::string line = state->appliance_line.substr(0, pos);
        state->appliance_line.erase(0, pos + 1);
        if (!line.empty() && line.back() == '\r') {
          line.pop_back();
        }
        log::trace("appliance: {}", line);
      }
      return;
    }
    case GUESTFS_EVENT_LIBRARY:
      while (!text.empty() && text.back() == '\n') {
        text.remove_suffix(1);
      }
      log::debug("libguestfs: {}", text);
      return;
    case GUESTFS_EVENT_WARNING:
      while (!text.empty() && text.back() == '\n') {
        text.remove_suffix(1);
      }
      log::warning("libguestfs: {}", text);
      return;
    case GUESTFS_EVENT_TRACE:
      log::trace("guestfs trace: {}", text);
      return;
    default:
      return;
    }
  } catch (const std::exception &) { // NOLINT(bugprone-empty-catch): see above
  }
}

} // namespace

Session::Session(const SessionOptions &options)
  : m_state(std::make_unique<State>())
  , m_accel(options.accel ? *options.accel : host::accel_decision().accel)
  , m_launch_timeout(options.launch_timeout ? *options.launch_timeout : host::launch_timeout_from_env())
  , m_cancel_launch(options.cancel_launch) {
  // guestfs_create (not _flags with NO_ENVIRONMENT): LIBGUESTFS_* is honoured.
  m_state->g.reset(guestfs_create());
  if (!m_state->g) {
    throw Error(ErrorKind::guest, "guestfs_create: {}", fs::errno_text(errno));
  }
  guestfs_h *g = m_state->g.get();
  // No stderr printing: every error is read back and thrown as cvm::Error.
  guestfs_set_error_handler(g, nullptr, nullptr);
  if (guestfs_set_event_callback(g,
                                 event_callback,
                                 GUESTFS_EVENT_APPLIANCE | GUESTFS_EVENT_LIBRARY | GUESTFS_EVENT_WARNING |
                                     GUESTFS_EVENT_TRACE,
                                 0,
                                 &m_state->callback) == -1) {
    const char *e = guestfs_last_error(g);
    throw Error(ErrorKind::guest, "guestfs_set_event_callback: {}", e != nullptr ? e : "?");
  }
  if (log::enabled(log::Level::trace)) {
    guestfs_set_verbose(g, 1);
    guestfs_set_trace(g, 1);
  }

  const char *user_settings = std::getenv("LIBGUESTFS_BACKEND_SETTINGS"); // NOLINT
  std::optional<std::string_view> user;
  if (user_settings != nullptr) {
    user = user_settings;
  }
  if (const auto settings = backend_settings_for(m_accel, user)) {
    auto argv = c_argv(*settings);
    if (guestfs_set_backend_settings(g, argv.data()) == -1) {
      const char *e = guestfs_last_error(g);
      throw Error(
          ErrorKind::guest, "set_backend_settings {}: {}", fmt::join(*settings, ","), e != nullptr ? e : "?");
    }
  }
  if (options.memsize_mib && guestfs_set_memsize(g, *options.memsize_mib) == -1) {
    throw Error(ErrorKind::guest,
                "set_memsize {}: {}",
                *options.memsize_mib,
                guestfs_last_error(g) != nullptr ? guestfs_last_error(g) : "?");
  }
  if (options.smp && guestfs_set_smp(g, *options.smp) == -1) {
    throw Error(ErrorKind::guest,
                "set_smp {}: {}",
                *options.smp,
                guestfs_last_error(g) != nullptr ? guestfs_last_error(g) : "?");
  }
  {
    CString backend(guestfs_get_backend(g));
    if (const auto cpu = appliance_cpu_model(m_accel, backend ? backend.get() : "", user)) {
      if (guestfs_config(g, "-cpu", cpu->c_str()) == -1) {
        const char *e = guestfs_last_error(g);
        throw Error(ErrorKind::guest, "config -cpu {}: {}", *cpu, e != nullptr ? e : "?");
      }
    }
    log::debug("libguestfs handle: backend {}, accelerator {}{}",
               backend ? backend.get() : "?",
               to_string(m_accel),
               user_settings != nullptr
                   ? fmt::format(" (LIBGUESTFS_BACKEND_SETTINGS={} honoured)", user_settings)
                   : std::string());
  }
}

Session::Session(Session &&other) noexcept = default;

Session &
Session::operator=(Session &&other) noexcept {
  if (this != &other) {
    close_best_effort();
    m_state = std::move(other.m_state);
    m_accel = other.m_accel;
    m_launch_timeout = other.m_launch_timeout;
    m_cancel_launch = std::move(other.m_cancel_launch);
    m_launch_timed_out = other.m_launch_timed_out;
  }
  return *this;
}

Session::~Session() {
  close_best_effort();
}

void
Session::close_best_effort() noexcept {
  if (!m_state || !m_state->g) {
    return;
  }
  if (!m_state->shut_down) {
    // Best effort only: a build that needs its disks written calls shutdown().
    if (guestfs_shutdown(m_state->g.get()) == -1) {
      const char *e = guestfs_last_error(m_state->g.get());
      try {
        log::debug("libguestfs: shutdown while closing the handle failed: {}", e != nullptr ? e : "?");
      } catch (const std::exception &) { // NOLINT(bugprone-empty-catch): destructor path
      }
    }
  }
  m_state->g.reset();
}

guestfs_h *
Session::handle() const noexcept {
  return m_state ? m_state->g.get() : nullptr;
}

guestfs_h *
Session::checked_handle(const char *call) const {
  guestfs_h *g = handle();
  if (g == nullptr) {
    throw Error(ErrorKind::internal, "{}: libguestfs session used after move", call);
  }
  return g;
}

namespace {

[[noreturn]] void
fail(guestfs_h *g, std::string_view call, std::initializer_list<std::string_view> args) {
  const char *e = guestfs_last_error(g);
  std::string message(call);
  for (std::string_view a : args) {
    message += ' ';
    message += a;
  }
  throw Error(ErrorKind::guest, "{}: {}", message, e != nullptr ? e : "unknown libguestfs error");
}

int
check(guestfs_h *g, int rc, std::string_view call, std::initializer_list<std::string_view> args) {
  if (rc == -1) {
    fail(g, call, args);
  }
  return rc;
}

std::string
take_string(guestfs_h *g, char *s, std::string_view call, std::initializer_list<std::string_view> args) {
  CString owned(s);
  if (!owned) {
    fail(g, call, args);
  }
  return {owned.get()};
}

std::vector<std::string>
take_list(guestfs_h *g, char **list, std::string_view call, std::initializer_list<std::string_view> args) {
  StringList owned(list);
  if (!owned) {
    fail(g, call, args);
  }
  return to_vector(std::move(owned));
}

bool
check_bool(guestfs_h *g, int rc, std::string_view call, std::string_view path) {
  return check(g, rc, call, {path}) != 0;
}

} // namespace

// --- Set-up and lifetime ---

void
Session::disk_create(const std::filesystem::path &path,
                     const std::string &format,
                     std::int64_t size_bytes,
                     const DiskCreateOptions &options) {
  guestfs_h *g = checked_handle("disk_create");
  struct guestfs_disk_create_argv optargs {};
  const std::string prealloc(preallocation_name(options.preallocation));
  optargs.bitmask |= GUESTFS_DISK_CREATE_PREALLOCATION_BITMASK;
  optargs.preallocation = prealloc.c_str();
  std::string backing;
  if (options.backing_file) {
    backing = options.backing_file->string();
    optargs.bitmask |= GUESTFS_DISK_CREATE_BACKINGFILE_BITMASK;
    optargs.backingfile = backing.c_str();
  }
  if (options.backing_format) {
    optargs.bitmask |= GUESTFS_DISK_CREATE_BACKINGFORMAT_BITMASK;
    optargs.backingformat = options.backing_format->c_str();
  }
  check(g,
        guestfs_disk_create_argv(g, path.c_str(), format.c_str(), size_bytes, &optargs),
        "disk_create",
        {path.native(), format, std::to_string(size_bytes)});
}

std::string
Session::disk_format(const std::filesystem::path &path) {
  guestfs_h *g = checked_handle("disk_format");
  return take_string(g, guestfs_disk_format(g, path.c_str()), "disk_format", {path.native()});
}

void
Session::add_drive(const std::filesystem::path &path, const AddDriveOptions &options) {
  guestfs_h *g = checked_handle("add_drive");
  struct guestfs_add_drive_opts_argv optargs {};
  optargs.bitmask = GUESTFS_ADD_DRIVE_OPTS_READONLY_BITMASK | GUESTFS_ADD_DRIVE_OPTS_FORMAT_BITMASK |
                    GUESTFS_ADD_DRIVE_OPTS_CACHEMODE_BITMASK;
  optargs.readonly = options.read_only == ReadOnly::yes ? 1 : 0;
  optargs.format = options.format.c_str();
  const std::string cache(cache_mode_name(options.cache_mode));
  optargs.cachemode = cache.c_str();
  if (options.label) {
    optargs.bitmask |= GUESTFS_ADD_DRIVE_OPTS_LABEL_BITMASK;
    optargs.label = options.label->c_str();
  }
  if (options.discard) {
    optargs.bitmask |= GUESTFS_ADD_DRIVE_OPTS_DISCARD_BITMASK;
    optargs.discard = "besteffort";
  }
  log::debug("libguestfs: add drive {} (format {}, {}, cache {})",
             path.native(),
             options.format,
             options.read_only == ReadOnly::yes ? "read-only" : "read-write",
             cache);
  check(g,
        guestfs_add_drive_opts_argv(g, path.c_str(), &optargs),
        "add_drive",
        {path.native(), options.format});
}

void
Session::add_drive(const std::filesystem::path &path, const std::string &format, ReadOnly read_only) {
  AddDriveOptions options;
  options.format = format;
  options.read_only = read_only;
  add_drive(path, options);
}

void
Session::launch() {
  guestfs_h *g = checked_handle("launch");
  log::debug(
      "libguestfs: launching the appliance ({}, at most {} s)", to_string(m_accel), m_launch_timeout.count());
  host::LaunchWatchdog::Options watch;
  watch.timeout = m_launch_timeout;
  watch.cancel = m_cancel_launch;
  host::LaunchWatchdog watchdog(std::move(watch));
  const int rc = guestfs_launch(g);
  switch (watchdog.stop()) {
  case host::WatchdogVerdict::timed_out:
    m_launch_timed_out = true;
    throw Error(
        ErrorKind::guest,
        "launch: the libguestfs appliance did not start within {} s (accelerator {}) and was stopped; {}",
        m_launch_timeout.count(),
        to_string(m_accel),
        m_accel == host::Accel::kvm ? "nested virtualisation can hang KVM guests: try CVM_ACCEL=tcg, or a "
                                      "longer CVM_LAUNCH_TIMEOUT on a loaded host"
                                    : "a slow or loaded host may need a longer CVM_LAUNCH_TIMEOUT");
  case host::WatchdogVerdict::cancelled:
    throw Error(ErrorKind::interrupted, "launch: interrupted while the appliance was starting");
  case host::WatchdogVerdict::none:
    break;
  }
  check(g, rc, "launch", {});
}

void
Session::shutdown() {
  guestfs_h *g = checked_handle("shutdown");
  if (m_state->shut_down) {
    return;
  }
  m_state->shut_down = true;
  check(g, guestfs_shutdown(g), "shutdown", {});
}

void
Session::set_trace(bool enabled) {
  guestfs_h *g = checked_handle("set_trace");
  check(g, guestfs_set_trace(g, enabled ? 1 : 0), "set_trace", {});
}

bool
Session::get_trace() {
  return guestfs_get_trace(checked_handle("get_trace")) > 0;
}

// --- Files ---

bool
Session::exists(const std::string &path) {
  guestfs_h *g = checked_handle("exists");
  return check_bool(g, guestfs_exists(g, path.c_str()), "exists", path);
}

bool
Session::is_dir(const std::string &path) {
  guestfs_h *g = checked_handle("is_dir");
  return check_bool(g, guestfs_is_dir(g, path.c_str()), "is_dir", path);
}

bool
Session::is_dir_follow(const std::string &path) {
  guestfs_h *g = checked_handle("is_dir");
  struct guestfs_is_dir_opts_argv optargs {};
  optargs.bitmask = GUESTFS_IS_DIR_OPTS_FOLLOWSYMLINKS_BITMASK;
  optargs.followsymlinks = 1;
  return check_bool(g, guestfs_is_dir_opts_argv(g, path.c_str(), &optargs), "is_dir", path);
}

bool
Session::is_file(const std::string &path) {
  guestfs_h *g = checked_handle("is_file");
  return check_bool(g, guestfs_is_file(g, path.c_str()), "is_file", path);
}

bool
Session::is_symlink(const std::string &path) {
  guestfs_h *g = checked_handle("is_symlink");
  return check_bool(g, guestfs_is_symlink(g, path.c_str()), "is_symlink", path);
}

std::vector<std::byte>
Session::read_file(const std::string &path) {
  guestfs_h *g = checked_handle("read_file");
  std::size_t size = 0;
  CString data(guestfs_read_file(g, path.c_str(), &size));
  if (!data) {
    fail(g, "read_file", {path});
  }
  return to_bytes(data.get(), size);
}

void
Session::write(const std::string &path, std::span<const std::byte> content) {
  guestfs_h *g = checked_handle("write");
  if (content.size() > k_max_write_size) {
    const fs::TempDir tmp("cvmforge-upload");
    const std::filesystem::path host = tmp.path() / "content";
    fs::write_file_atomic(host, content, 0600);
    upload(host, path);
    return;
  }
  const char *data = content.empty() ? "" : reinterpret_cast<const char *>(content.data()); // NOLINT
  check(g, guestfs_write(g, path.c_str(), data, content.size()), "write", {path});
}

void
Session::mkdir_p(const std::string &path) {
  guestfs_h *g = checked_handle("mkdir_p");
  check(g, guestfs_mkdir_p(g, path.c_str()), "mkdir_p", {path});
}

std::vector<std::string>
Session::ls(const std::string &path) {
  guestfs_h *g = checked_handle("ls");
  auto names = take_list(g, guestfs_ls(g, path.c_str()), "ls", {path});
  std::sort(names.begin(), names.end());
  return names;
}

void
Session::rm(const std::string &path) {
  guestfs_h *g = checked_handle("rm");
  check(g, guestfs_rm(g, path.c_str()), "rm", {path});
}

void
Session::rm_rf(const std::string &path) {
  guestfs_h *g = checked_handle("rm_rf");
  check(g, guestfs_rm_rf(g, path.c_str()), "rm_rf", {path});
}

void
Session::chmod(int mode, const std::string &path) {
  guestfs_h *g = checked_handle("chmod");
  check(g, guestfs_chmod(g, mode, path.c_str()), "chmod", {fmt::format("{:o}", mode), path});
}

void
Session::ln_s(const std::string &target, const std::string &linkname) {
  guestfs_h *g = checked_handle("ln_s");
  check(g, guestfs_ln_s(g, target.c_str(), linkname.c_str()), "ln_s", {target, linkname});
}

std::string
Session::readlink(const std::string &path) {
  guestfs_h *g = checked_handle("readlink");
  return take_string(g, guestfs_readlink(g, path.c_str()), "readlink", {path});
}

FsUsage
Session::statvfs(const std::string &path) {
  guestfs_h *g = checked_handle("statvfs");
  StatvfsPtr st(guestfs_statvfs(g, path.c_str()));
  if (!st) {
    fail(g, "statvfs", {path});
  }
  FsUsage usage;
  usage.block_size = static_cast<std::uint64_t>(st->frsize);
  usage.total_bytes = static_cast<std::uint64_t>(st->blocks) * usage.block_size;
  usage.free_bytes = static_cast<std::uint64_t>(st->bfree) * usage.block_size;
  usage.used_bytes = usage.total_bytes - std::min(usage.free_bytes, usage.total_bytes);
  return usage;
}

std::string
Session::command(const std::vector<std::string> &argv) {
  guestfs_h *g = checked_handle("command");
  if (argv.empty()) {
    throw Error(ErrorKind::internal, "command: empty argv");
  }
  const std::string shown = fmt::format("{}", fmt::join(argv, " "));
  log::debug("guest command: {}", shown);
  auto c = c_argv(argv);
  return take_string(g, guestfs_command(g, c.data()), "command", {shown});
}

// --- Mounts ---

void
Session::mount(const std::string &mountable, const std::string &mountpoint, ReadOnly read_only) {
  guestfs_h *g = checked_handle("mount");
  if (read_only == ReadOnly::yes) {
    check(g, guestfs_mount_ro(g, mountable.c_str(), mountpoint.c_str()), "mount_ro", {mountable, mountpoint});
  } else {
    check(g, guestfs_mount(g, mountable.c_str(), mountpoint.c_str()), "mount", {mountable, mountpoint});
  }
}

void
Session::mount_options(const std::string &options,
                       const std::string &mountable,
                       const std::string &mountpoint) {
  guestfs_h *g = checked_handle("mount_options");
  check(g,
        guestfs_mount_options(g, options.c_str(), mountable.c_str(), mountpoint.c_str()),
        "mount_options",
        {options, mountable, mountpoint});
}

void
Session::mkmountpoint(const std::string &path) {
  guestfs_h *g = checked_handle("mkmountpoint");
  check(g, guestfs_mkmountpoint(g, path.c_str()), "mkmountpoint", {path});
}

void
Session::umount(const std::string &mountpoint) {
  guestfs_h *g = checked_handle("umount");
  check(g, guestfs_umount(g, mountpoint.c_str()), "umount", {mountpoint});
}

void
Session::umount_all() {
  guestfs_h *g = checked_handle("umount_all");
  check(g, guestfs_umount_all(g), "umount_all", {});
}

void
Session::sync() {
  guestfs_h *g = checked_handle("sync");
  check(g, guestfs_sync(g), "sync", {});
}

// --- Devices ---

std::vector<FilesystemEntry>
Session::list_filesystems() {
  guestfs_h *g = checked_handle("list_filesystems");
  const auto flat = take_list(g, guestfs_list_filesystems(g), "list_filesystems", {});
  std::vector<FilesystemEntry> out;
  for (std::size_t i = 0; i + 1 < flat.size(); i += 2) {
    out.push_back({flat[i], flat[i + 1]});
  }
  std::sort(out.begin(), out.end(), [](const auto &a, const auto &b) { return a.mountable < b.mountable; });
  return out;
}

std::vector<std::string>
Session::list_partitions() {
  guestfs_h *g = checked_handle("list_partitions");
  auto out = take_list(g, guestfs_list_partitions(g), "list_partitions", {});
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string>
Session::list_devices() {
  guestfs_h *g = checked_handle("list_devices");
  return take_list(g, guestfs_list_devices(g), "list_devices", {});
}

std::string
Session::vfs_type(const std::string &mountable) {
  guestfs_h *g = checked_handle("vfs_type");
  return take_string(g, guestfs_vfs_type(g, mountable.c_str()), "vfs_type", {mountable});
}

std::string
Session::vfs_uuid(const std::string &mountable) {
  guestfs_h *g = checked_handle("vfs_uuid");
  return take_string(g, guestfs_vfs_uuid(g, mountable.c_str()), "vfs_uuid", {mountable});
}

std::string
Session::vfs_label(const std::string &mountable) {
  guestfs_h *g = checked_handle("vfs_label");
  return take_string(g, guestfs_vfs_label(g, mountable.c_str()), "vfs_label", {mountable});
}

std::string
Session::part_to_dev(const std::string &partition) {
  guestfs_h *g = checked_handle("part_to_dev");
  return take_string(g, guestfs_part_to_dev(g, partition.c_str()), "part_to_dev", {partition});
}

int
Session::part_to_partnum(const std::string &partition) {
  guestfs_h *g = checked_handle("part_to_partnum");
  return check(g, guestfs_part_to_partnum(g, partition.c_str()), "part_to_partnum", {partition});
}

std::string
Session::part_get_parttype(const std::string &device) {
  guestfs_h *g = checked_handle("part_get_parttype");
  return take_string(g, guestfs_part_get_parttype(g, device.c_str()), "part_get_parttype", {device});
}

std::string
Session::part_get_gpt_type(const std::string &device, int partnum) {
  guestfs_h *g = checked_handle("part_get_gpt_type");
  std::string guid = take_string(g,
                                 guestfs_part_get_gpt_type(g, device.c_str(), partnum),
                                 "part_get_gpt_type",
                                 {device, std::to_string(partnum)});
  std::transform(guid.begin(), guid.end(), guid.begin(), [](unsigned char ch) {
    return static_cast<char>(std::toupper(ch));
  });
  return guid;
}

bool
Session::is_lv(const std::string &mountable) {
  guestfs_h *g = checked_handle("is_lv");
  return check_bool(g, guestfs_is_lv(g, mountable.c_str()), "is_lv", mountable);
}

std::int64_t
Session::blockdev_getsize64(const std::string &device) {
  guestfs_h *g = checked_handle("blockdev_getsize64");
  const std::int64_t size = guestfs_blockdev_getsize64(g, device.c_str());
  if (size == -1) {
    fail(g, "blockdev_getsize64", {device});
  }
  return size;
}

void
Session::part_init(const std::string &device, const std::string &parttype) {
  guestfs_h *g = checked_handle("part_init");
  check(g, guestfs_part_init(g, device.c_str(), parttype.c_str()), "part_init", {device, parttype});
}

void
Session::part_add(const std::string &device,
                  const std::string &prlogex,
                  std::int64_t start_sector,
                  std::int64_t end_sector) {
  guestfs_h *g = checked_handle("part_add");
  check(g,
        guestfs_part_add(g, device.c_str(), prlogex.c_str(), start_sector, end_sector),
        "part_add",
        {device, prlogex, std::to_string(start_sector), std::to_string(end_sector)});
}

void
Session::part_set_gpt_type(const std::string &device, int partnum, const std::string &guid) {
  guestfs_h *g = checked_handle("part_set_gpt_type");
  check(g,
        guestfs_part_set_gpt_type(g, device.c_str(), partnum, guid.c_str()),
        "part_set_gpt_type",
        {device, std::to_string(partnum), guid});
}

void
Session::part_set_disk_guid(const std::string &device, const std::string &guid) {
  guestfs_h *g = checked_handle("part_set_disk_guid");
  check(g, guestfs_part_set_disk_guid(g, device.c_str(), guid.c_str()), "part_set_disk_guid", {device, guid});
}

void
Session::part_set_gpt_guid(const std::string &device, int partnum, const std::string &guid) {
  guestfs_h *g = checked_handle("part_set_gpt_guid");
  check(g,
        guestfs_part_set_gpt_guid(g, device.c_str(), partnum, guid.c_str()),
        "part_set_gpt_guid",
        {device, std::to_string(partnum), guid});
}

std::string
Session::checksum(const std::string &type, const std::string &path) {
  guestfs_h *g = checked_handle("checksum");
  return take_string(g, guestfs_checksum(g, type.c_str(), path.c_str()), "checksum", {type, path});
}

std::string
Session::part_get_disk_guid(const std::string &device) {
  guestfs_h *g = checked_handle("part_get_disk_guid");
  return take_string(g, guestfs_part_get_disk_guid(g, device.c_str()), "part_get_disk_guid", {device});
}

std::string
Session::part_get_gpt_guid(const std::string &device, int partnum) {
  guestfs_h *g = checked_handle("part_get_gpt_guid");
  return take_string(g,
                     guestfs_part_get_gpt_guid(g, device.c_str(), partnum),
                     "part_get_gpt_guid",
                     {device, std::to_string(partnum)});
}

void
Session::part_set_name(const std::string &device, int partnum, const std::string &name) {
  guestfs_h *g = checked_handle("part_set_name");
  check(g,
        guestfs_part_set_name(g, device.c_str(), partnum, name.c_str()),
        "part_set_name",
        {device, std::to_string(partnum), name});
}

std::vector<PartitionInfo>
Session::part_list(const std::string &device) {
  guestfs_h *g = checked_handle("part_list");
  PartitionListPtr list(guestfs_part_list(g, device.c_str()));
  if (!list) {
    fail(g, "part_list", {device});
  }
  std::vector<PartitionInfo> out;
  for (std::uint32_t i = 0; i < list->len; ++i) {
    const guestfs_partition &p = list->val[i];
    out.push_back({p.part_num, p.part_start, p.part_end, p.part_size});
  }
  return out;
}

// --- Inspection ---

std::vector<std::string>
Session::inspect_os_roots() {
  guestfs_h *g = checked_handle("inspect_os");
  auto roots = take_list(g, guestfs_inspect_os(g), "inspect_os", {});
  std::sort(roots.begin(), roots.end());
  return roots;
}

std::string
Session::inspect_get_type(const std::string &root) {
  guestfs_h *g = checked_handle("inspect_get_type");
  return take_string(g, guestfs_inspect_get_type(g, root.c_str()), "inspect_get_type", {root});
}

std::string
Session::inspect_get_distro(const std::string &root) {
  guestfs_h *g = checked_handle("inspect_get_distro");
  return take_string(g, guestfs_inspect_get_distro(g, root.c_str()), "inspect_get_distro", {root});
}

int
Session::inspect_get_major_version(const std::string &root) {
  guestfs_h *g = checked_handle("inspect_get_major_version");
  return check(g, guestfs_inspect_get_major_version(g, root.c_str()), "inspect_get_major_version", {root});
}

int
Session::inspect_get_minor_version(const std::string &root) {
  guestfs_h *g = checked_handle("inspect_get_minor_version");
  return check(g, guestfs_inspect_get_minor_version(g, root.c_str()), "inspect_get_minor_version", {root});
}

std::string
Session::inspect_get_product_name(const std::string &root) {
  guestfs_h *g = checked_handle("inspect_get_product_name");
  return take_string(
      g, guestfs_inspect_get_product_name(g, root.c_str()), "inspect_get_product_name", {root});
}

std::string
Session::inspect_get_package_format(const std::string &root) {
  guestfs_h *g = checked_handle("inspect_get_package_format");
  return take_string(
      g, guestfs_inspect_get_package_format(g, root.c_str()), "inspect_get_package_format", {root});
}

std::vector<MountpointEntry>
Session::inspect_get_mountpoints(const std::string &root) {
  guestfs_h *g = checked_handle("inspect_get_mountpoints");
  const auto flat =
      take_list(g, guestfs_inspect_get_mountpoints(g, root.c_str()), "inspect_get_mountpoints", {root});
  std::vector<MountpointEntry> out;
  for (std::size_t i = 0; i + 1 < flat.size(); i += 2) {
    out.push_back({flat[i], flat[i + 1]});
  }
  std::sort(out.begin(), out.end(), [](const auto &a, const auto &b) { return a.mountpoint < b.mountpoint; });
  return out;
}

std::vector<std::string>
Session::inspect_get_filesystems(const std::string &root) {
  guestfs_h *g = checked_handle("inspect_get_filesystems");
  return take_list(g, guestfs_inspect_get_filesystems(g, root.c_str()), "inspect_get_filesystems", {root});
}

std::vector<OsInfo>
Session::inspect_os() {
  std::vector<OsInfo> out;
  for (const std::string &root : inspect_os_roots()) {
    OsInfo info;
    info.root = root;
    info.type = inspect_get_type(root);
    info.distro = inspect_get_distro(root);
    info.major_version = inspect_get_major_version(root);
    info.minor_version = inspect_get_minor_version(root);
    info.product_name = inspect_get_product_name(root);
    info.package_format = inspect_get_package_format(root);
    info.mountpoints = inspect_get_mountpoints(root);
    out.push_back(std::move(info));
  }
  return out;
}

// --- Filesystems ---

void
Session::mkfs(const std::string &fstype, const std::string &device, const MkfsOptions &options) {
  guestfs_h *g = checked_handle("mkfs");
  struct guestfs_mkfs_opts_argv optargs {};
  if (options.block_size) {
    optargs.bitmask |= GUESTFS_MKFS_OPTS_BLOCKSIZE_BITMASK;
    optargs.blocksize = *options.block_size;
  }
  if (options.label) {
    optargs.bitmask |= GUESTFS_MKFS_OPTS_LABEL_BITMASK;
    optargs.label = options.label->c_str();
  }
  if (options.features) {
    optargs.bitmask |= GUESTFS_MKFS_OPTS_FEATURES_BITMASK;
    optargs.features = options.features->c_str();
  }
  check(g, guestfs_mkfs_opts_argv(g, fstype.c_str(), device.c_str(), &optargs), "mkfs", {fstype, device});
}

void
Session::mke2fs(const std::string &device, const Mke2fsOptions &options) {
  guestfs_h *g = checked_handle("mke2fs");
  struct guestfs_mke2fs_argv optargs {};
  optargs.bitmask |= GUESTFS_MKE2FS_FSTYPE_BITMASK;
  optargs.fstype = options.fs_type.c_str();
  if (options.block_size) {
    optargs.bitmask |= GUESTFS_MKE2FS_BLOCKSIZE_BITMASK;
    optargs.blocksize = *options.block_size;
  }
  if (options.journal_size) {
    optargs.bitmask |= GUESTFS_MKE2FS_JOURNALSIZE_BITMASK;
    optargs.journalsize = *options.journal_size;
  }
  if (options.label) {
    optargs.bitmask |= GUESTFS_MKE2FS_LABEL_BITMASK;
    optargs.label = options.label->c_str();
  }
  if (options.uuid) {
    optargs.bitmask |= GUESTFS_MKE2FS_UUID_BITMASK;
    optargs.uuid = options.uuid->c_str();
  }
  if (options.extended) {
    switch (*options.extended) {
    case Mke2fsExtended::lazy_itable_init:
      optargs.bitmask |= GUESTFS_MKE2FS_LAZYITABLEINIT_BITMASK;
      optargs.lazyitableinit = 1;
      break;
    case Mke2fsExtended::lazy_journal_init:
      optargs.bitmask |= GUESTFS_MKE2FS_LAZYJOURNALINIT_BITMASK;
      optargs.lazyjournalinit = 1;
      break;
    case Mke2fsExtended::no_discard:
      optargs.bitmask |= GUESTFS_MKE2FS_DISCARD_BITMASK;
      optargs.discard = 0;
      break;
    }
  }
  if (options.force_create) {
    optargs.bitmask |= GUESTFS_MKE2FS_FORCECREATE_BITMASK;
    optargs.forcecreate = *options.force_create ? 1 : 0;
  }
  check(g, guestfs_mke2fs_argv(g, device.c_str(), &optargs), "mke2fs", {device, options.fs_type});
}

void
Session::set_uuid(const std::string &device, const std::string &uuid) {
  guestfs_h *g = checked_handle("set_uuid");
  check(g, guestfs_set_uuid(g, device.c_str(), uuid.c_str()), "set_uuid", {device, uuid});
}

void
Session::set_label(const std::string &mountable, const std::string &label) {
  guestfs_h *g = checked_handle("set_label");
  check(g, guestfs_set_label(g, mountable.c_str(), label.c_str()), "set_label", {mountable, label});
}

void
Session::e2fsck(const std::string &device, bool correct) {
  guestfs_h *g = checked_handle("e2fsck");
  struct guestfs_e2fsck_argv optargs {};
  if (correct) {
    optargs.bitmask |= GUESTFS_E2FSCK_CORRECT_BITMASK;
    optargs.correct = 1;
  }
  check(g, guestfs_e2fsck_argv(g, device.c_str(), &optargs), "e2fsck", {device});
}

void
Session::fstrim(const std::string &mountpoint) {
  guestfs_h *g = checked_handle("fstrim");
  const struct guestfs_fstrim_argv optargs {};
  check(g, guestfs_fstrim_argv(g, mountpoint.c_str(), &optargs), "fstrim", {mountpoint});
}

// --- More files ---

void
Session::cp(const std::string &src, const std::string &dest) {
  guestfs_h *g = checked_handle("cp");
  check(g, guestfs_cp(g, src.c_str(), dest.c_str()), "cp", {src, dest});
}

void
Session::cp_a(const std::string &src, const std::string &dest) {
  guestfs_h *g = checked_handle("cp_a");
  check(g, guestfs_cp_a(g, src.c_str(), dest.c_str()), "cp_a", {src, dest});
}

std::vector<std::string>
Session::find(const std::string &directory) {
  guestfs_h *g = checked_handle("find");
  auto out = take_list(g, guestfs_find(g, directory.c_str()), "find", {directory});
  std::sort(out.begin(), out.end());
  return out;
}

std::int64_t
Session::du(const std::string &path) {
  guestfs_h *g = checked_handle("du");
  const std::int64_t kib = guestfs_du(g, path.c_str());
  if (kib == -1) {
    fail(g, "du", {path});
  }
  return kib * 1024; // guestfs_du reports KiB
}

void
Session::touch(const std::string &path) {
  guestfs_h *g = checked_handle("touch");
  check(g, guestfs_touch(g, path.c_str()), "touch", {path});
}

void
Session::chown(int owner, int group, const std::string &path) {
  guestfs_h *g = checked_handle("chown");
  check(g,
        guestfs_chown(g, owner, group, path.c_str()),
        "chown",
        {std::to_string(owner), std::to_string(group), path});
}

std::string
Session::realpath(const std::string &path) {
  guestfs_h *g = checked_handle("realpath");
  return take_string(g, guestfs_realpath(g, path.c_str()), "realpath", {path});
}

StatNs
Session::lstatns(const std::string &path) {
  guestfs_h *g = checked_handle("lstatns");
  StatnsPtr st(guestfs_lstatns(g, path.c_str()));
  if (!st) {
    fail(g, "lstatns", {path});
  }
  StatNs out;
  out.dev = st->st_dev;
  out.ino = st->st_ino;
  out.mode = st->st_mode;
  out.nlink = st->st_nlink;
  out.uid = st->st_uid;
  out.gid = st->st_gid;
  out.size = st->st_size;
  out.blocks = st->st_blocks;
  out.mtime_sec = st->st_mtime_sec;
  out.mtime_nsec = st->st_mtime_nsec;
  return out;
}

namespace {

std::vector<Xattr>
take_xattrs(guestfs_h *g, guestfs_xattr_list *raw, std::string_view call, std::string_view path) {
  XattrListPtr list(raw);
  if (!list) {
    fail(g, call, {path});
  }
  std::vector<Xattr> out;
  for (std::uint32_t i = 0; i < list->len; ++i) {
    const guestfs_xattr &x = list->val[i];
    out.push_back({x.attrname, to_bytes(x.attrval, x.attrval_len)});
  }
  return out;
}

} // namespace

std::vector<Xattr>
Session::getxattrs(const std::string &path) {
  guestfs_h *g = checked_handle("getxattrs");
  return take_xattrs(g, guestfs_getxattrs(g, path.c_str()), "getxattrs", path);
}

std::vector<Xattr>
Session::lgetxattrs(const std::string &path) {
  guestfs_h *g = checked_handle("lgetxattrs");
  return take_xattrs(g, guestfs_lgetxattrs(g, path.c_str()), "lgetxattrs", path);
}

// --- Transfers ---

void
Session::unpack_tree(const std::filesystem::path &host_tar, const std::string &dir) {
  TarOptions options;
  options.xattrs = true;
  options.acls = true;
  tar_in(host_tar, dir, options);
}

void
Session::upload(const std::filesystem::path &host_file, const std::string &guest_path) {
  guestfs_h *g = checked_handle("upload");
  check(g,
        guestfs_upload(g, host_file.c_str(), guest_path.c_str()),
        "upload",
        {host_file.native(), guest_path});
}

void
Session::upload_offset(const std::filesystem::path &host_file,
                       const std::string &guest_path,
                       std::int64_t offset) {
  guestfs_h *g = checked_handle("upload_offset");
  check(g,
        guestfs_upload_offset(g, host_file.c_str(), guest_path.c_str(), offset),
        "upload_offset",
        {host_file.native(), guest_path, std::to_string(offset)});
}

void
Session::download(const std::string &guest_path, const std::filesystem::path &host_file) {
  guestfs_h *g = checked_handle("download");
  check(g,
        guestfs_download(g, guest_path.c_str(), host_file.c_str()),
        "download",
        {guest_path, host_file.native()});
}

void
Session::download_offset(const std::string &guest_path,
                         const std::filesystem::path &host_file,
                         std::int64_t offset,
                         std::int64_t size) {
  guestfs_h *g = checked_handle("download_offset");
  check(g,
        guestfs_download_offset(g, guest_path.c_str(), host_file.c_str(), offset, size),
        "download_offset",
        {guest_path, host_file.native(), std::to_string(offset), std::to_string(size)});
}

void
Session::tar_in(const std::filesystem::path &tarfile,
                const std::string &directory,
                const TarOptions &options) {
  guestfs_h *g = checked_handle("tar_in");
  struct guestfs_tar_in_opts_argv optargs {};
  if (options.compress) {
    optargs.bitmask |= GUESTFS_TAR_IN_OPTS_COMPRESS_BITMASK;
    optargs.compress = options.compress->c_str();
  }
  optargs.bitmask |= GUESTFS_TAR_IN_OPTS_XATTRS_BITMASK | GUESTFS_TAR_IN_OPTS_SELINUX_BITMASK |
                     GUESTFS_TAR_IN_OPTS_ACLS_BITMASK;
  optargs.xattrs = options.xattrs ? 1 : 0;
  optargs.selinux = options.selinux ? 1 : 0;
  optargs.acls = options.acls ? 1 : 0;
  check(g,
        guestfs_tar_in_opts_argv(g, tarfile.c_str(), directory.c_str(), &optargs),
        "tar_in",
        {tarfile.native(), directory});
}

void
Session::tar_out(const std::string &directory,
                 const std::filesystem::path &tarfile,
                 const TarOptions &options) {
  guestfs_h *g = checked_handle("tar_out");
  struct guestfs_tar_out_opts_argv optargs {};
  if (options.compress) {
    optargs.bitmask |= GUESTFS_TAR_OUT_OPTS_COMPRESS_BITMASK;
    optargs.compress = options.compress->c_str();
  }
  optargs.bitmask |= GUESTFS_TAR_OUT_OPTS_XATTRS_BITMASK | GUESTFS_TAR_OUT_OPTS_SELINUX_BITMASK |
                     GUESTFS_TAR_OUT_OPTS_ACLS_BITMASK | GUESTFS_TAR_OUT_OPTS_NUMERICOWNER_BITMASK;
  optargs.xattrs = options.xattrs ? 1 : 0;
  optargs.selinux = options.selinux ? 1 : 0;
  optargs.acls = options.acls ? 1 : 0;
  optargs.numericowner = options.numeric_owner ? 1 : 0;
  check(g,
        guestfs_tar_out_opts_argv(g, directory.c_str(), tarfile.c_str(), &optargs),
        "tar_out",
        {directory, tarfile.native()});
}

void
Session::copy_device_to_device(const std::string &src,
                               const std::string &dest,
                               const CopyDeviceOptions &options) {
  guestfs_h *g = checked_handle("copy_device_to_device");
  struct guestfs_copy_device_to_device_argv optargs {};
  if (options.src_offset) {
    optargs.bitmask |= GUESTFS_COPY_DEVICE_TO_DEVICE_SRCOFFSET_BITMASK;
    optargs.srcoffset = *options.src_offset;
  }
  if (options.dest_offset) {
    optargs.bitmask |= GUESTFS_COPY_DEVICE_TO_DEVICE_DESTOFFSET_BITMASK;
    optargs.destoffset = *options.dest_offset;
  }
  if (options.size) {
    optargs.bitmask |= GUESTFS_COPY_DEVICE_TO_DEVICE_SIZE_BITMASK;
    optargs.size = *options.size;
  }
  optargs.bitmask |= GUESTFS_COPY_DEVICE_TO_DEVICE_SPARSE_BITMASK;
  optargs.sparse = options.sparse == Sparse::yes ? 1 : 0;
  check(g,
        guestfs_copy_device_to_device_argv(g, src.c_str(), dest.c_str(), &optargs),
        "copy_device_to_device",
        {src, dest});
}

// --- LUKS ---

void
Session::luks_format(const std::string &device, const SecretBytes &key, int keyslot) {
  guestfs_h *g = checked_handle("luks_format");
  const SecretBytes c_key = key_as_c_string(key, "luks_format");
  // The key appears in no message: libguestfs traces key arguments as "***".
  check(g,
        guestfs_luks_format(g, device.c_str(), c_key.chars(), keyslot),
        "luks_format",
        {device, std::to_string(keyslot)});
}

void
Session::cryptsetup_open(const std::string &device,
                         const SecretBytes &key,
                         const std::string &mapname,
                         ReadOnly read_only) {
  guestfs_h *g = checked_handle("cryptsetup_open");
  const SecretBytes c_key = key_as_c_string(key, "cryptsetup_open");
  struct guestfs_cryptsetup_open_argv optargs {};
  optargs.bitmask = GUESTFS_CRYPTSETUP_OPEN_READONLY_BITMASK;
  optargs.readonly = read_only == ReadOnly::yes ? 1 : 0;
  // libguestfs 1.48 traces key arguments as "***", but the key must not depend
  // on that: trace is off for this one call.
  const bool traced = guestfs_get_trace(g) > 0;
  if (traced) {
    guestfs_set_trace(g, 0);
  }
  const int rc = guestfs_cryptsetup_open_argv(g, device.c_str(), c_key.chars(), mapname.c_str(), &optargs);
  std::string error;
  if (rc == -1) {
    const char *e = guestfs_last_error(g);
    error = e != nullptr ? e : "unknown libguestfs error";
  }
  if (traced) {
    guestfs_set_trace(g, 1);
  }
  if (rc == -1) {
    throw Error(ErrorKind::guest, "cryptsetup_open {} {}: {}", device, mapname, error);
  }
}

void
Session::cryptsetup_close(const std::string &device) {
  guestfs_h *g = checked_handle("cryptsetup_close");
  check(g, guestfs_cryptsetup_close(g, device.c_str()), "cryptsetup_close", {device});
}

int
Session::appliance_pid() {
  guestfs_h *g = checked_handle("get_pid");
  return check(g, guestfs_get_pid(g), "get_pid", {});
}

void
Session::rmmountpoint(const std::string &path) {
  guestfs_h *g = checked_handle("rmmountpoint");
  check(g, guestfs_rmmountpoint(g, path.c_str()), "rmmountpoint", {path});
}

void
Session::ln(const std::string &target, const std::string &linkname) {
  guestfs_h *g = checked_handle("ln");
  check(g, guestfs_ln(g, target.c_str(), linkname.c_str()), "ln", {target, linkname});
}

void
Session::mknod_c(int mode, int major, int minor, const std::string &path) {
  guestfs_h *g = checked_handle("mknod_c");
  check(g, guestfs_mknod_c(g, mode, major, minor, path.c_str()), "mknod_c", {path});
}

void
Session::mknod_b(int mode, int major, int minor, const std::string &path) {
  guestfs_h *g = checked_handle("mknod_b");
  check(g, guestfs_mknod_b(g, mode, major, minor, path.c_str()), "mknod_b", {path});
}

void
Session::mkfifo(int mode, const std::string &path) {
  guestfs_h *g = checked_handle("mkfifo");
  check(g, guestfs_mkfifo(g, mode, path.c_str()), "mkfifo", {path});
}

void
Session::truncate_size(const std::string &path, std::int64_t size) {
  guestfs_h *g = checked_handle("truncate_size");
  check(g, guestfs_truncate_size(g, path.c_str(), size), "truncate_size", {path});
}

void
Session::pwrite(const std::string &path, std::string_view content, std::int64_t offset) {
  guestfs_h *g = checked_handle("pwrite");
  const int n =
      check(g, guestfs_pwrite(g, path.c_str(), content.data(), content.size(), offset), "pwrite", {path});
  if (static_cast<std::size_t>(n) != content.size()) {
    throw Error(ErrorKind::guest, "pwrite {}: short write ({} of {} bytes)", path, n, content.size());
  }
}

void
Session::setxattr(const std::string &name, std::string_view value, const std::string &path) {
  guestfs_h *g = checked_handle("setxattr");
  check(g,
        guestfs_setxattr(g, name.c_str(), value.data(), static_cast<int>(value.size()), path.c_str()),
        "setxattr",
        {name, path});
}

void
Session::acl_set_file(const std::string &path, const std::string &acl_type, const std::string &acl) {
  guestfs_h *g = checked_handle("acl_set_file");
  check(g,
        guestfs_acl_set_file(g, path.c_str(), acl_type.c_str(), acl.c_str()),
        "acl_set_file",
        {path, acl_type});
}

void
Session::cap_set_file(const std::string &path, const std::string &cap) {
  guestfs_h *g = checked_handle("cap_set_file");
  check(g, guestfs_cap_set_file(g, path.c_str(), cap.c_str()), "cap_set_file", {path, cap});
}

std::string
Session::cap_get_file(const std::string &path) {
  guestfs_h *g = checked_handle("cap_get_file");
  return take_string(g, guestfs_cap_get_file(g, path.c_str()), "cap_get_file", {path});
}

void
Session::utimens(const std::string &path,
                 std::int64_t atime_sec,
                 std::int64_t atime_nsec,
                 std::int64_t mtime_sec,
                 std::int64_t mtime_nsec) {
  guestfs_h *g = checked_handle("utimens");
  check(g, guestfs_utimens(g, path.c_str(), atime_sec, atime_nsec, mtime_sec, mtime_nsec), "utimens", {path});
}

} // namespace cvm::guestfs
