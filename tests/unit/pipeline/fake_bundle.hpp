// SPDX-License-Identifier: Apache-2.0
#pragma once

// FakeBundle: an agent bundle directory as `ninja <flavour>-bundle` makes
// one (<dir>/<flavour>/: the binary, lib/, MANIFEST), for the tests of
// inject-agent and its pieces. BuildOptions::agent_dir = dir.path().

#include "lib/util/fs.hpp"

#include <filesystem>
#include <fstream>
#include <string>

namespace cvm::pipeline::test {

struct FakeBundle {
  fs::TempDir dir{"cvm-bundle"};
  std::filesystem::path
  make(const std::string &flavour) {
    const auto b = dir.path() / flavour;
    std::filesystem::create_directories(b / "lib");
    std::ofstream(b / flavour) << "ELF";
    std::filesystem::permissions(b / flavour, std::filesystem::perms::owner_all);
    std::ofstream(b / "lib" / "libc.so.6") << "libc";
    std::ofstream(b / "MANIFEST") << flavour << "\n";
    return b;
  }
};

} // namespace cvm::pipeline::test
