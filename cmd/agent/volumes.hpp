// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/kbs/agent_config.hpp"
#include "lib/util/secret.hpp"

#include <chrono>
#include <filesystem>
#include <optional>
#include <vector>

// Data volumes: the agent opens them itself, so their keys never leave its
// memory. Before any key is asked for, each volume's header is read once,
// checked against its measured policy and copied to a private file (as for
// the root); after the one attested session released the keys, each volume
// is activated from its checked copy with keyslot 0.
//
// Policy for failures: a required volume's failure is an error (the agent
// exits non-zero and the VM powers off before the root is opened); an
// optional volume is skipped with one warning line and the boot goes on: its
// mount unit (VolumeTarget::mount_unit) is masked for this boot in
// `unit_dir` (/run/systemd/system, which the root's systemd reads after the
// switch), so nothing waits for its device.
namespace cvm::agent {

inline constexpr const char *k_runtime_unit_dir = "/run/systemd/system";

// Waits (at most `device_wait` in all, for every volume together) for each
// volume's device, refuses a /dev/mapper name that already exists, and checks
// and copies its header. Returns, in config order, the volumes to fetch keys
// for. Throws cvm::Error for a required volume that fails.
std::vector<const kbs::VolumeTarget *>
prepare_volumes(const std::vector<kbs::VolumeTarget> &volumes,
                std::chrono::milliseconds device_wait,
                const std::filesystem::path &unit_dir = k_runtime_unit_dir);

// Activates each of `volumes` with the key of the same index (nullopt: the KBS
// refused an optional volume's key). Throws cvm::Error for a required volume
// that cannot be opened; returns how many volumes were opened.
std::size_t open_volumes(const std::vector<const kbs::VolumeTarget *> &volumes,
                         const std::vector<std::optional<SecretBytes>> &keys,
                         const std::filesystem::path &unit_dir = k_runtime_unit_dir);

} // namespace cvm::agent
