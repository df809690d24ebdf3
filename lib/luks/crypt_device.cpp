// SPDX-License-Identifier: Apache-2.0
#include "lib/luks/crypt_device.hpp"

#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/log.hpp"

#include <libcryptsetup.h>

#include <mutex>

namespace cvm::luks {

namespace detail {
void
free_crypt_device(crypt_device *cd) noexcept {
  crypt_free(cd);
}
} // namespace detail

namespace {

std::string_view
trimmed(const char *message) {
  std::string_view text = message == nullptr ? std::string_view{} : std::string_view{message};
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

// Handle-less messages (before crypt_init returns) and library-wide state.
void
global_log_callback(int /*level*/, const char *message, void * /*usrptr*/) {
  log::debug("libcryptsetup: {}", trimmed(message));
}

void
init_library_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    crypt_set_log_callback(nullptr, &global_log_callback, nullptr);
    // Locking uses /run/cryptsetup, which a rootless build cannot write; the
    // header files here are private to this process. (Library-wide switch.)
    crypt_metadata_locking(nullptr, 0);
  });
}

} // namespace

CryptDevice::CryptDevice(const std::filesystem::path &metadata,
                         const std::optional<std::filesystem::path> &data_device)
  : m_log(std::make_unique<LogState>()) {
  init_library_once();
  m_log->device = metadata.string();
  crypt_device *raw = nullptr;
  const int rc = crypt_init_data_device(&raw, metadata.c_str(), data_device ? data_device->c_str() : nullptr);
  m_cd.reset(raw);
  check(rc, "crypt_init_data_device");
  crypt_set_log_callback(
      m_cd.get(),
      [](int level, const char *message, void *usrptr) {
        auto *state = static_cast<LogState *>(usrptr);
        const auto text = trimmed(message);
        if (level == CRYPT_LOG_ERROR) {
          state->last_error = std::string(text);
        }
        log::debug("libcryptsetup {}: {}", state->device, text);
      },
      m_log.get());
  // Never put a volume key into the kernel keyring; nothing is activated here.
  check(crypt_volume_key_keyring(m_cd.get(), 0), "crypt_volume_key_keyring");
}

int
CryptDevice::check(int rc, std::string_view what) const {
  if (rc >= 0) {
    return rc;
  }
  std::string message = fmt::format("{} {}: {}", what, m_log->device, fs::errno_text(-rc));
  if (!m_log->last_error.empty()) {
    message += fmt::format(" (libcryptsetup: {})", m_log->last_error);
  }
  throw Error(ErrorKind::crypto, message);
}

} // namespace cvm::luks
