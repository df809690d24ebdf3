// SPDX-License-Identifier: Apache-2.0
// Stage create-output: size the new disk, create it as a sparse qcow2 under a
// temporary name next to the final path, and write its GPT.
#include "lib/manifest/values.hpp"
#include "lib/pipeline/ids.hpp"
#include "lib/pipeline/interrupt.hpp"
#include "lib/pipeline/stages.hpp"
#include "lib/util/error.hpp"
#include "lib/util/log.hpp"

#include <fmt/format.h>

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace cvm::pipeline::stages {

using manifest::values::format_size;

namespace {

void
create_output(BuildContext &ctx) {
  const auto &m = ctx.manifest;
  ctx.layout = compute_layout(m, ctx.content, luks::LuksParams{}.data_offset);
  const auto &l = ctx.layout;

  // The output stays sparse: expect about the content plus filesystem
  // metadata to be allocated. Refuse early rather than fail half-way.
  struct statvfs st {};
  const auto out_dir = m.output.path.parent_path();
  if (::statvfs(out_dir.c_str(), &st) == 0) {
    const std::uint64_t free_bytes = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
    const std::uint64_t needed =
        ctx.content.root_used + ctx.content.boot_used * 2 + ctx.content.esp_used + 256 * k_mib;
    if (free_bytes < needed) {
      throw Error(ErrorKind::io,
                  "not enough space in {}: the image needs about {}, {} is free",
                  out_dir.string(),
                  manifest::values::human_size(needed),
                  manifest::values::human_size(free_bytes));
    }
  }

  log::info("  disk {} virtual: ESP {}, /boot {}, LUKS2 root {} (filesystem {})",
            format_size(l.disk_size),
            format_size(l.esp.size),
            format_size(l.boot.size),
            format_size(l.root.size),
            format_size(l.root_fs_size));

  // The appliance runs the guest's initramfs generator and GRUB tools: give
  // it the host's cores (also under TCG, which is multi-threaded on x86) and
  // room for a compressing mkinitramfs.
  guestfs::LaunchSpec spec;
  spec.cancel_launch = [] { return interrupted_by() != 0; };
  spec.smp = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1U, 4U));
  if (std::getenv("LIBGUESTFS_MEMSIZE") == nullptr) { // NOLINT(concurrency-mt-unsafe): the user's choice wins
    spec.memsize_mib = 1536;
  }
  ctx.launcher->disk_create(ctx.output_tmp, "qcow2", static_cast<std::int64_t>(l.disk_size));
  spec.drives.push_back(
      {m.base.path,
       {manifest::to_string(m.base.format), guestfs::ReadOnly::yes, guestfs::CacheMode::writeback, "base"}});
  // Unsafe caching is sound here: the image is only kept after sync() and a
  // checked shutdown(); any failure deletes it.
  spec.drives.push_back(
      {ctx.output_tmp, {"qcow2", guestfs::ReadOnly::no, guestfs::CacheMode::unsafe, "output", true}});
  // Each data volume is a disk of its own, sparse like the image, written
  // by make-volumes in this same appliance.
  for (VolumeBuild &vb : ctx.volumes) {
    const manifest::Volume &v = *vb.spec;
    vb.output_tmp =
        v.output.parent_path() / fmt::format(".{}.partial-{}", v.output.filename().string(), ::getpid());
    ctx.launcher->disk_create(vb.output_tmp, "qcow2", static_cast<std::int64_t>(v.size_bytes));
    spec.drives.push_back(
        {vb.output_tmp, {"qcow2", guestfs::ReadOnly::no, guestfs::CacheMode::unsafe, std::nullopt, true}});
  }
  ctx.guest = ctx.launcher->launch(spec);
  auto &g = *ctx.guest;
  set_interrupt_victim(g.appliance_pid());
  throw_if_interrupted();

  const auto devices = g.list_devices();
  if (devices.size() != 2 + ctx.volumes.size()) {
    throw Error(ErrorKind::internal,
                "expected {} disks in the appliance, found {}",
                2 + ctx.volumes.size(),
                devices.size());
  }
  ctx.base_disk = devices[0];
  ctx.out_disk = devices[1];
  for (std::size_t i = 0; i < ctx.volumes.size(); ++i) {
    ctx.volumes[i].disk = devices[2 + i];
  }
  // The facts name the base's partitions as seen by the inspection session,
  // where the base was the only (first) disk: the same names here.
  g.part_init(ctx.out_disk, "gpt");
  for (const PartitionPlan *p : {&l.esp, &l.boot, &l.root}) {
    g.part_add(ctx.out_disk,
               "p",
               static_cast<std::int64_t>(p->start / k_sector),
               static_cast<std::int64_t>(p->end_sector_inclusive()));
    g.part_set_gpt_type(ctx.out_disk, p->number, p->type_guid);
    g.part_set_name(ctx.out_disk, p->number, p->name);
  }
  // The GPT's own GUIDs are random unless the build is reproducible: the
  // firmware measures the whole header and entry array (the GPT event).
  if (const auto &seed = m.reproducibility.seed; !seed.empty()) {
    g.part_set_disk_guid(ctx.out_disk, uuid_from_seed(seed, purpose::gpt_disk));
    for (const auto &[p, role] :
         {std::pair{&l.esp, "esp"}, std::pair{&l.boot, "boot"}, std::pair{&l.root, "root"}}) {
      g.part_set_gpt_guid(ctx.out_disk, p->number, uuid_from_seed(seed, gpt_partition_purpose(role)));
    }
  }
  const auto parts = g.part_list(ctx.out_disk);
  if (parts.size() != 3) {
    throw Error(ErrorKind::internal, "the new partition table has {} entries, expected 3", parts.size());
  }
  auto partition_device = [&](int number) {
    for (const auto &p : g.list_partitions()) {
      if (g.part_to_dev(p) == ctx.out_disk && g.part_to_partnum(p) == number) {
        return p;
      }
    }
    throw Error(ErrorKind::internal, "partition {} of {} not found", number, ctx.out_disk);
  };
  ctx.out_esp = partition_device(l.esp.number);
  ctx.out_boot = partition_device(l.boot.number);
  ctx.out_root = partition_device(l.root.number);
  g.mkmountpoint(k_src);
  g.mkmountpoint(k_dst);
}

} // namespace

} // namespace cvm::pipeline::stages

namespace cvm::plan {

// This stage's entry in lib/plan/stages.hpp.
void
CreateOutput::run(pipeline::BuildContext &ctx) {
  pipeline::stages::create_output(ctx);
}

} // namespace cvm::plan
