// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/util/error.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

// Bounds-checked little-endian reading of untrusted bytes. Every parser in
// measurement/ reads through this class (or through the free functions below),
// so no raw pointer arithmetic on untrusted input is scattered across files.
// Every failure is a cvm::Error(ErrorKind::input) naming the input, the
// absolute offset and what was expected there.
namespace cvm::measure {

class ByteReader {
public:
  // Reads `data`, which is called `what` in error messages ("event log");
  // `base` is the absolute offset of data[0] in the original input, so that
  // messages from sub-readers still name offsets in the whole file.
  explicit ByteReader(std::span<const std::byte> data,
                      std::string_view what = "input",
                      std::size_t base = 0) noexcept
    : m_data(data)
    , m_what(what)
    , m_base(base) {}

  // Current position, relative to the start of this reader's data.
  std::size_t
  position() const noexcept {
    return m_pos;
  }

  // Current position as an absolute offset in the original input.
  std::size_t
  offset() const noexcept {
    return m_base + m_pos;
  }

  std::size_t
  size() const noexcept {
    return m_data.size();
  }

  std::size_t
  remaining() const noexcept {
    return m_data.size() - m_pos;
  }

  bool
  at_end() const noexcept {
    return m_pos == m_data.size();
  }

  std::string_view
  what() const noexcept {
    return m_what;
  }

  // Throws unless `count` more bytes are available for `field`.
  void
  require(std::size_t count, std::string_view field) const {
    if (count > remaining()) {
      throw Error(ErrorKind::input,
                  "{}: truncated at offset {:#x}: expected {} bytes of {}, only {} left",
                  m_what,
                  offset(),
                  count,
                  field,
                  remaining());
    }
  }

  // Moves to `position` (relative to this reader's data); throws if past the end.
  void
  seek(std::size_t position, std::string_view field) {
    if (position > m_data.size()) {
      throw Error(ErrorKind::input,
                  "{}: {} at offset {:#x} lies outside the {}-byte input",
                  m_what,
                  field,
                  m_base + position,
                  m_data.size());
    }
    m_pos = position;
  }

  void
  skip(std::size_t count, std::string_view field) {
    require(count, field);
    m_pos += count;
  }

  std::span<const std::byte>
  bytes(std::size_t count, std::string_view field) {
    require(count, field);
    const auto out = m_data.subspan(m_pos, count);
    m_pos += count;
    return out;
  }

  // A reader over the next `count` bytes, which this reader skips.
  ByteReader
  sub(std::size_t count, std::string_view field) {
    const std::size_t start = offset();
    return ByteReader(bytes(count, field), m_what, start);
  }

  std::uint8_t
  u8(std::string_view field) {
    return static_cast<std::uint8_t>(read_le(1, field));
  }

  std::uint16_t
  u16(std::string_view field) {
    return static_cast<std::uint16_t>(read_le(2, field));
  }

  std::uint32_t
  u32(std::string_view field) {
    return static_cast<std::uint32_t>(read_le(4, field));
  }

  std::uint64_t
  u64(std::string_view field) {
    return read_le(8, field);
  }

  // Throws a cvm::Error(input) about `field` at the current offset.
  [[noreturn]] void
  fail(std::string_view field, std::string_view problem) const {
    throw Error(ErrorKind::input, "{}: {} at offset {:#x}: {}", m_what, field, offset(), problem);
  }

private:
  std::uint64_t
  read_le(std::size_t width, std::string_view field) {
    require(width, field);
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < width; ++i) {
      value |= static_cast<std::uint64_t>(m_data[m_pos + i]) << (8U * i);
    }
    m_pos += width;
    return value;
  }

  std::span<const std::byte> m_data;
  std::string m_what;
  std::size_t m_base;
  std::size_t m_pos = 0;
};

// Bounds-checked view of `count` bytes at `offset` of `data` (`what`/`field` name
// them in the error). Guards against offset + count overflowing.
inline std::span<const std::byte>
checked_subspan(std::span<const std::byte> data,
                std::uint64_t offset,
                std::uint64_t count,
                std::string_view what,
                std::string_view field) {
  if (offset > data.size() || count > data.size() - offset) {
    throw Error(ErrorKind::input,
                "{}: {} at offset {:#x} with {} bytes lies outside the {}-byte input",
                what,
                field,
                offset,
                count,
                data.size());
  }
  return data.subspan(static_cast<std::size_t>(offset), static_cast<std::size_t>(count));
}

// Little-endian integer of `width` bytes at `offset` of `data`, bounds-checked.
inline std::uint64_t
read_le_at(std::span<const std::byte> data,
           std::uint64_t offset,
           std::size_t width,
           std::string_view what,
           std::string_view field) {
  const auto bytes = checked_subspan(data, offset, width, what, field);
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    value |= static_cast<std::uint64_t>(bytes[i]) << (8U * i);
  }
  return value;
}

} // namespace cvm::measure
