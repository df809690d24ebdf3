// SPDX-License-Identifier: Apache-2.0
#include "lib/pipeline/progress.hpp"

#include <fmt/core.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace cvm::pipeline {

std::uint64_t
allocated_bytes(const std::filesystem::path &path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return 0;
  }
  return static_cast<std::uint64_t>(st.st_blocks) * 512U;
}

CopyProgress::CopyProgress(std::filesystem::path image,
                           std::uint64_t total,
                           std::string label,
                           Sample on_sample)
  : m_image(std::move(image))
  , m_total(std::max<std::uint64_t>(total, 1))
  , m_baseline(allocated_bytes(m_image))
  , m_label(std::move(label))
  , m_on_sample(std::move(on_sample))
  , m_tty(::isatty(STDERR_FILENO) == 1) {
  if (m_tty || m_on_sample) {
    m_thread = std::thread([this] { run(); });
  }
}

CopyProgress::~CopyProgress() {
  m_stop = true;
  if (m_thread.joinable()) {
    m_thread.join();
  }
  if (m_tty) {
    fmt::print(stderr, "\r\033[K");
    std::fflush(stderr);
  }
}

void
CopyProgress::run() {
  using namespace std::chrono_literals;
  auto last_event = std::chrono::steady_clock::now() - 10s;
  while (!m_stop) {
    const std::uint64_t now = allocated_bytes(m_image);
    const std::uint64_t done = std::min(now > m_baseline ? now - m_baseline : 0, m_total);
    if (m_tty) {
      constexpr int k_width = 30;
      const auto filled = static_cast<int>(done * k_width / m_total);
      fmt::print(stderr,
                 "\r  {} [{:=<{}}{:<{}}] {:3}% {:.0f} MiB",
                 m_label,
                 "",
                 filled,
                 "",
                 k_width - filled,
                 done * 100 / m_total,
                 static_cast<double>(done) / (1024.0 * 1024.0));
      std::fflush(stderr);
    }
    if (m_on_sample && std::chrono::steady_clock::now() - last_event >= 5s) {
      m_on_sample(done, m_total);
      last_event = std::chrono::steady_clock::now();
    }
    for (int i = 0; i < 5 && !m_stop; ++i) {
      std::this_thread::sleep_for(100ms);
    }
  }
}

} // namespace cvm::pipeline
