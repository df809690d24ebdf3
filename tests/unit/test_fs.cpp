// SPDX-License-Identifier: Apache-2.0
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace stdfs = std::filesystem;

TEST(AtomicFile, RefusesADirectoryBeforeCreatingAnything) {
  cvm::fs::TempDir tmp("cvmforge-test-fs", stdfs::temp_directory_path());
  const stdfs::path dir = tmp.path() / "out";
  stdfs::create_directory(dir);
  for (const auto &target : {dir, stdfs::path(dir.string() + "/")}) {
    EXPECT_THROW(cvm::fs::write_file_atomic(target, "x"), cvm::Error) << target;
  }
  // Nothing was left next to the directory (where the temporary would go).
  EXPECT_EQ(std::distance(stdfs::directory_iterator(tmp.path()), stdfs::directory_iterator()), 1);
  EXPECT_TRUE(stdfs::is_empty(dir));
}

TEST(AtomicFile, WritesAFile) {
  cvm::fs::TempDir tmp("cvmforge-test-fs", stdfs::temp_directory_path());
  cvm::fs::write_file_atomic(tmp.path() / "f", "hello");
  EXPECT_EQ(cvm::fs::read_text(tmp.path() / "f"), "hello");
}
