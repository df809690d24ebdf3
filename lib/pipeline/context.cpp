// SPDX-License-Identifier: Apache-2.0
#include "lib/pipeline/context.hpp"

#include "lib/util/error.hpp"

namespace cvm::pipeline {

namespace {

const char *
describe(OutputMounts m) {
  switch (m) {
  case OutputMounts::none:
    return "not mounted";
  case OutputMounts::copy:
    return "mounted for the copy (new root at /cvmforge-dst)";
  case OutputMounts::root:
    return "mounted as the guest's root";
  }
  return "?";
}

} // namespace

void
require_mounts(const BuildContext &ctx, OutputMounts expected, std::string_view stage) {
  if (ctx.mounts != expected) {
    throw Error(ErrorKind::internal,
                "{} needs the output {}, but it is {}",
                stage,
                describe(expected),
                describe(ctx.mounts));
  }
}

} // namespace cvm::pipeline
