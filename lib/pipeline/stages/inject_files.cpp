// SPDX-License-Identifier: Apache-2.0
// Stage inject-files: the manifest's `files:` into the new root.
#include "lib/pipeline/stages.hpp"
#include "lib/util/log.hpp"

namespace cvm::pipeline::stages {

namespace {

void
inject_files(BuildContext &ctx) {
  require_mounts(ctx, OutputMounts::copy, "inject-files");
  auto &g = *ctx.guest;
  for (const auto &f : ctx.manifest.files) {
    const std::string dest = std::string(k_dst) + f.dest;
    const auto parent = std::filesystem::path(dest).parent_path().string();
    if (!g.is_dir(parent)) {
      g.mkdir_p(parent);
    }
    g.upload(f.source, dest);
    g.chown(static_cast<int>(f.uid), static_cast<int>(f.gid), dest);
    g.chmod(static_cast<int>(f.mode), dest);
    log::debug("  {} -> {} ({:04o} {}:{})", f.source.string(), f.dest, f.mode, f.uid, f.gid);
  }
  ctx.files_injected = ctx.manifest.files.size();
}

} // namespace

} // namespace cvm::pipeline::stages

namespace cvm::plan {

// This stage's entry in lib/plan/stages.hpp.
void
InjectFiles::run(pipeline::BuildContext &ctx) {
  pipeline::stages::inject_files(ctx);
}

} // namespace cvm::plan
