// SPDX-License-Identifier: Apache-2.0
// crypto::sha256_of_file: the streamed digest equals the one-shot digest of
// the same bytes, across the 1 MiB read boundary, and errors name the file.
#include "lib/crypto/crypto.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/hex.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

namespace stdfs = std::filesystem;
using ::testing::HasSubstr;

TEST(Sha256OfFile, KnownAnswerAndStreamingAcrossReads) {
  cvm::fs::TempDir tmp("cvmforge-test-crypto", stdfs::temp_directory_path());
  cvm::fs::write_file_atomic(tmp.path() / "abc", "abc");
  // FIPS 180-2, appendix B.1.
  EXPECT_EQ(cvm::to_hex(cvm::crypto::sha256_of_file(tmp.path() / "abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  cvm::fs::write_file_atomic(tmp.path() / "empty", "");
  EXPECT_EQ(cvm::to_hex(cvm::crypto::sha256_of_file(tmp.path() / "empty")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::vector<std::byte> big((std::size_t{1} << 20U) * 3 + 17);
  for (std::size_t i = 0; i < big.size(); ++i) {
    big[i] = static_cast<std::byte>((i * 131) ^ (i >> 9U));
  }
  cvm::fs::write_file_atomic(tmp.path() / "big", big);
  EXPECT_EQ(cvm::crypto::sha256_of_file(tmp.path() / "big"), cvm::crypto::sha256(big));
}

TEST(Sha256OfFile, AMissingFileIsAnIoErrorNamingIt) {
  try {
    (void)cvm::crypto::sha256_of_file("/nonexistent/base.qcow2");
    ADD_FAILURE() << "no error";
  } catch (const cvm::Error &e) {
    EXPECT_EQ(e.kind(), cvm::ErrorKind::io);
    EXPECT_THAT(e.what(), HasSubstr("/nonexistent/base.qcow2"));
  }
}
