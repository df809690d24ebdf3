// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/kbs/client.hpp"
#include "lib/kbs/http.hpp"
#include "lib/kbs/protocol.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// The agent's configuration: a small JSON file baked into the (measured)
// initramfs. Unknown members are errors, so a typo cannot silently weaken it.
//
// {
//   "kbs_urls": ["https://kbs.example:8080"],        required, 1..8 entries
//   "ca_cert": "/etc/cvmforge/kbs-ca.pem",          required for https URLs
//   "resource": "cvmforge/<image-id>/luks",         required, repo/type/tag
//   "tee": "tdx",                                   default "tdx"
//   "key_size": 64,                                 expected resource size; 0 = any
//   "timeouts": {"connect_ms": 5000, "io_ms": 15000},
//   "retries": {"attempts": 5, "initial_backoff_ms": 1000, "max_backoff_ms": 16000},
//   "luks": {"device": "/dev/disk/by-uuid/...", "name": "cryptroot",
//            "header_policy": "/etc/cvmforge/luks-header-policy.json",
//            "header_copy": "/run/cvmforge/header.luks2"},
//   "volumes": [{"name": "data", "resource": "cvmforge/<image-id>/luks-data",
//                "device": "/dev/disk/by-uuid/...", "mapper_name": "cvmvol-data",
//                "header_policy": "/etc/cvmforge/volumes/data.policy.json",
//                "header_copy": "/run/cvmforge/volumes/data.luks2",
//                "required": true, "key_size": 64,
//                "mount_unit": "srv-data.mount"}],       0..16 data volumes
//   "test": {"tsm_report_root": "...", "ccel": "..."}   test flavour only
// }
namespace cvm::kbs {

struct LuksTarget {
  std::string device;
  std::string name;
  // If set, the agent checks the device's LUKS2 header against this policy
  // and writes the checked copy to `header_copy` before it fetches the key.
  std::optional<std::filesystem::path> header_policy;
  std::filesystem::path header_copy = "/run/cvmforge/header.luks2";
};

// A data volume the agent opens itself (libcryptsetup, keyslot 0) with a key
// fetched in the same attested KBS session as the root's. `required`: any
// failure (device missing, header rejected, key refused, no keyslot opens)
// fails the agent, so the VM powers off; otherwise the volume is skipped with
// one line on stderr and the boot goes on without it.
struct VolumeTarget {
  std::string name; // for messages
  ResourcePath resource;
  std::string device;      // a stable name: /dev/disk/by-uuid/<LUKS UUID>
  std::string mapper_name; // /dev/mapper/<mapper_name>
  std::filesystem::path header_policy;
  std::filesystem::path header_copy;
  bool required = true;
  std::size_t key_size = 64; // 0 = any
  // Optional volumes: the systemd mount unit the agent masks for this boot
  // (in /run) when it skips the volume, so the root's systemd does not wait
  // for a device that will not come. "" = none.
  std::string mount_unit;
};

struct AgentConfig {
  std::vector<std::string> kbs_urls;
  std::optional<std::filesystem::path> ca_cert;
  ResourcePath resource;
  std::string tee = "tdx";
  std::size_t key_size = 64;
  HttpOptions http; // ca_file mirrors ca_cert
  RetryPolicy retry;
  std::optional<LuksTarget> luks;
  std::vector<VolumeTarget> volumes;
  // Present only if the file has a "test" object; the production agent refuses it.
  std::optional<std::filesystem::path> test_tsm_report_root;
  std::optional<std::filesystem::path> test_ccel;
  std::optional<std::filesystem::path> test_measurements; // tdx_guest sysfs measurements directory
  std::optional<std::filesystem::path> test_cmdline;      // default /proc/cmdline (fault injection)
  bool has_test_section = false;
};

// Parses `json_text`. Throws cvm::Error(usage) naming the offending member.
AgentConfig parse_agent_config(std::string_view json_text);

// The file for `config`, as the build writes it into the image: members in
// the order above, 2-space indented, a final newline. `ca_cert` is written
// only if set, `luks.header_policy` likewise, "volumes" only if there are any, "test" only with
// has_test_section; `http.ca_file` and `http.max_body_size` are not written
// (the first mirrors ca_cert, the second is fixed). parse_agent_config of the
// result gives `config` back.
std::string agent_config_json(const AgentConfig &config);

// Reads (at most 64 KiB) and parses `path`.
AgentConfig load_agent_config(const std::filesystem::path &path);

} // namespace cvm::kbs
