// SPDX-License-Identifier: Apache-2.0
// Stage close-image: close the volume, swap the build-only LUKS2 header for
// the final one, flush, and shut the appliance down -- checked, because a
// failed shutdown can mean the image was not written out completely.
#include "lib/pipeline/interrupt.hpp"
#include "lib/pipeline/stages.hpp"

namespace cvm::pipeline::stages {

namespace {

void
close_image(BuildContext &ctx) {
  auto &g = *ctx.guest;
  g.sync();
  g.umount_all();
  ctx.mounts = OutputMounts::none;
  if (!ctx.mapper_device.empty()) {
    g.cryptsetup_close(ctx.mapper_device);
    ctx.mapper_device.clear();
  }
  // Same size as the build header (format-luks checked), so every byte of the
  // build keyslot is overwritten.
  g.upload(ctx.final_header, ctx.out_root);
  g.sync();
  g.shutdown();
  set_interrupt_victim(0);
  ctx.guest.reset();
}

} // namespace

} // namespace cvm::pipeline::stages

namespace cvm::plan {

// This stage's entry in lib/plan/stages.hpp.
void
CloseImage::run(pipeline::BuildContext &ctx) {
  pipeline::stages::close_image(ctx);
}

} // namespace cvm::plan
