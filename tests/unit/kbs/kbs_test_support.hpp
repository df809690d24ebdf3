// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>

namespace cvm::kbs::test {

// The source tree: $CVM_SOURCE_DIR, else the one this test was built from.
// (The compiled-in fallbacks matter: gtest_discover_tests flattens a list-valued
// ENVIRONMENT property, so only the first variable of a list reaches the test.)
inline std::optional<std::filesystem::path>
source_dir() {
  const char *env = std::getenv("CVM_SOURCE_DIR");
  return std::filesystem::path(env != nullptr ? env : CVM_KBS_TEST_SOURCE_DIR);
}

// $CVM_CONFORMANCE_DIR/tdx (default: ../shared/conformance/tdx beside the
// source tree) if it exists.
inline std::optional<std::filesystem::path>
conformance_tdx_dir() {
  const char *env = std::getenv("CVM_CONFORMANCE_DIR");
  const std::filesystem::path dir =
      std::filesystem::path(env != nullptr ? env : CVM_KBS_TEST_CONFORMANCE_DIR) / "tdx";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return std::nullopt;
  }
  return dir;
}

} // namespace cvm::kbs::test
