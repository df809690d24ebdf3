// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

// Progress of a long copy inside the appliance. libguestfs reports no
// progress for in-appliance copies, but every written block lands in the
// output qcow2 on the host: its allocated size is a faithful measure. A
// background thread samples it and draws a bar on a terminal (or calls
// `on_sample` for --json).
namespace cvm::pipeline {

class CopyProgress {
public:
  using Sample = std::function<void(std::uint64_t done, std::uint64_t total)>;

  // Watches `image`; `baseline` is its allocation before the copy, `total`
  // the bytes expected to be written. Draws on stderr only if it is a TTY.
  CopyProgress(std::filesystem::path image, std::uint64_t total, std::string label, Sample on_sample = {});
  CopyProgress(const CopyProgress &) = delete;
  CopyProgress &operator=(const CopyProgress &) = delete;
  CopyProgress(CopyProgress &&) = delete;
  CopyProgress &operator=(CopyProgress &&) = delete;
  ~CopyProgress();

private:
  void run();

  std::filesystem::path m_image;
  std::uint64_t m_total;
  std::uint64_t m_baseline;
  std::string m_label;
  Sample m_on_sample;
  bool m_tty;
  std::atomic<bool> m_stop{false};
  std::thread m_thread;
};

// Bytes allocated on the host for `path` (st_blocks * 512), 0 if missing.
std::uint64_t allocated_bytes(const std::filesystem::path &path);

} // namespace cvm::pipeline
