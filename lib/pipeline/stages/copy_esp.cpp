// SPDX-License-Identifier: Apache-2.0
// Stage copy-esp: a fresh FAT filesystem on the new ESP with the base ESP's
// files (boot loaders are reinstalled later; other vendors' files survive).
#include "lib/pipeline/ids.hpp"
#include "lib/pipeline/stages.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"

#include <fmt/format.h>

namespace cvm::pipeline::stages {

namespace {

// mkfs.vfat draws the volume ID from the clock: a reproducible build writes
// the seed's instead, before anything mounts the filesystem. The first 64 KiB
// hold the boot sector and FAT32's backup copy (sector 6 by default) for any
// sector size up to 4 KiB.
void
seed_volume_id(BuildContext &ctx, std::uint32_t id) {
  auto &g = *ctx.guest;
  constexpr std::int64_t k_head = std::int64_t{64} * 1024;
  const auto path = ctx.work->path() / "esp-head.bin";
  g.download_offset(ctx.out_esp, path, 0, k_head);
  auto head = fs::read_file(path, k_head);
  if (head.size() != static_cast<std::size_t>(k_head)) {
    throw Error(
        ErrorKind::guest, "{}: read {} bytes of the new ESP, expected {}", ctx.out_esp, head.size(), k_head);
  }
  set_fat_volume_id(head, id);
  fs::write_file_atomic(path, head, 0600);
  g.upload_offset(path, ctx.out_esp, 0);
  std::filesystem::remove(path);
}

void
copy_esp(BuildContext &ctx) {
  auto &g = *ctx.guest;
  guestfs::MkfsOptions opts;
  opts.label = "ESP";
  g.mkfs("vfat", ctx.out_esp, opts);
  const auto &seed = ctx.manifest.reproducibility.seed;
  if (!seed.empty()) {
    seed_volume_id(ctx, fat_volume_id_from_seed(seed));
  }
  g.mount(ctx.facts.esp_device, k_src, guestfs::ReadOnly::yes);
  g.mount(ctx.out_esp, k_dst);
  // FAT has no owners, modes or xattrs: cp -a keeps timestamps and tolerates
  // the rest, which is what we want here.
  for (const auto &entry : g.ls(k_src)) {
    g.cp_a(std::string(k_src) + "/" + entry, k_dst);
  }
  g.sync();
  g.umount(k_dst);
  g.umount(k_src);
  ctx.esp_fs_uuid = g.vfs_uuid(ctx.out_esp);
  if (ctx.esp_fs_uuid.empty()) {
    throw Error(ErrorKind::guest, "the new ESP has no filesystem UUID");
  }
  if (!seed.empty() && ctx.esp_fs_uuid != format_fat_volume_id(fat_volume_id_from_seed(seed))) {
    throw Error(ErrorKind::guest,
                "the new ESP's volume ID is {} after writing the seed's {}",
                ctx.esp_fs_uuid,
                format_fat_volume_id(fat_volume_id_from_seed(seed)));
  }
}

} // namespace

} // namespace cvm::pipeline::stages

namespace cvm::plan {

// This stage's entry in lib/plan/stages.hpp.
void
CopyEsp::run(pipeline::BuildContext &ctx) {
  pipeline::stages::copy_esp(ctx);
}

} // namespace cvm::plan
