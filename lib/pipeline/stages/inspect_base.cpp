// SPDX-License-Identifier: Apache-2.0
// Stage inspect-base: what the base image contains, how much of it there is,
// and whether cvmforge can convert it. Opens the base read-only.
#include "lib/baseimage/policy.hpp"
#include "lib/manifest/values.hpp"
#include "lib/pipeline/interrupt.hpp"
#include "lib/pipeline/stages.hpp"
#include "lib/util/error.hpp"
#include "lib/util/log.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace cvm::pipeline::stages {

namespace {

void
inspect_base(BuildContext &ctx) {
  const auto &m = ctx.manifest;
  guestfs::LaunchSpec spec;
  spec.cancel_launch = [] { return interrupted_by() != 0; };
  guestfs::AddDriveOptions base_drive;
  base_drive.format = manifest::to_string(m.base.format);
  base_drive.read_only = guestfs::ReadOnly::yes;
  spec.drives.push_back({m.base.path, base_drive});
  std::unique_ptr<guestfs::Appliance> appliance;
  try {
    appliance = ctx.launcher->launch(spec);
  } catch (const Error &e) {
    if (e.kind() == ErrorKind::interrupted || interrupted_by() != 0 ||
        ctx.launcher->last_launch_timed_out()) {
      throw;
    }
    throw Error(ErrorKind::input,
                "{}: cannot open {} as a {} disk image: {}",
                m.base.path.string(),
                m.base.path.string(),
                manifest::to_string(m.base.format),
                e.what());
  }
  throw_if_interrupted();
  auto &s = *appliance;
  ctx.facts = baseimage::inspect_base(s);
  const auto &f = ctx.facts;

  // Sizes: the root content without /boot (which gets its own partition).
  s.mount(f.root_device, "/", guestfs::ReadOnly::yes);
  if (f.boot_device) {
    s.mount(*f.boot_device, "/boot", guestfs::ReadOnly::yes);
  }
  const auto boot_used = static_cast<std::uint64_t>(s.du("/boot"));
  ctx.content.boot_used = boot_used;
  ctx.content.root_used =
      f.boot_device ? f.root_used_bytes : f.root_used_bytes - std::min(boot_used, f.root_used_bytes);

  // What the unlock path needs from the guest's own tools.
  const std::string generator(manifest::to_string(f.initramfs_generator));
  if (m.initramfs && *m.initramfs != f.initramfs_generator) {
    const auto loc = m.where("initramfs.backend");
    throw Error(ErrorKind::input,
                "{}:{}:{}: initramfs.backend is {}, but the base image uses {} ({})",
                loc.file,
                loc.line,
                loc.column,
                manifest::to_string(m.initramfs),
                generator,
                f.initramfs_reason);
  }
  ctx.initramfs_backend = f.initramfs_generator;
  baseimage::require_unlock_tools(s, f.initramfs_generator, m.attestation.enabled);
  baseimage::require_boot_tools(s, m.boot.mode, f.bootloader);
  if (f.esp_mountpoint) {
    s.mount(f.esp_device, *f.esp_mountpoint, guestfs::ReadOnly::yes);
    ctx.content.esp_used = s.statvfs(*f.esp_mountpoint).used_bytes;
  } else {
    ctx.content.esp_used = 0;
  }
  s.umount_all();
  s.shutdown();

  std::vector<std::string> kernels;
  for (const auto &k : f.kernels) {
    kernels.push_back(k.version);
  }
  log::info("  {} {}.{} ({}), root {} with {} (+ {} in /boot), {} kernel{} ({}), {}",
            f.distro,
            f.major_version,
            f.minor_version,
            f.product_name,
            f.root_fs_type,
            manifest::values::human_size(ctx.content.root_used),
            manifest::values::human_size(ctx.content.boot_used),
            kernels.size(),
            kernels.size() == 1 ? "" : "s",
            fmt::join(kernels, ", "),
            generator);
  check_binding_after_inspection(ctx);
}

} // namespace

} // namespace cvm::pipeline::stages

namespace cvm::plan {

// This stage's entry in lib/plan/stages.hpp.
void
InspectBase::run(pipeline::BuildContext &ctx) {
  pipeline::stages::inspect_base(ctx);
}

} // namespace cvm::plan
