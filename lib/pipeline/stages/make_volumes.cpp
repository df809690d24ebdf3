// SPDX-License-Identifier: Apache-2.0
// Stage make-volumes: each data volume of the manifest on its own disk,
// made the way the root is (format-luks, copy-root, close-image in one):
//
// - two LUKS2 headers written with libcryptsetup on the host, sharing one
//   volume key and UUID: the final one (keyslot 0: the volume's KBS
//   resource) and a build-only one with a printable passphrase, since the
//   libguestfs API passes keys as C strings;
// - the build header at the start of the volume's disk, the volume opened
//   in the appliance's kernel, the filesystem made, `source:` copied in as a
//   tar (owners, modes, times, xattrs, ACLs);
// - closed, and the final header written over the build one, so the build
//   passphrase dies with the build.
//
// Sparse as the root: mkfs writes no journal or inode-table zeros, and only
// what the filesystem writes becomes allocated ciphertext.
#include "lib/luks/header.hpp"
#include "lib/luks/policy.hpp"
#include "lib/manifest/values.hpp"
#include "lib/pipeline/stages.hpp"
#include "lib/pipeline/tree_archive.hpp"
#include "lib/util/error.hpp"
#include "lib/util/log.hpp"

#include <fmt/format.h>

#include <chrono>

namespace cvm::pipeline::stages {

namespace {

// Where a volume's filesystem is mounted in the appliance while it is seeded.
constexpr const char *k_volume_mount = "/cvmforge-volume";

void
make_filesystem(guestfs::Appliance &g, const VolumeBuild &vb, const std::string &device) {
  const manifest::Volume &v = *vb.spec;
  // The label is for humans (blkid, lsblk); both filesystems take 12 bytes.
  const std::string label = v.name.substr(0, 12);
  if (v.filesystem == manifest::Filesystem::xfs) {
    guestfs::MkfsOptions options;
    options.label = label;
    try {
      g.mkfs("xfs", device, options);
    } catch (const Error &e) {
      // Debian's libguestfs appliance has mkfs.xfs only with libguestfs-xfs.
      throw Error(e.kind(),
                  "volume {}: {} (xfs needs mkfs.xfs in the libguestfs appliance: on Debian, install "
                  "libguestfs-xfs)",
                  v.name,
                  e.what());
    }
    g.set_uuid(device, vb.fs_uuid);
    return;
  }
  guestfs::Mke2fsOptions fs;
  fs.fs_type = "ext4";
  fs.block_size = 4096;
  fs.label = label;
  fs.uuid = vb.fs_uuid;
  // As on the root (copy-root): neither journal nor inode tables are zeroed
  // through dm-crypt; the guest's kernel finishes the inode tables lazily.
  fs.extended = guestfs::Mke2fsExtended::lazy_journal_init;
  fs.force_create = true;
  g.mke2fs(device, fs);
}

void
make_volume(BuildContext &ctx, VolumeBuild &vb) {
  const auto &m = ctx.manifest;
  const manifest::Volume &v = *vb.spec;
  auto &g = *ctx.guest;
  const auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t data_offset = luks::LuksParams{}.data_offset;
  if (v.size_bytes <= data_offset) {
    throw Error(ErrorKind::internal, "volume {} is smaller than its LUKS2 header", v.name);
  }

  luks::LuksParams params = luks_params(m, data_offset, v.size_bytes - data_offset);
  params.label = v.label;
  params.uuid = vb.luks_uuid;
  vb.final_header = ctx.work->path() / fmt::format("volume-{}.final.luks2", v.name);
  const auto layout =
      ctx.luks->format_detached_header(vb.final_header, params, {vb.volume_key, vb.unlock_key, nullptr});
  luks::LuksParams build_params = params;
  build_params.unlock_pbkdf = luks::minimal_pbkdf2();
  vb.build_header = ctx.work->path() / fmt::format("volume-{}.build.luks2", v.name);
  const auto build_layout = ctx.luks->format_detached_header(
      vb.build_header, build_params, {vb.volume_key, vb.build_passphrase, nullptr});
  if (build_layout.header_file_size != layout.header_file_size ||
      build_layout.data_offset != layout.data_offset) {
    throw Error(ErrorKind::internal, "volume {}: the build and final LUKS2 headers differ in size", v.name);
  }
  vb.header_info = ctx.luks->read_header_info(vb.final_header);
  const luks::Policy policy = luks::derive_policy(luks::read_header(vb.final_header));
  if (policy.uuid != vb.luks_uuid) {
    throw Error(
        ErrorKind::internal, "volume {}: final header UUID {} is not {}", v.name, policy.uuid, vb.luks_uuid);
  }
  vb.header_policy_json = luks::policy_to_json(policy);

  g.upload(vb.build_header, vb.disk);
  g.cryptsetup_open(vb.disk, vb.build_passphrase, v.mapper_name);
  const std::string mapper = "/dev/mapper/" + v.mapper_name;
  make_filesystem(g, vb, mapper);

  g.mkmountpoint(k_volume_mount);
  if (v.filesystem == manifest::Filesystem::ext4) {
    g.mount_options(k_output_ext4_mount_options, mapper, k_volume_mount);
  } else {
    g.mount_options("", mapper, k_volume_mount);
  }
  if (v.source) {
    const auto tar = ctx.work->path() / fmt::format("volume-{}.tar", v.name);
    const TreeArchiveStats stats = write_tree_archive(*v.source, tar);
    const auto room = g.statvfs(k_volume_mount);
    if (stats.content_bytes > room.total_bytes - room.used_bytes) {
      std::filesystem::remove(tar);
      const auto loc = m.where(fmt::format("volumes[{}].source", &v - m.volumes.data()));
      throw Error(
          ErrorKind::input,
          "{}:{}:{}: {} holds {} of file content, more than volume {} has room for ({}); raise its size",
          loc.file,
          loc.line,
          loc.column,
          v.source->string(),
          manifest::values::human_size(stats.content_bytes),
          v.name,
          manifest::values::human_size(room.total_bytes - room.used_bytes));
    }
    g.unpack_tree(tar, k_volume_mount);
    std::filesystem::remove(tar);
    log::info("  volume {}: {} entries ({}) from {}",
              v.name,
              stats.entries,
              manifest::values::human_size(stats.content_bytes),
              v.source->string());
  }
  g.sync();
  vb.usage = g.statvfs(k_volume_mount);
  g.umount(k_volume_mount);
  g.rmmountpoint(k_volume_mount);
  g.cryptsetup_close(mapper);
  // Same size as the build header (checked above): every byte of the build
  // keyslot is overwritten.
  g.upload(vb.final_header, vb.disk);
  g.sync();
  vb.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log::info("  volume {}: {} {}, LUKS2 {}, {} used, {:.1f} s",
            v.name,
            manifest::values::format_size(v.size_bytes),
            manifest::to_string(v.filesystem),
            vb.luks_uuid,
            manifest::values::human_size(vb.usage->used_bytes),
            vb.seconds);
}

void
make_volumes(BuildContext &ctx) {
  if (ctx.volumes.size() != ctx.manifest.volumes.size()) {
    throw Error(ErrorKind::internal, "make-volumes runs before prepare-key made the volumes' keys");
  }
  for (VolumeBuild &vb : ctx.volumes) {
    if (vb.disk.empty()) {
      throw Error(ErrorKind::internal, "volume {} has no disk in the appliance", vb.spec->name);
    }
    make_volume(ctx, vb);
  }
}

} // namespace

} // namespace cvm::pipeline::stages

namespace cvm::plan {

// This stage's entry in lib/plan/stages.hpp.
void
MakeVolumes::run(pipeline::BuildContext &ctx) {
  pipeline::stages::make_volumes(ctx);
}

} // namespace cvm::plan
