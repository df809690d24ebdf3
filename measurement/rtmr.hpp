// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/crypto/crypto.hpp"
#include "measurement/eventlog.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

// The four TDX runtime measurement registers and CCEL replay into them.
namespace cvm::measure {

inline constexpr std::size_t k_rtmr_count = 4;
inline constexpr std::size_t k_sha384_size = 48;

// CC MR index (the event log's "PCRIndex") of RTMR `rtmr`: RTMR0 is MR index 1.
constexpr std::uint32_t
mr_index_of_rtmr(std::size_t rtmr) noexcept {
  return static_cast<std::uint32_t>(rtmr + 1);
}

// RTMR0..RTMR3, each starting as 48 zero bytes.
class RtmrBank {
public:
  // RTMR `rtmr` := SHA-384(RTMR ‖ `digest`). Throws cvm::Error(input) unless
  // `rtmr` < 4 and `digest` is 48 bytes.
  void extend(std::size_t rtmr, std::span<const std::byte> digest);

  const crypto::Sha384 &
  value(std::size_t rtmr) const {
    return m_values.at(rtmr);
  }

  const std::array<crypto::Sha384, k_rtmr_count> &
  values() const noexcept {
    return m_values;
  }

private:
  std::array<crypto::Sha384, k_rtmr_count> m_values{};
};

// Whether `event` extends an RTMR during replay: everything except
// EV_NO_ACTION (in any register, including the first Spec ID record).
bool is_extending(const Event &event) noexcept;

// Replays every extending event of `log` into a fresh bank: MR index 1..4 go
// to RTMR0..3. Throws cvm::Error(input) naming the record's offset if an
// extending event has MR index 0 or > 4, or lacks a SHA-384 digest.
RtmrBank replay(const EventLog &log);

} // namespace cvm::measure
