// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/luks/luks_volume.hpp"

#include <filesystem>

// Offline LUKS2 operations with libcryptsetup on regular files. The build host
// has no device-mapper, so nothing here activates a device.
namespace cvm::luks {

// Formats a LUKS2 header into the new file `header_file` (created 0600; must
// not exist) for a data area at `params.data_offset` of the device the header
// will later be copied to: the file holds the whole header region
// [0, data_offset), to be written at the start of the root partition with the
// encrypted data following. Keyslot 0 gets `keys.unlock_key` with
// `params.unlock_pbkdf`; keyslot 1 gets `keys.recovery_passphrase` with
// `params.recovery_pbkdf` if that is set. After writing, the file is re-read
// with the pure parser and the volume key checked against its digest.
// Throws cvm::Error(input) for inconsistent parameters and
// cvm::Error(crypto) naming the libcryptsetup call that failed; on failure the
// header file is removed. No key material is logged or written anywhere but
// into the keyslots (encrypted).
FormatResult format_detached_header(const std::filesystem::path &header_file,
                                    const LuksParams &params,
                                    const FormatKeys &keys);

// Header facts via libcryptsetup (crypt_load + getters + crypt_dump_json).
// libcryptsetup may rewrite a damaged header copy when it loads one, so this
// reads `header_file` once with the pure parser and lets libcryptsetup load a
// private copy; `header_file` is never written. Throws cvm::Error(input) if
// the header does not parse, cvm::Error(crypto) if libcryptsetup rejects it.
HeaderInfo read_header_info(const std::filesystem::path &header_file);

// The keyslot that `passphrase` opens in `header_file` (libcryptsetup checks
// the derived volume key against the digest; nothing is activated). With
// `keyslot` = k_any_keyslot every keyslot is tried -- including an Argon2
// recovery keyslot with its full memory cost, so code running in a small TD
// names the keyslot. Throws cvm::Error(crypto) if the key opens none.
int unlock_keyslot(const std::filesystem::path &header_file,
                   const SecretBytes &passphrase,
                   int keyslot = k_any_keyslot);

// Maps `data_device` as /dev/mapper/`name` with the detached header file
// `header_copy` -- the validated copy written by write_header_copy(), never the
// header on the host-controlled disk -- opening only `keyslot` with
// `passphrase`. The data segment offset in the header applies to
// `data_device`. Needs device-mapper (the guest's initramfs, as root); on the
// build host it fails. Throws cvm::Error(crypto).
void activate(const std::filesystem::path &header_copy,
              const std::filesystem::path &data_device,
              const std::string &name,
              const SecretBytes &passphrase,
              int keyslot = k_unlock_keyslot);

// Removes the mapping /dev/mapper/`name`. Throws cvm::Error(crypto).
void deactivate(const std::string &name);

// The libcryptsetup implementation of LuksVolume.
std::unique_ptr<LuksVolume> make_cryptsetup_volume();

} // namespace cvm::luks
