// SPDX-License-Identifier: Apache-2.0
// Stage prepare-key: the disk key (the KBS resource), the volume key, the
// recovery passphrase and the build-only passphrase. All stay in memory
// (SecretBytes: locked, wiped); the key file is written at commit time.
#include "lib/crypto/crypto.hpp"
#include "lib/pipeline/ids.hpp"
#include "lib/pipeline/stages.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"

#include <fmt/format.h>

#include <cstring>

namespace cvm::pipeline::stages {

namespace {

SecretBytes
read_secret_file(const std::filesystem::path &path) {
  auto bytes = fs::read_file(path, std::size_t{64} * 1024U);
  SecretBytes s = SecretBytes::copy_of(bytes);
  ::explicit_bzero(bytes.data(), bytes.size());
  return s;
}

void
prepare_key(BuildContext &ctx) {
  const auto &m = ctx.manifest;
  if (m.key.source == manifest::KeySource::file) {
    ctx.unlock_key = read_secret_file(*m.key.file);
    if (ctx.unlock_key.size() != m.key.bytes) {
      const auto loc = m.where("key.file");
      throw Error(ErrorKind::input,
                  "{}:{}:{}: {} holds {} bytes, but key.bytes is {}",
                  loc.file,
                  loc.line,
                  loc.column,
                  m.key.file->string(),
                  ctx.unlock_key.size(),
                  m.key.bytes);
    }
  } else {
    ctx.unlock_key = crypto::random_secret(m.key.bytes);
  }
  ctx.volume_key = crypto::random_secret(m.luks.key_size_bits / 8);

  if (m.luks.recovery.enabled) {
    if (m.luks.recovery.passphrase_file) {
      SecretBytes raw = read_secret_file(*m.luks.recovery.passphrase_file);
      // The first line is the passphrase; it is typed at a console, so it
      // must be printable and reasonably long.
      std::size_t len = 0;
      while (len < raw.size() && raw.chars()[len] != '\n' && raw.chars()[len] != '\r') {
        ++len;
      }
      for (std::size_t i = 0; i < len; ++i) {
        const auto c = static_cast<unsigned char>(raw.chars()[i]);
        if (c < 0x20 || c == 0x7f) {
          throw Error(ErrorKind::input,
                      "{}: the recovery passphrase contains a control character",
                      m.luks.recovery.passphrase_file->string());
        }
      }
      if (len < 12) {
        throw Error(ErrorKind::input,
                    "{}: the recovery passphrase is shorter than 12 characters",
                    m.luks.recovery.passphrase_file->string());
      }
      ctx.recovery_passphrase = SecretBytes::copy_of(raw.span().first(len));
    } else {
      ctx.recovery_passphrase = generate_recovery_passphrase();
    }
  }
  ctx.build_passphrase = generate_build_passphrase();

  const auto &seed = m.reproducibility.seed;
  ctx.luks_uuid = make_uuid(seed, purpose::luks);
  ctx.root_fs_uuid = make_uuid(seed, purpose::root_fs);
  ctx.boot_fs_uuid = make_uuid(seed, purpose::boot_fs);

  // Every data volume has keys of its own: its KBS resource and volume key
  // are independent of the root's, so one volume's key opens nothing else.
  for (const manifest::Volume &v : m.volumes) {
    VolumeBuild &vb = ctx.volumes.emplace_back();
    vb.spec = &v;
    vb.unlock_key = crypto::random_secret(64);
    vb.volume_key = crypto::random_secret(m.luks.key_size_bits / 8);
    vb.build_passphrase = generate_build_passphrase();
    vb.luks_uuid = make_uuid(seed, volume_luks_purpose(v.name));
    vb.fs_uuid = make_uuid(seed, volume_fs_purpose(v.name));
  }
}

} // namespace

} // namespace cvm::pipeline::stages

namespace cvm::plan {

// This stage's entry in lib/plan/stages.hpp.
void
PrepareKey::run(pipeline::BuildContext &ctx) {
  pipeline::stages::prepare_key(ctx);
}

} // namespace cvm::plan
