// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>

namespace cvm::kbs::test {

// The source tree (CVM_SOURCE_DIR, set by ctest).
inline std::optional<std::filesystem::path>
source_dir()
{
  const char* env = std::getenv("CVM_SOURCE_DIR");
  if (env == nullptr) {
    return std::nullopt;
  }
  return std::filesystem::path(env);
}

// $CVM_CONFORMANCE_DIR/tdx if it exists.
inline std::optional<std::filesystem::path>
conformance_tdx_dir()
{
  const char* env = std::getenv("CVM_CONFORMANCE_DIR");
  if (env == nullptr) {
    return std::nullopt;
  }
  const std::filesystem::path dir = std::filesystem::path(env) / "tdx";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return std::nullopt;
  }
  return dir;
}

} // namespace cvm::kbs::test
