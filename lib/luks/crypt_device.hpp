// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/util/c_handle.hpp"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

// libcryptsetup's opaque handle; <libcryptsetup.h> stays inside lib/luks/*.cpp.
struct crypt_device;

namespace cvm::luks {

namespace detail {
// crypt_free(), callable without <libcryptsetup.h>.
void free_crypt_device(crypt_device *cd) noexcept;
} // namespace detail

CVM_DEFINE_C_PTR(CryptDeviceHandle, crypt_device, detail::free_crypt_device);

// An owned crypt_device* whose libcryptsetup log lines go to cvm::log at debug
// level (libcryptsetup does not log key material). Move-only.
class CryptDevice {
public:
  // crypt_init_data_device(`metadata`, `data_device`): `metadata` is the LUKS2
  // header file (or device). Metadata locking and the kernel keyring are
  // disabled: this runs rootless on regular files. Throws cvm::Error(crypto).
  explicit CryptDevice(const std::filesystem::path &metadata,
                       const std::optional<std::filesystem::path> &data_device = std::nullopt);
  CryptDevice(const CryptDevice &) = delete;
  CryptDevice &operator=(const CryptDevice &) = delete;
  CryptDevice(CryptDevice &&) noexcept = default;
  CryptDevice &operator=(CryptDevice &&) noexcept = default;
  ~CryptDevice() = default;

  [[nodiscard]] crypt_device *
  get() const noexcept {
    return m_cd.get();
  }

  // Returns `rc` if it is >= 0, else throws cvm::Error(crypto) with
  // "`what` <device>: <errno text>" plus libcryptsetup's last error line.
  int check(int rc, std::string_view what) const;

private:
  struct LogState {
    std::string device;
    std::string last_error;
  };

  // Declared before m_cd: the handle (which holds a pointer to this state for
  // the log callback) is freed first.
  std::unique_ptr<LogState> m_log;
  CryptDeviceHandlePtr m_cd;
};

} // namespace cvm::luks
