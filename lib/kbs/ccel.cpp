// SPDX-License-Identifier: Apache-2.0
#include "lib/kbs/ccel.hpp"

#include "lib/util/error.hpp"

#include <algorithm>
#include <cstdint>

namespace cvm::kbs {

namespace {

class Cursor {
public:
  explicit Cursor(std::span<const std::byte> data)
    : m_data(data) {}

  std::uint64_t
  peek_u64() const {
    need(8);
    return read_le(m_pos, 8);
  }

  std::uint32_t
  u32() {
    need(4);
    const auto v = static_cast<std::uint32_t>(read_le(m_pos, 4));
    m_pos += 4;
    return v;
  }

  std::uint16_t
  u16() {
    need(2);
    const auto v = static_cast<std::uint16_t>(read_le(m_pos, 2));
    m_pos += 2;
    return v;
  }

  void
  skip(std::size_t n) {
    need(n);
    m_pos += n;
  }

  std::size_t
  pos() const noexcept {
    return m_pos;
  }

private:
  void
  need(std::size_t n) const {
    if (m_data.size() - m_pos < n) {
      throw Error(ErrorKind::input, "CCEL truncated at offset {}", m_pos);
    }
  }

  std::uint64_t
  read_le(std::size_t at, std::size_t size) const {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < size; ++i) {
      v |= std::to_integer<std::uint64_t>(m_data[at + i]) << (8U * i);
    }
    return v;
  }

  std::span<const std::byte> m_data;
  std::size_t m_pos = 0;
};

std::size_t
digest_size(std::uint16_t algorithm) {
  switch (algorithm) {
  case 0x0004: // SHA-1
    return 20;
  case 0x000b: // SHA-256
  case 0x0012: // SM3-256
    return 32;
  case 0x000c: // SHA-384
    return 48;
  case 0x000d: // SHA-512
    return 64;
  default:
    throw Error(ErrorKind::input, "CCEL uses unknown digest algorithm {:#06x}", algorithm);
  }
}

} // namespace

std::vector<std::byte>
trim_ccel(std::span<const std::byte> ccel) {
  Cursor cursor(ccel);
  // TCG_PCR_EVENT: pcr index, event type, SHA-1 digest, event size, event.
  cursor.u32();
  cursor.u32();
  cursor.skip(20);
  cursor.skip(cursor.u32());

  constexpr std::uint64_t k_all_ones = ~std::uint64_t{0};
  for (;;) {
    const std::uint64_t marker = cursor.peek_u64();
    if (marker == k_all_ones || marker == 0) {
      break;
    }
    // TCG_PCR_EVENT2: pcr index, event type, digest count, digests, event size, event.
    cursor.u32();
    cursor.u32();
    const std::uint32_t count = cursor.u32();
    if (count == 0 || count > 8) {
      throw Error(ErrorKind::input, "CCEL event at offset {} has {} digests", cursor.pos(), count);
    }
    for (std::uint32_t i = 0; i < count; ++i) {
      cursor.skip(digest_size(cursor.u16()));
    }
    cursor.skip(cursor.u32());
  }
  const auto end = ccel.begin() + static_cast<std::ptrdiff_t>(cursor.pos());
  return {ccel.begin(), end};
}

} // namespace cvm::kbs
