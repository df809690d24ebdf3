// SPDX-License-Identifier: Apache-2.0
// Stage check-inputs: the base image is what the manifest says it is, and no
// output would be overwritten without --force. Nothing is written yet.
#include "lib/crypto/crypto.hpp"
#include "lib/pipeline/agent_install.hpp"
#include "lib/pipeline/stages.hpp"
#include "lib/plan/plan.hpp"
#include "lib/util/error.hpp"
#include "lib/util/hex.hpp"
#include "lib/util/log.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <cstdlib>

namespace cvm::pipeline::stages {

namespace {

std::string
at(const manifest::Manifest &m, const std::string &key) {
  const auto loc = m.where(key);
  return fmt::format("{}:{}:{}", loc.file, loc.line, loc.column);
}

void
check_inputs(BuildContext &ctx) {
  const auto &m = ctx.manifest;
  agent::require_policy_reference_values(m);
  // Before anything is written: a malformed SOURCE_DATE_EPOCH is an input error.
  ctx.source_date_epoch = resolve_source_date_epoch(
      m, std::getenv("SOURCE_DATE_EPOCH")); // NOLINT(concurrency-mt-unsafe): read once, before any thread
  if (::access(m.base.path.c_str(), R_OK) != 0) {
    throw Error(
        ErrorKind::input, "{}: cannot read the base image {}", at(m, "base.path"), m.base.path.string());
  }
  // The format is declared, never probed for use (probing a raw image that
  // contains a qcow2 header is a known hole); but a declared format that does
  // not match the file is certainly a mistake.
  const std::string detected = ctx.launcher->disk_format(m.base.path);
  const std::string declared = manifest::to_string(m.base.format);
  if (detected == "unknown" && m.base.format == manifest::ImageFormat::qcow2) {
    throw Error(ErrorKind::input, "{}: {} is not a disk image", at(m, "base.path"), m.base.path.string());
  }
  if (detected == "raw" && m.base.format == manifest::ImageFormat::qcow2) {
    // Anything at all reads as raw data: say what matters.
    throw Error(
        ErrorKind::input,
        "{}: {} is not a qcow2 image (it has no qcow2 header; if it is a raw disk, set base.format: raw)",
        at(m, "base.path"),
        m.base.path.string());
  }
  if (detected != "unknown" && detected != declared) {
    throw Error(ErrorKind::input,
                "{}: {} is a {} image, but base.format says {}",
                at(m, "base.format"),
                m.base.path.string(),
                detected,
                declared);
  }

  for (const auto &file : plan::output_files(m)) {
    const auto &path = file.path;
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::symlink_status(path, ec))) {
      if (ctx.options.overwrite == Overwrite::no) {
        throw Error(ErrorKind::exists, "{} already exists; use --force to replace it", path.string());
      }
      log::warning("{} exists and will be replaced (--force)", path.string());
    }
  }

  const auto out_dir = m.output.path.parent_path();
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) {
    throw Error(ErrorKind::io, "cannot create the output directory {}: {}", out_dir.string(), ec.message());
  }
  if (::access(out_dir.c_str(), W_OK) != 0) {
    throw Error(ErrorKind::io, "the output directory {} is not writable", out_dir.string());
  }

  for (std::size_t i = 0; i < m.volumes.size(); ++i) {
    const manifest::Volume &v = m.volumes[i];
    const auto dir = v.output.parent_path();
    std::filesystem::create_directories(dir, ec);
    if (ec || ::access(dir.c_str(), W_OK) != 0) {
      throw Error(ErrorKind::io,
                  "{}: the directory {} of volume {} is not writable{}",
                  at(m, fmt::format("volumes[{}]", i)),
                  dir.string(),
                  v.name,
                  ec ? ": " + ec.message() : std::string());
    }
    if (v.source && ::access(v.source->c_str(), R_OK | X_OK) != 0) {
      throw Error(ErrorKind::input,
                  "{}: cannot read the directory {} of volume {}",
                  at(m, fmt::format("volumes[{}].source", i)),
                  v.source->string(),
                  v.name);
    }
  }

  ctx.work.emplace("cvmforge-build");
  ctx.artifacts_dir = ctx.work->path() / "boot-artifacts";
  std::filesystem::create_directories(ctx.artifacts_dir);
  ctx.output_tmp = out_dir / fmt::format(".{}.partial-{}", m.output.path.filename().string(), ::getpid());
  // What a third party rebuilding this image needs to find the same base.
  ctx.base_file = BaseFile{declared, to_hex(crypto::sha256_of_file(m.base.path))};
}

} // namespace

} // namespace cvm::pipeline::stages

namespace cvm::plan {

// This stage's entry in lib/plan/stages.hpp.
void
CheckInputs::run(pipeline::BuildContext &ctx) {
  pipeline::stages::check_inputs(ctx);
}

} // namespace cvm::plan
