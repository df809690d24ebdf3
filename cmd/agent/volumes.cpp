// SPDX-License-Identifier: Apache-2.0
#include "cmd/agent/volumes.hpp"

#include "cmd/agent/header_check.hpp"
#include "lib/luks/cryptsetup.hpp"
#include "lib/util/error.hpp"
#include "lib/util/log.hpp"

#include <filesystem>
#include <system_error>
#include <thread>

namespace cvm::agent {

namespace {

// Masks the skipped volume's mount unit for this boot: a symlink to
// /dev/null in the runtime unit directory. Failing to is a warning only (the
// mount is nofail; the root's systemd then waits for the device in vain).
void
mask_mount_unit(const kbs::VolumeTarget &volume, const std::filesystem::path &unit_dir) {
  if (volume.mount_unit.empty()) {
    return;
  }
  std::error_code ec;
  std::filesystem::create_directories(unit_dir, ec);
  const auto link = unit_dir / volume.mount_unit;
  if (!ec) {
    std::filesystem::create_symlink("/dev/null", link, ec);
  }
  if (ec && ec != std::errc::file_exists) {
    log::warning("optional volume {}: cannot mask {}: {}", volume.name, link.string(), ec.message());
  }
}

// Runs `step` for `volume`: a required volume's failure propagates (named),
// an optional one's is logged, its mount masked, and reported as false.
template<typename F>
bool
for_volume(const kbs::VolumeTarget &volume,
           std::string_view doing,
           const std::filesystem::path &unit_dir,
           F &&step) {
  try {
    step();
    return true;
  } catch (const Error &e) {
    if (volume.required) {
      throw Error(e.kind(), "volume {}: {}", volume.name, e.what());
    }
    log::warning("optional volume {} skipped ({}): {}", volume.name, doing, e.what());
    mask_mount_unit(volume, unit_dir);
    return false;
  }
}

bool
block_device_exists(const std::string &path) {
  std::error_code ec;
  return std::filesystem::is_block_file(path, ec);
}

} // namespace

std::vector<const kbs::VolumeTarget *>
prepare_volumes(const std::vector<kbs::VolumeTarget> &volumes,
                std::chrono::milliseconds device_wait,
                const std::filesystem::path &unit_dir) {
  const auto deadline = std::chrono::steady_clock::now() + device_wait;
  std::vector<const kbs::VolumeTarget *> ready;
  for (const kbs::VolumeTarget &volume : volumes) {
    const bool ok = for_volume(volume, "before attestation", unit_dir, [&] {
      while (!block_device_exists(volume.device)) {
        if (std::chrono::steady_clock::now() >= deadline) {
          throw Error(
              ErrorKind::input, "device {} is not there (is the volume's disk attached?)", volume.device);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      if (block_device_exists("/dev/mapper/" + volume.mapper_name)) {
        throw Error(ErrorKind::input, "/dev/mapper/{} exists before attestation", volume.mapper_name);
      }
      check_and_copy_header(
          kbs::LuksTarget{volume.device, volume.mapper_name, volume.header_policy, volume.header_copy});
    });
    if (ok) {
      ready.push_back(&volume);
    }
  }
  return ready;
}

std::size_t
open_volumes(const std::vector<const kbs::VolumeTarget *> &volumes,
             const std::vector<std::optional<SecretBytes>> &keys,
             const std::filesystem::path &unit_dir) {
  if (keys.size() != volumes.size()) {
    throw Error(ErrorKind::internal, "{} volume keys for {} volumes", keys.size(), volumes.size());
  }
  std::size_t opened = 0;
  for (std::size_t i = 0; i < volumes.size(); ++i) {
    const kbs::VolumeTarget &volume = *volumes[i];
    const bool ok = for_volume(volume, "at unlock", unit_dir, [&] {
      if (!keys[i]) {
        throw Error(ErrorKind::io, "the KBS did not release {}", volume.resource.str());
      }
      const SecretBytes &key = *keys[i];
      if (volume.key_size != 0 && key.size() != volume.key_size) {
        throw Error(ErrorKind::input,
                    "KBS resource {} has {} bytes, expected {}",
                    volume.resource.str(),
                    key.size(),
                    volume.key_size);
      }
      luks::activate(volume.header_copy, volume.device, volume.mapper_name, key, luks::k_unlock_keyslot);
    });
    if (ok) {
      log::info("volume {} opened as /dev/mapper/{}", volume.name, volume.mapper_name);
      ++opened;
    }
  }
  return opened;
}

} // namespace cvm::agent
