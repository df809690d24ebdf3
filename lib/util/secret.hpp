// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <fmt/format.h>

#include <strings.h>
#include <sys/mman.h>

#include <cstddef>
#include <cstring>
#include <span>
#include <string_view>
#include <utility>

namespace cvm {

// Key material: a fixed-size heap buffer that is locked into RAM where the
// kernel allows (mlock), wiped with explicit_bzero when destroyed or moved
// from, never copied implicitly, and never printed (its fmt formatter writes
// "<redacted>"; there is no operator<<). Pass it to C APIs as data() + size().
class SecretBytes {
public:
  SecretBytes() = default;

  explicit SecretBytes(std::size_t size)
    : m_data(size == 0 ? nullptr : new std::byte[size]())
    , m_size(size) {
    if (m_data != nullptr) {
      // Best effort: an unprivileged process may exceed RLIMIT_MEMLOCK.
      m_locked = ::mlock(m_data, m_size) == 0;
    }
  }

  // Takes a copy of `bytes`; the caller remains responsible for wiping them.
  static SecretBytes
  copy_of(std::span<const std::byte> bytes) {
    SecretBytes s(bytes.size());
    if (!bytes.empty()) {
      std::memcpy(s.m_data, bytes.data(), bytes.size());
    }
    return s;
  }

  SecretBytes(const SecretBytes &) = delete;
  SecretBytes &operator=(const SecretBytes &) = delete;

  SecretBytes(SecretBytes &&other) noexcept
    : m_data(std::exchange(other.m_data, nullptr))
    , m_size(std::exchange(other.m_size, 0))
    , m_locked(std::exchange(other.m_locked, false)) {}

  SecretBytes &
  operator=(SecretBytes &&other) noexcept {
    if (this != &other) {
      wipe_and_free();
      m_data = std::exchange(other.m_data, nullptr);
      m_size = std::exchange(other.m_size, 0);
      m_locked = std::exchange(other.m_locked, false);
    }
    return *this;
  }

  ~SecretBytes() {
    wipe_and_free();
  }

  std::byte *
  data() noexcept {
    return m_data;
  }
  const std::byte *
  data() const noexcept {
    return m_data;
  }
  std::size_t
  size() const noexcept {
    return m_size;
  }
  bool
  empty() const noexcept {
    return m_size == 0;
  }
  std::span<const std::byte>
  span() const noexcept {
    return {m_data, m_size};
  }
  std::span<std::byte>
  mutable_span() noexcept {
    return {m_data, m_size};
  }
  // The bytes as characters, for APIs that take `const char*` keys.
  const char *
  chars() const noexcept {
    return reinterpret_cast<const char *>(m_data); // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
  }

  // Constant-time comparison (no early exit on the first differing byte).
  bool
  equals(std::span<const std::byte> other) const noexcept {
    if (other.size() != m_size) {
      return false;
    }
    unsigned char diff = 0;
    for (std::size_t i = 0; i < m_size; ++i) {
      diff |= static_cast<unsigned char>(m_data[i] ^ other[i]);
    }
    return diff == 0;
  }

private:
  void
  wipe_and_free() noexcept {
    if (m_data != nullptr) {
      ::explicit_bzero(m_data, m_size);
      if (m_locked) {
        ::munlock(m_data, m_size);
      }
      delete[] m_data;
    }
    m_data = nullptr;
    m_size = 0;
    m_locked = false;
  }

  std::byte *m_data = nullptr;
  std::size_t m_size = 0;
  bool m_locked = false;
};

} // namespace cvm

// Formatting a secret prints a placeholder, so a secret that reaches a log line
// by mistake leaks nothing.
template<> struct fmt::formatter<cvm::SecretBytes> : fmt::formatter<std::string_view> {
  template<typename FormatContext>
  auto
  format(const cvm::SecretBytes & /*secret*/, FormatContext &ctx) const {
    return fmt::formatter<std::string_view>::format("<redacted>", ctx);
  }
};
