// SPDX-License-Identifier: Apache-2.0
#include "lib/guestfs/backend_settings.hpp"

namespace cvm::guestfs {

std::optional<std::vector<std::string>>
backend_settings_for(host::Accel accel, std::optional<std::string_view> user_settings) {
  if (user_settings) {
    return std::nullopt;
  }
  if (accel == host::Accel::tcg) {
    return std::vector<std::string>{"force_tcg"};
  }
  return std::nullopt;
}

std::optional<std::string>
appliance_cpu_model(host::Accel accel,
                    std::string_view backend,
                    std::optional<std::string_view> user_settings) {
  if (accel != host::Accel::tcg || !(backend == "direct" || backend.starts_with("direct:"))) {
    return std::nullopt;
  }
  if (user_settings && user_settings->find("force_kvm") != std::string_view::npos) {
    return std::nullopt;
  }
  return std::string("max,la57=off,cx16=off");
}

} // namespace cvm::guestfs
