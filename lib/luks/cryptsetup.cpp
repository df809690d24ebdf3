// SPDX-License-Identifier: Apache-2.0
#include "lib/luks/cryptsetup.hpp"

#include "lib/luks/crypt_device.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/log.hpp"

#include <libcryptsetup.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace cvm::luks {

namespace {

constexpr std::uint64_t k_luks_sector = 512; // libcryptsetup offsets are in 512-byte sectors
constexpr std::uint64_t k_alignment = 4096;

// crypt_pbkdf_type borrows `hash`; keep the PbkdfParams alive while it is used.
crypt_pbkdf_type
to_crypt_pbkdf(const PbkdfParams &params) {
  crypt_pbkdf_type pbkdf{};
  switch (params.type) {
  case PbkdfType::pbkdf2:
    pbkdf.type = CRYPT_KDF_PBKDF2;
    break;
  case PbkdfType::argon2i:
    pbkdf.type = CRYPT_KDF_ARGON2I;
    break;
  case PbkdfType::argon2id:
    pbkdf.type = CRYPT_KDF_ARGON2ID;
    break;
  }
  // libcryptsetup wants a hash for argon2 too (it is used for the AF splitter).
  pbkdf.hash = params.hash.c_str();
  pbkdf.iterations = params.iterations;
  pbkdf.max_memory_kb = params.memory_kib;
  pbkdf.parallel_threads = params.parallel;
  pbkdf.flags = CRYPT_PBKDF_NO_BENCHMARK;
  return pbkdf;
}

void
validate(const LuksParams &params, const FormatKeys &keys) {
  const auto fail = [](const std::string &what) {
    throw Error(ErrorKind::input, "LUKS parameters: {}", what);
  };
  if (params.key_size_bits == 0 || params.key_size_bits % 8 != 0) {
    fail(fmt::format("key size {} bits is not a whole number of bytes", params.key_size_bits));
  }
  if (keys.volume_key.size() != params.key_size_bits / 8) {
    fail(fmt::format(
        "volume key has {} bytes, key size needs {}", keys.volume_key.size(), params.key_size_bits / 8));
  }
  if (keys.unlock_key.size() != k_unlock_key_size) {
    fail(fmt::format("unlock key has {} bytes, expected {}", keys.unlock_key.size(), k_unlock_key_size));
  }
  if (params.recovery_pbkdf.has_value() != (keys.recovery_passphrase != nullptr)) {
    fail("a recovery passphrase needs a recovery PBKDF and vice versa");
  }
  if (keys.recovery_passphrase != nullptr && keys.recovery_passphrase->empty()) {
    fail("empty recovery passphrase");
  }
  const std::uint32_t s = params.sector_size;
  if (s < 512 || s > 4096 || (s & (s - 1)) != 0) {
    fail(fmt::format("sector size {} is not a power of two in 512..4096", s));
  }
  if (params.data_offset == 0 || params.data_offset % k_alignment != 0 || params.data_offset % s != 0) {
    fail(fmt::format("data offset {} is not a non-zero multiple of 4096 and the sector size",
                     params.data_offset));
  }
  const std::uint64_t md = params.metadata_size;
  bool md_ok = false;
  for (std::uint64_t v = k_min_metadata_size; v <= k_max_metadata_size; v *= 2) {
    md_ok = md_ok || v == md;
  }
  if (!md_ok) {
    fail(fmt::format("metadata size {} is not a power of two in 16 KiB..4 MiB", md));
  }
  if (params.keyslots_size % k_alignment != 0 || params.keyslots_size > k_max_keyslots_size ||
      2 * md + params.keyslots_size > params.data_offset) {
    fail(fmt::format("keyslots area {} does not fit between the metadata ({} x 2) and the data offset {}",
                     params.keyslots_size,
                     md,
                     params.data_offset));
  }
  if (params.uuid.empty()) {
    fail("no UUID (the caller derives it from the manifest seed)");
  }
  if (params.label.size() >= 48 || params.subsystem.size() >= 48) {
    fail("label and subsystem must be shorter than 48 bytes");
  }
}

void
create_sparse_file(const std::filesystem::path &path, std::uint64_t size) {
  fs::Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)); // NOLINT
  if (!fd) {
    throw Error(ErrorKind::io, "create {}: {}", path.string(), fs::errno_text(errno));
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    throw Error(ErrorKind::io, "truncate {}: {}", path.string(), fs::errno_text(errno));
  }
  if (!fd.close()) {
    throw Error(ErrorKind::io, "close {}: {}", path.string(), fs::errno_text(errno));
  }
}

std::string
nonnull(const char *s) {
  return s == nullptr ? std::string{} : std::string{s};
}

PbkdfType
pbkdf_type_of(const std::string &name) {
  if (name == CRYPT_KDF_ARGON2ID) {
    return PbkdfType::argon2id;
  }
  if (name == CRYPT_KDF_ARGON2I) {
    return PbkdfType::argon2i;
  }
  if (name == CRYPT_KDF_PBKDF2) {
    return PbkdfType::pbkdf2;
  }
  throw Error(ErrorKind::input, "unknown PBKDF type \"{}\"", name);
}

class CryptsetupVolume final : public LuksVolume {
public:
  FormatResult
  format_detached_header(const std::filesystem::path &header_file,
                         const LuksParams &params,
                         const FormatKeys &keys) override {
    return luks::format_detached_header(header_file, params, keys);
  }

  HeaderInfo
  read_header_info(const std::filesystem::path &header_file) override {
    return luks::read_header_info(header_file);
  }

  int
  unlock_keyslot(const std::filesystem::path &header_file,
                 const SecretBytes &passphrase,
                 int keyslot) override {
    return luks::unlock_keyslot(header_file, passphrase, keyslot);
  }
};

} // namespace

std::unique_ptr<LuksVolume>
make_cryptsetup_volume() {
  return std::make_unique<CryptsetupVolume>();
}

// ---- format -----------------------------------------------------------------

FormatResult
format_detached_header(const std::filesystem::path &header_file,
                       const LuksParams &params,
                       const FormatKeys &keys) {
  validate(params, keys);
  if (params.integrity) {
    // libcryptsetup formats dm-integrity by creating a temporary dm device
    // (crypt_format fails with EOPNOTSUPP "Cannot format integrity" without
    // device-mapper), and the data area must then be wiped through dm too.
    throw Error(ErrorKind::crypto,
                "LUKS2 integrity \"{}\" cannot be formatted offline: libcryptsetup needs device-mapper "
                "to write the dm-integrity superblock and wipe the tags",
                *params.integrity);
  }

  // libcryptsetup refuses a header device smaller than one 4 KiB block and
  // grows the file to the header region itself.
  {
    fs::Fd fd(
        ::open(header_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)); // NOLINT
    if (!fd) {
      throw Error(
          ErrorKind::io, "create LUKS header file {}: {}", header_file.string(), fs::errno_text(errno));
    }
    if (::ftruncate(fd.get(), static_cast<off_t>(k_alignment)) != 0 || !fd.close()) {
      throw Error(ErrorKind::io, "size LUKS header file {}: {}", header_file.string(), fs::errno_text(errno));
    }
  }
  fs::RemoveOnFailure cleanup(header_file);

  std::optional<fs::TempDir> scratch;
  std::filesystem::path data_device;
  if (params.data_device) {
    data_device = *params.data_device;
  } else {
    // A sparse stand-in for the partition; libcryptsetup only needs a data
    // device to exist. No key material ever reaches it.
    scratch.emplace("cvmforge-luks");
    data_device = scratch->path() / "data-placeholder";
    create_sparse_file(data_device, params.data_offset + std::max<std::uint64_t>(params.data_size, k_mib));
  }

  {
    CryptDevice cd(header_file, data_device);
    cd.check(crypt_set_data_offset(cd.get(), params.data_offset / k_luks_sector), "crypt_set_data_offset");
    // keyslots_size 0 lets libcryptsetup fill the space up to the data offset.
    cd.check(crypt_set_metadata_size(cd.get(), params.metadata_size, params.keyslots_size),
             "crypt_set_metadata_size");

    const crypt_pbkdf_type unlock_pbkdf = to_crypt_pbkdf(params.unlock_pbkdf);
    cd.check(crypt_set_pbkdf_type(cd.get(), &unlock_pbkdf), "crypt_set_pbkdf_type (unlock keyslot)");
    crypt_params_luks2 luks2{};
    luks2.pbkdf = &unlock_pbkdf;
    luks2.integrity = nullptr;
    luks2.integrity_params = nullptr;
    luks2.data_alignment = 0;    // crypt_set_data_offset decides
    luks2.data_device = nullptr; // given to crypt_init_data_device
    luks2.sector_size = params.sector_size;
    luks2.label = params.label.empty() ? nullptr : params.label.c_str();
    luks2.subsystem = params.subsystem.empty() ? nullptr : params.subsystem.c_str();
    cd.check(crypt_format(cd.get(),
                          CRYPT_LUKS2,
                          params.cipher.c_str(),
                          params.cipher_mode.c_str(),
                          params.uuid.c_str(),
                          keys.volume_key.chars(),
                          keys.volume_key.size(),
                          &luks2),
             "crypt_format");

    const int slot = cd.check(crypt_keyslot_add_by_volume_key(cd.get(),
                                                              k_unlock_keyslot,
                                                              keys.volume_key.chars(),
                                                              keys.volume_key.size(),
                                                              keys.unlock_key.chars(),
                                                              keys.unlock_key.size()),
                              "crypt_keyslot_add_by_volume_key (unlock keyslot)");
    log::debug("LUKS2 unlock keyslot {} ({})", slot, pbkdf_type_name(params.unlock_pbkdf.type));

    if (params.recovery_pbkdf) {
      const crypt_pbkdf_type recovery_pbkdf = to_crypt_pbkdf(*params.recovery_pbkdf);
      cd.check(crypt_set_pbkdf_type(cd.get(), &recovery_pbkdf), "crypt_set_pbkdf_type (recovery keyslot)");
      const int rslot = cd.check(crypt_keyslot_add_by_volume_key(cd.get(),
                                                                 k_recovery_keyslot,
                                                                 keys.volume_key.chars(),
                                                                 keys.volume_key.size(),
                                                                 keys.recovery_passphrase->chars(),
                                                                 keys.recovery_passphrase->size()),
                                 "crypt_keyslot_add_by_volume_key (recovery keyslot)");
      log::debug("LUKS2 recovery keyslot {} ({})", rslot, pbkdf_type_name(params.recovery_pbkdf->type));
    }
  }

  // Self-check with the independent parser: the file holds a complete header
  // region and its digest identifies the caller's volume key.
  const Header header = read_header(header_file);
  if (!verify_volume_key(header, keys.volume_key)) {
    throw Error(ErrorKind::internal,
                "LUKS2 header {}: volume key does not match its own digest",
                header_file.string());
  }
  const Segment &segment = header.metadata().segments.at(0);
  FormatResult result;
  result.header_file_size = std::filesystem::file_size(header_file);
  result.metadata_size = header.metadata_size();
  result.keyslots_size = header.metadata().config.keyslots_size;
  result.data_offset = segment.offset;
  result.uuid = header.primary().uuid;
  if (result.data_offset != params.data_offset || result.header_file_size != header.bytes().size()) {
    throw Error(ErrorKind::internal,
                "LUKS2 header {}: data offset {} / file size {} do not match the request ({}, region {})",
                header_file.string(),
                result.data_offset,
                result.header_file_size,
                params.data_offset,
                header.bytes().size());
  }
  cleanup.release();
  return result;
}

// ---- read -------------------------------------------------------------------

HeaderInfo
read_header_info(const std::filesystem::path &header_file) {
  // libcryptsetup may "repair" a damaged copy on load; give it a private copy
  // of exactly the bytes parsed here.
  const Header header = read_header(header_file);
  const fs::TempDir scratch("cvmforge-luks-info");
  const auto copy = scratch.path() / "header";
  write_header_copy(header, copy);

  CryptDevice cd(copy);
  cd.check(crypt_load(cd.get(), CRYPT_LUKS2, nullptr), "crypt_load");

  HeaderInfo info;
  info.cipher = nonnull(crypt_get_cipher(cd.get()));
  info.cipher_mode = nonnull(crypt_get_cipher_mode(cd.get()));
  info.key_size_bits =
      static_cast<std::uint32_t>(cd.check(crypt_get_volume_key_size(cd.get()), "crypt_get_volume_key_size")) *
      8;
  info.sector_size =
      static_cast<std::uint32_t>(cd.check(crypt_get_sector_size(cd.get()), "crypt_get_sector_size"));
  info.uuid = nonnull(crypt_get_uuid(cd.get()));
  info.label = nonnull(crypt_get_label(cd.get()));
  info.subsystem = nonnull(crypt_get_subsystem(cd.get()));
  info.data_offset = crypt_get_data_offset(cd.get()) * k_luks_sector;
  cd.check(crypt_get_metadata_size(cd.get(), &info.metadata_size, &info.keyslots_size),
           "crypt_get_metadata_size");
  cd.check(crypt_persistent_flags_get(cd.get(), CRYPT_FLAGS_REQUIREMENTS, &info.requirement_flags),
           "crypt_persistent_flags_get");

  const int max_slots = crypt_keyslot_max(CRYPT_LUKS2);
  for (int slot = 0; slot < max_slots; ++slot) {
    const crypt_keyslot_info status = crypt_keyslot_status(cd.get(), slot);
    if (status != CRYPT_SLOT_ACTIVE && status != CRYPT_SLOT_ACTIVE_LAST) {
      continue;
    }
    KeyslotInfo ks;
    ks.slot = slot;
    ks.status = status == CRYPT_SLOT_ACTIVE_LAST ? "active_last" : "active";
    ks.key_size_bits = static_cast<std::uint32_t>(cd.check(crypt_keyslot_get_key_size(cd.get(), slot),
                                                           "crypt_keyslot_get_key_size")) *
                       8;
    crypt_pbkdf_type pbkdf{};
    cd.check(crypt_keyslot_get_pbkdf(cd.get(), slot, &pbkdf), "crypt_keyslot_get_pbkdf");
    ks.pbkdf.type = pbkdf_type_of(nonnull(pbkdf.type));
    ks.pbkdf.hash = nonnull(pbkdf.hash);
    ks.pbkdf.iterations = pbkdf.iterations;
    ks.pbkdf.memory_kib = pbkdf.max_memory_kb;
    ks.pbkdf.parallel = pbkdf.parallel_threads;
    info.keyslots.push_back(std::move(ks));
  }

  // crypt_dump_json is in libcryptsetup since 2.4 (Debian 12 has 2.6.1).
  const char *json = nullptr;
  cd.check(crypt_dump_json(cd.get(), &json, 0), "crypt_dump_json");
  info.metadata = parse_metadata_json(nonnull(json));
  return info;
}

int
unlock_keyslot(const std::filesystem::path &header_file, const SecretBytes &passphrase, int keyslot) {
  CryptDevice cd(header_file);
  cd.check(crypt_load(cd.get(), CRYPT_LUKS2, nullptr), "crypt_load");
  // A NULL name only checks the passphrase; nothing is activated.
  const int rc = crypt_activate_by_passphrase(cd.get(),
                                              nullptr,
                                              keyslot == k_any_keyslot ? CRYPT_ANY_SLOT : keyslot,
                                              passphrase.chars(),
                                              passphrase.size(),
                                              0);
  if (rc == -EPERM) {
    // libcryptsetup's code for "no keyslot opens with this passphrase".
    throw Error(
        ErrorKind::crypto, "LUKS2 header {}: no keyslot opens with the given key", header_file.string());
  }
  if (rc == -ENOENT && keyslot != k_any_keyslot) {
    throw Error(
        ErrorKind::crypto, "LUKS2 header {}: keyslot {} is not active", header_file.string(), keyslot);
  }
  return cd.check(rc, "crypt_activate_by_passphrase (check only)");
}

void
activate(const std::filesystem::path &header_copy,
         const std::filesystem::path &data_device,
         const std::string &name,
         const SecretBytes &passphrase,
         int keyslot) {
  if (name.empty() || name.find('/') != std::string::npos) {
    throw Error(ErrorKind::input, "LUKS activate: invalid mapping name \"{}\"", name);
  }
  CryptDevice cd(header_copy, data_device);
  cd.check(crypt_load(cd.get(), CRYPT_LUKS2, nullptr), "crypt_load");
  const int rc = crypt_activate_by_passphrase(cd.get(),
                                              name.c_str(),
                                              keyslot == k_any_keyslot ? CRYPT_ANY_SLOT : keyslot,
                                              passphrase.chars(),
                                              passphrase.size(),
                                              0);
  if (rc == -EPERM) {
    throw Error(ErrorKind::crypto, "LUKS activate {}: the key does not open keyslot {}", name, keyslot);
  }
  cd.check(rc, fmt::format("crypt_activate_by_passphrase ({} on {})", name, data_device.string()));
}

void
deactivate(const std::string &name) {
  crypt_device *raw = nullptr;
  const int rc = crypt_init_by_name(&raw, name.c_str());
  const CryptDeviceHandlePtr cd(raw);
  if (rc < 0) {
    throw Error(ErrorKind::crypto, "crypt_init_by_name {}: {}", name, fs::errno_text(-rc));
  }
  const int drc = crypt_deactivate(cd.get(), name.c_str());
  if (drc < 0) {
    throw Error(ErrorKind::crypto, "crypt_deactivate {}: {}", name, fs::errno_text(-drc));
  }
}

} // namespace cvm::luks
