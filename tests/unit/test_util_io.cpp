// SPDX-License-Identifier: Apache-2.0
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <thread>

namespace {

namespace fs = cvm::fs;

std::vector<std::byte>
pattern(std::size_t size) {
  std::vector<std::byte> v(size);
  for (std::size_t i = 0; i < size; ++i) {
    v[i] = static_cast<std::byte>(i * 7U);
  }
  return v;
}

struct Pipe {
  fs::Fd read;
  fs::Fd write;
  Pipe() {
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2");
    }
    read = fs::Fd(fds[0]);
    write = fs::Fd(fds[1]);
  }
};

TEST(UtilIo, WriteFullAndReadToEndThroughAPipe) {
  // More than a pipe buffer: the writer must continue after short writes.
  const auto data = pattern(std::size_t{1} << 20U);
  Pipe p;
  std::thread writer([&] {
    EXPECT_TRUE(fs::write_full(p.write.get(), data));
    p.write.close();
  });
  const auto got = fs::read_to_end(p.read.get(), data.size(), "pipe");
  writer.join();
  EXPECT_EQ(got, data);
}

TEST(UtilIo, ReadToEndIsBounded) {
  Pipe p;
  ASSERT_TRUE(fs::write_full(p.write.get(), pattern(100)));
  p.write.close();
  try {
    (void)fs::read_to_end(p.read.get(), 99, "the pipe");
    FAIL() << "accepted more than max_size";
  } catch (const cvm::Error &e) {
    EXPECT_EQ(e.kind(), cvm::ErrorKind::input);
    EXPECT_NE(std::string(e.what()).find("the pipe"), std::string::npos);
  }
}

TEST(UtilIo, FailuresSetErrno) {
  std::array<std::byte, 4> buf{};
  EXPECT_EQ(fs::read_some(-1, buf), -1);
  EXPECT_EQ(errno, EBADF);
  EXPECT_FALSE(fs::write_full(-1, buf));
  EXPECT_EQ(errno, EBADF);
  EXPECT_THROW((void)fs::read_to_end(-1, 10, "nothing"), cvm::Error);
}

TEST(UtilIo, PositionalWriteAndRead) {
  fs::TempDir dir("cvm-io");
  const auto path = dir.path() / "f";
  fs::Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(fd);
  const auto data = pattern(300);
  ASSERT_TRUE(fs::pwrite_full(fd.get(), data, 100));
  std::vector<std::byte> back(300);
  EXPECT_EQ(fs::pread_some(fd.get(), back, 100), 300);
  EXPECT_EQ(back, data);
  EXPECT_EQ(fs::pread_some(fd.get(), back, 400), 0) << "end of file";
  EXPECT_EQ(fs::read_file(path).size(), 400U);
}

TEST(UtilIo, ReadFileIfExists) {
  fs::TempDir dir("cvm-io");
  EXPECT_FALSE(fs::read_file_if_exists(dir.path() / "absent"));
  fs::write_file_atomic(dir.path() / "present", "abc");
  const auto got = fs::read_file_if_exists(dir.path() / "present");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->size(), 3U);
  EXPECT_THROW((void)fs::read_file_if_exists(dir.path()), cvm::Error) << "a directory is not a file";
}

} // namespace
