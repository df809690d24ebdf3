// SPDX-License-Identifier: Apache-2.0
// Stage copy-root: open the LUKS2 volume inside the appliance (its kernel
// has dm-crypt; the host needs none), make fresh ext4 filesystems for root
// and /boot, and copy the base tree across in ONE cp -a, with the new /boot
// mounted where the base's /boot is, so hard links, sparse files, device
// nodes, fifos, sockets, xattrs, ACLs, capabilities, SELinux labels and
// timestamps survive and /boot's content lands on the /boot partition.
//
// Sparseness: only blocks the new filesystems write become ciphertext in the
// qcow2; never-written LUKS sectors stay unallocated. mke2fs zeroes neither
// journal nor inode tables, and the filesystems are mounted with
// k_output_ext4_mount_options (no itable zeroing, no journal).
#include "lib/pipeline/progress.hpp"
#include "lib/pipeline/stages.hpp"
#include "lib/util/error.hpp"
#include "lib/util/log.hpp"

#include <fmt/format.h>

namespace cvm::pipeline::stages {

namespace {

void
copy_root(BuildContext &ctx) {
  const auto &m = ctx.manifest;
  auto &g = *ctx.guest;
  const auto &f = ctx.facts;

  require_mounts(ctx, OutputMounts::none, "copy-root");
  g.cryptsetup_open(ctx.out_root, ctx.build_passphrase, m.luks.mapper_name);
  ctx.mapper_device = "/dev/mapper/" + m.luks.mapper_name;

  guestfs::Mke2fsOptions root_fs;
  root_fs.fs_type = "ext4";
  root_fs.block_size = 4096;
  root_fs.journal_size = 16; // MiB
  root_fs.label = "root";
  root_fs.uuid = ctx.root_fs_uuid;
  // Nothing is zeroed: through dm-crypt every zero block would become an
  // allocated ciphertext block in the image. Zeroing protects against stale
  // data from an earlier filesystem on the device; there is none here: a
  // fresh LUKS2 volume under a new key (and, for /boot, never-written qcow2
  // clusters, which read as zeros).
  // - Journal: lazy_journal_init, the one extended option guestfs_mke2fs
  //   can pass (see Mke2fsOptions::extended). 16 MiB on root, 4 on /boot.
  // - Inode tables: mke2fs's own default is lazy wherever the kernel can
  //   finish the job (/sys/fs/ext4/features/lazy_itable_init, present in
  //   every appliance kernel with ext4), and the mount options
  //   (k_output_ext4_mount_options) keep the kernel from zeroing them or
  //   using the journal while the build writes.
  // - Discard: mke2fs's default. dm-crypt without allow_discards refuses it
  //   on root; on /boot it unmaps clusters that were never written anyway.
  root_fs.extended = guestfs::Mke2fsExtended::lazy_journal_init;
  root_fs.force_create = true;
  g.mke2fs(ctx.mapper_device, root_fs);

  guestfs::Mke2fsOptions boot_fs = root_fs;
  boot_fs.label = "boot";
  boot_fs.uuid = ctx.boot_fs_uuid;
  boot_fs.journal_size = 4; // MiB: the minimum, 1024 blocks
  g.mke2fs(ctx.out_boot, boot_fs);

  g.mount(f.root_device, k_src, guestfs::ReadOnly::yes);
  if (f.boot_device) {
    g.mount(*f.boot_device, std::string(k_src) + "/boot", guestfs::ReadOnly::yes);
  }
  g.mount_options(k_output_ext4_mount_options, ctx.mapper_device, k_dst);
  g.mkdir_p(std::string(k_dst) + "/boot");
  g.mount_options(k_output_ext4_mount_options, ctx.out_boot, std::string(k_dst) + "/boot");
  ctx.mounts = OutputMounts::copy;

  {
    const std::uint64_t total = ctx.content.root_used + ctx.content.boot_used;
    CopyProgress progress(ctx.output_tmp, total, "copying", [&ctx](std::uint64_t done, std::uint64_t all) {
      ctx.emit({{"event", "progress"}, {"stage", "copy-root"}, {"done_bytes", done}, {"total_bytes", all}});
    });
    g.cp_a(std::string(k_src) + "/.", k_dst);
    g.sync();
  }
  // Stay mounted: inject-files and inject-agent write into the new tree.
  const auto used = g.statvfs(k_dst);
  log::info("  root filesystem: {} MiB used of {} MiB", used.used_bytes >> 20U, used.total_bytes >> 20U);
  ctx.root_usage = used;
}

} // namespace

} // namespace cvm::pipeline::stages

namespace cvm::plan {

// This stage's entry in lib/plan/stages.hpp.
void
CopyRoot::run(pipeline::BuildContext &ctx) {
  pipeline::stages::copy_root(ctx);
}

} // namespace cvm::plan
