// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/host/accel.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

// How a libguestfs appliance is configured for the host's accelerator
// (lib/host/accel.hpp decides which one): pure, so unit-tested without a
// handle.
namespace cvm::guestfs {

// Pure: the libguestfs backend settings to set on a new handle, or nullopt to
// leave the handle's settings alone. If the user set
// LIBGUESTFS_BACKEND_SETTINGS (`user_settings` non-null) it is honoured as is;
// otherwise TCG means {"force_tcg"} and KVM leaves the default (which already
// prefers KVM).
std::optional<std::vector<std::string>> backend_settings_for(host::Accel accel,
                                                             std::optional<std::string_view> user_settings);

// Pure: the -cpu model to append to the appliance's QEMU command line
// (guestfs_config; QEMU keeps the last -cpu), or nullopt for libguestfs's
// own. Under TCG on the direct backend, unless the user forces KVM: the
// "max" model libguestfs picks, with la57 off as libguestfs has it, and
// without CMPXCHG16B. QEMU 7.2's TCG (Debian 12) gets the flags of
// CMPXCHG16B wrong, and the guest kernel's SLUB depends on them: guests hang
// or corrupt memory at random (tests/fixtures/boot-test boots with cx16=off
// for the same reason). Without the instruction the kernel takes its
// locked fallback.
std::optional<std::string> appliance_cpu_model(host::Accel accel,
                                               std::string_view backend,
                                               std::optional<std::string_view> user_settings);

} // namespace cvm::guestfs
