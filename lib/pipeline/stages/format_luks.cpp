// SPDX-License-Identifier: Apache-2.0
// Stage format-luks: write the LUKS2 header with libcryptsetup on the host,
// then place it at the start of the root partition.
//
// Two headers share one volume key and UUID: the final one (keyslot 0: the
// disk key, keyslot 1: the recovery passphrase) and a build-only one whose
// single keyslot opens with a random printable passphrase -- the libguestfs
// API passes keys as C strings, and the disk key is 64 arbitrary bytes. The
// appliance opens the volume with the build header (copy-root encrypts the
// root through it); close-image replaces it with the final header, so the
// build passphrase dies with the build.
#include "lib/luks/cryptsetup.hpp"
#include "lib/pipeline/stages.hpp"
#include "lib/util/error.hpp"

namespace cvm::pipeline::stages {

namespace {

void
format_luks(BuildContext &ctx) {
  const auto &m = ctx.manifest;
  luks::LuksParams params = luks_params(m, ctx.layout.luks_data_offset, ctx.layout.root_fs_size);
  params.label = m.luks.label;
  params.uuid = ctx.luks_uuid;
  if (m.luks.integrity) {
    params.integrity = *m.luks.integrity == "hmac-sha512" ? "hmac(sha512)" : "hmac(sha256)";
  }
  if (m.luks.recovery.enabled) {
    params.recovery_pbkdf = to_luks(m.luks.recovery.pbkdf);
  }

  ctx.final_header = ctx.work->path() / "final.luks2";
  ctx.header_layout = ctx.luks->format_detached_header(
      ctx.final_header,
      params,
      {ctx.volume_key, ctx.unlock_key, m.luks.recovery.enabled ? &ctx.recovery_passphrase : nullptr});

  luks::LuksParams build_params = params;
  build_params.recovery_pbkdf.reset();
  build_params.unlock_pbkdf = luks::minimal_pbkdf2();
  ctx.build_header = ctx.work->path() / "build.luks2";
  const auto build_layout = ctx.luks->format_detached_header(
      ctx.build_header, build_params, {ctx.volume_key, ctx.build_passphrase, nullptr});
  if (build_layout.header_file_size != ctx.header_layout.header_file_size ||
      build_layout.data_offset != ctx.header_layout.data_offset) {
    throw Error(ErrorKind::internal, "the build and final LUKS2 headers differ in size");
  }
  ctx.guest->upload(ctx.build_header, ctx.out_root);

  ctx.final_header_info = ctx.luks->read_header_info(ctx.final_header);
}

} // namespace

luks::PbkdfParams
to_luks(const manifest::Pbkdf &p) {
  luks::PbkdfParams out;
  out.type = p.type == manifest::PbkdfType::pbkdf2    ? luks::PbkdfType::pbkdf2
             : p.type == manifest::PbkdfType::argon2i ? luks::PbkdfType::argon2i
                                                      : luks::PbkdfType::argon2id;
  out.hash = p.hash;
  out.iterations = p.iterations;
  out.memory_kib = p.memory_kib;
  out.parallel = p.parallel;
  return out;
}

luks::LuksParams
luks_params(const manifest::Manifest &m, std::uint64_t data_offset, std::uint64_t data_size) {
  const auto spec = luks::parse_cipher_spec(m.luks.cipher);
  luks::LuksParams params;
  params.cipher = spec.cipher;
  params.cipher_mode = spec.mode;
  params.key_size_bits = m.luks.key_size_bits;
  params.sector_size = m.luks.sector_size;
  params.data_offset = data_offset;
  // libcryptsetup fills the keyslots area with random bytes; 1 MiB holds the
  // two 512-bit keyslots (about 250 KiB each) and leaves the rest of the
  // 16 MiB before the data unwritten, hence unallocated in the qcow2.
  params.keyslots_size = k_mib;
  params.data_size = data_size;
  params.unlock_pbkdf = to_luks(m.luks.pbkdf);
  params.subsystem = "cvmforge";
  return params;
}

} // namespace cvm::pipeline::stages

namespace cvm::plan {

// This stage's entry in lib/plan/stages.hpp.
void
FormatLuks::run(pipeline::BuildContext &ctx) {
  pipeline::stages::format_luks(ctx);
}

} // namespace cvm::plan
