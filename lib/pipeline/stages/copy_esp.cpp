// SPDX-License-Identifier: Apache-2.0
// Stage copy-esp: a fresh FAT filesystem on the new ESP with the base ESP's
// files (boot loaders are reinstalled later; other vendors' files survive).
#include "lib/pipeline/stages.hpp"
#include "lib/util/error.hpp"

namespace cvm::pipeline::stages {

void
copy_esp(BuildContext &ctx) {
  auto &g = *ctx.guest;
  guestfs::MkfsOptions opts;
  opts.label = "ESP";
  g.mkfs("vfat", ctx.out_esp, opts);
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
}

} // namespace cvm::pipeline::stages
