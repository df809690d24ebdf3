// SPDX-License-Identifier: Apache-2.0
#pragma once

// FakeLuksVolume: a LuksVolume for pipeline stage unit tests, without
// libcryptsetup. format_detached_header() writes a synthetic LUKS2 header
// with the real layout (header region = data offset, 16 KiB metadata copies,
// valid checksums, a pbkdf2 digest of the given volume key), so the pure
// parser, derive_policy() and check() work on it as on a real one. Calls are
// recorded; a failure can be injected. Link cvm_luks_header, not cvm_luks.

#include "lib/luks/header.hpp"
#include "lib/luks/luks_volume.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "tests/unit/luks/luks_test_util.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cvm::luks::test {

class FakeLuksVolume final : public LuksVolume {
public:
  struct FormatCall {
    std::filesystem::path header_file;
    LuksParams params;
    bool with_recovery = false;
  };

  std::vector<FormatCall> format_calls;
  std::vector<std::filesystem::path> info_calls;
  std::vector<std::pair<std::filesystem::path, int>> unlock_calls;
  // Set to make the next format_detached_header() throw it.
  std::optional<Error> fail_next_format;

  FormatResult
  format_detached_header(const std::filesystem::path &header_file,
                         const LuksParams &params,
                         const FormatKeys &keys) override {
    format_calls.push_back({header_file, params, keys.recovery_passphrase != nullptr});
    if (fail_next_format) {
      const Error e = *fail_next_format;
      fail_next_format.reset();
      throw e;
    }
    if (std::filesystem::exists(header_file)) {
      throw Error(ErrorKind::io, "fake: {} exists", header_file.string());
    }
    SyntheticFields f;
    f.data_offset = params.data_offset;
    f.hdr_size = params.metadata_size;
    f.keyslots_size = params.keyslots_size != 0 ? params.keyslots_size : params.data_offset - 2 * f.hdr_size;
    f.uuid = params.uuid;
    f.label = params.label;
    f.subsystem = params.subsystem;
    f.encryption = params.cipher + "-" + params.cipher_mode;
    f.key_bytes = params.key_size_bits / 8;
    f.sector_size = params.sector_size;
    f.unlock_iterations = params.unlock_pbkdf.iterations;
    if (params.recovery_pbkdf) {
      f.recovery_time = params.recovery_pbkdf->iterations;
      f.recovery_memory_kib = params.recovery_pbkdf->memory_kib;
      f.recovery_cpus = params.recovery_pbkdf->parallel;
    }
    const auto recovery = keys.recovery_passphrase != nullptr ? Recovery::yes : Recovery::no;
    fs::write_file_atomic(header_file,
                          build_header(make_metadata(keys.volume_key, recovery, f), f),
                          0600,
                          fs::AtomicFile::NoReplace::yes);
    Keys &stored = m_keys[header_file.string()];
    stored.unlock = SecretBytes::copy_of(keys.unlock_key.span());
    if (keys.recovery_passphrase != nullptr) {
      stored.recovery = SecretBytes::copy_of(keys.recovery_passphrase->span());
    }
    return FormatResult{
        2 * f.hdr_size + f.keyslots_size, f.hdr_size, f.keyslots_size, params.data_offset, params.uuid};
  }

  HeaderInfo
  read_header_info(const std::filesystem::path &header_file) override {
    info_calls.push_back(header_file);
    const Header h = read_header(header_file);
    const Metadata &md = h.metadata();
    HeaderInfo info;
    const auto &seg = md.segments.at(0);
    const auto dash = seg.encryption.find('-');
    info.cipher = seg.encryption.substr(0, dash);
    info.cipher_mode = dash == std::string::npos ? "" : seg.encryption.substr(dash + 1);
    info.key_size_bits = md.keyslots.at(0).key_size * 8;
    info.sector_size = seg.sector_size;
    info.uuid = h.primary().uuid;
    info.label = h.primary().label;
    info.subsystem = h.primary().subsystem;
    info.data_offset = seg.offset;
    info.metadata_size = h.metadata_size();
    info.keyslots_size = md.config.keyslots_size;
    for (const auto &ks : md.keyslots) {
      KeyslotInfo k;
      k.slot = std::stoi(ks.id);
      k.status = md.keyslots.size() == 1 ? "active_last" : "active";
      k.key_size_bits = ks.key_size * 8;
      k.pbkdf.type = ks.kdf->type == "pbkdf2" ? PbkdfType::pbkdf2 : PbkdfType::argon2id;
      k.pbkdf.hash = ks.kdf->hash;
      k.pbkdf.iterations = ks.kdf->type == "pbkdf2" ? ks.kdf->iterations : ks.kdf->time;
      k.pbkdf.memory_kib = ks.kdf->memory_kib;
      k.pbkdf.parallel = ks.kdf->cpus;
      info.keyslots.push_back(std::move(k));
    }
    info.metadata = md;
    return info;
  }

  int
  unlock_keyslot(const std::filesystem::path &header_file,
                 const SecretBytes &passphrase,
                 int keyslot) override {
    unlock_calls.emplace_back(header_file, keyslot);
    const auto it = m_keys.find(header_file.string());
    if (it != m_keys.end()) {
      if ((keyslot == k_any_keyslot || keyslot == k_unlock_keyslot) &&
          it->second.unlock.equals(passphrase.span())) {
        return k_unlock_keyslot;
      }
      if ((keyslot == k_any_keyslot || keyslot == k_recovery_keyslot) && !it->second.recovery.empty() &&
          it->second.recovery.equals(passphrase.span())) {
        return k_recovery_keyslot;
      }
    }
    throw Error(ErrorKind::crypto, "fake: no keyslot opens {}", header_file.string());
  }

private:
  struct Keys {
    SecretBytes unlock;
    SecretBytes recovery;
  };
  std::map<std::string, Keys> m_keys;
};

} // namespace cvm::luks::test
