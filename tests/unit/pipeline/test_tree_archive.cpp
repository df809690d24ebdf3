// SPDX-License-Identifier: Apache-2.0
// write_tree_archive: a host directory as the pax tar that seeds a data
// volume, read back with libarchive's own reader.
#include "lib/pipeline/tree_archive.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <string>

namespace {

using cvm::pipeline::write_tree_archive;

struct Entry {
  unsigned type = 0;
  unsigned mode = 0;
  std::int64_t size = 0;
  std::string symlink;
  std::string hardlink;
  std::string data;
  std::int64_t first_data_offset = -1; // where the first stored data block starts
};

std::map<std::string, Entry>
read_back(const std::filesystem::path &tar) {
  std::map<std::string, Entry> out;
  archive *a = archive_read_new();
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_filename(a, tar.c_str(), 10240), ARCHIVE_OK);
  archive_entry *e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    Entry x;
    x.type = archive_entry_filetype(e);
    x.mode = archive_entry_perm(e);
    x.size = archive_entry_size(e);
    x.symlink = archive_entry_symlink(e) != nullptr ? archive_entry_symlink(e) : "";
    x.hardlink = archive_entry_hardlink(e) != nullptr ? archive_entry_hardlink(e) : "";
    if (x.type == AE_IFREG && x.size > 0) {
      const void *block = nullptr;
      std::size_t size = 0;
      la_int64_t offset = 0;
      while (archive_read_data_block(a, &block, &size, &offset) == ARCHIVE_OK) {
        if (x.first_data_offset < 0 && size > 0) {
          x.first_data_offset = offset;
        }
        if (x.size < 4096) {
          x.data.append(static_cast<const char *>(block), size);
        }
      }
    }
    out[archive_entry_pathname(e)] = x;
  }
  archive_read_free(a);
  return out;
}

TEST(TreeArchive, KeepsTheTreeWithModesLinksAndHoles) {
  cvm::fs::TempDir dir("cvm-tree");
  const auto src = dir.path() / "src";
  std::filesystem::create_directories(src / "sub");
  cvm::fs::write_file_atomic(src / "hello.txt", std::string_view("hello\n"), 0640);
  cvm::fs::write_file_atomic(src / "sub/run.sh", std::string_view("#!/bin/sh\n"), 0755);
  std::filesystem::create_symlink("hello.txt", src / "link");
  std::filesystem::create_hard_link(src / "hello.txt", src / "sub/hard");
  ::chmod((src / "sub").c_str(), 0750);
  // 8 MiB with one byte of data at the end: a hole the archive keeps as one.
  {
    const int fd = ::open((src / "sparse.img").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "x", 1, (8 << 20) - 1), 1);
    ::close(fd);
  }
  const auto tar = dir.path() / "out.tar";
  const auto stats = write_tree_archive(src, tar);
  EXPECT_EQ(stats.entries, 7U); // ., hello.txt, sub, sub/run.sh, link, sub/hard, sparse.img
  EXPECT_EQ(std::filesystem::status(tar).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_LT(std::filesystem::file_size(tar), 1U << 20) << "the hole is not written out";

  const auto entries = read_back(tar);
  ASSERT_EQ(entries.count("./hello.txt"), 1U);
  EXPECT_EQ(entries.at("./hello.txt").data, "hello\n");
  EXPECT_EQ(entries.at("./hello.txt").mode, 0640U);
  EXPECT_EQ(entries.at("./sub/").type, static_cast<unsigned>(AE_IFDIR));
  EXPECT_EQ(entries.at("./sub/").mode, 0750U);
  EXPECT_EQ(entries.at("./sub/run.sh").mode, 0755U);
  EXPECT_EQ(entries.at("./link").type, static_cast<unsigned>(AE_IFLNK));
  EXPECT_EQ(entries.at("./link").symlink, "hello.txt");
  // One of the two names is the file, the other a hard link to it.
  const bool linked = entries.at("./sub/hard").hardlink == "./hello.txt" ||
                      entries.at("./hello.txt").hardlink == "./sub/hard";
  EXPECT_TRUE(linked);
  EXPECT_EQ(entries.at("./sparse.img").size, 8 << 20);
  EXPECT_GT(entries.at("./sparse.img").first_data_offset, 0) << "stored as a hole, then data";
}

TEST(TreeArchive, RefusesAnythingButAReadableDirectoryAndLeavesNoArchive) {
  cvm::fs::TempDir dir("cvm-tree");
  cvm::fs::write_file_atomic(dir.path() / "file", std::string_view("x"));
  const auto tar = dir.path() / "out.tar";
  for (const auto &source : {dir.path() / "file", dir.path() / "missing"}) {
    try {
      (void)write_tree_archive(source, tar);
      ADD_FAILURE() << "accepted " << source;
    } catch (const cvm::Error &e) {
      EXPECT_EQ(e.kind(), cvm::ErrorKind::input);
      EXPECT_THAT(e.what(), ::testing::HasSubstr("is not a readable directory"));
    }
    EXPECT_FALSE(std::filesystem::exists(tar));
  }
  // An existing archive is never overwritten.
  cvm::fs::write_file_atomic(tar, std::string_view("keep"));
  EXPECT_THROW((void)write_tree_archive(dir.path(), tar), cvm::Error);
  EXPECT_EQ(cvm::fs::read_text(tar), "keep");
}

} // namespace
