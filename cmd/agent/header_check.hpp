// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/kbs/agent_config.hpp"

#include <filesystem>

// The agent's pre-release LUKS2 header check, against a host that swaps the
// disk's header for one whose keyslots it controls: the device's header is read ONCE, checked against the
// header policy baked into the measured initramfs, and the checked bytes are
// written to a private file that `cryptsetup open --header` then uses, so the
// host cannot swap the header between the check and activation.
namespace cvm::agent {

// Reads the header of `luks.device` (at most the policy's header region),
// requires it to comply with the policy in `luks.header_policy` (JSON from
// lib/luks policy_to_json) and writes the checked copy to `luks.header_copy`
// (mode 0600; its parent directory is created with mode 0700 if missing; an
// existing file is an error). Throws cvm::Error(input) naming the violations,
// cvm::Error(io) if the device, policy or copy cannot be read/written, and
// cvm::Error(usage) if `luks.header_policy` is not set.
void check_and_copy_header(const kbs::LuksTarget &luks);

} // namespace cvm::agent
