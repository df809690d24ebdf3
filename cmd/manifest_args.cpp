// SPDX-License-Identifier: Apache-2.0
#include "cmd/manifest_args.hpp"

#include "lib/plan/binding.hpp"
#include "lib/util/error.hpp"
#include "lib/util/log.hpp"

#include <fmt/core.h>

namespace cvm::cli {

manifest::Manifest
load_manifest_or_throw(const std::string &path) {
  auto result = plan::load_checked(path);
  for (const auto &d : result.diagnostics.all()) {
    fmt::print(stderr, "{}\n", d.format());
  }
  if (!result.manifest) {
    const std::size_t n = result.diagnostics.error_count();
    throw Error(ErrorKind::manifest, "{}: {} error{} in the manifest", path, n, n == 1 ? "" : "s");
  }
  return std::move(*result.manifest);
}

} // namespace cvm::cli
