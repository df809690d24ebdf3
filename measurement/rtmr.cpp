// SPDX-License-Identifier: Apache-2.0
#include "measurement/rtmr.hpp"

#include "lib/util/error.hpp"

#include <algorithm>

namespace cvm::measure {

void
RtmrBank::extend(std::size_t rtmr, std::span<const std::byte> digest) {
  if (rtmr >= k_rtmr_count) {
    throw Error(ErrorKind::input, "RTMR{} does not exist (TDX has RTMR0..RTMR3)", rtmr);
  }
  if (digest.size() != k_sha384_size) {
    throw Error(ErrorKind::input,
                "RTMR{} extend: expected a 48-byte SHA-384 digest, got {} bytes",
                rtmr,
                digest.size());
  }
  crypto::Hasher h(crypto::HashAlgorithm::sha384);
  h.update(m_values[rtmr]);
  h.update(digest);
  const auto next = h.final();
  std::copy(next.begin(), next.end(), m_values[rtmr].begin());
}

bool
is_extending(const Event &event) noexcept {
  return event.type != event_type::k_no_action;
}

RtmrBank
replay(const EventLog &log) {
  RtmrBank bank;
  for (const auto &event : log.events) {
    if (!is_extending(event)) {
      continue;
    }
    if (event.mr_index < 1 || event.mr_index > k_rtmr_count) {
      throw Error(ErrorKind::input,
                  "event log: record {} at offset {:#x} ({}) extends MR index {}; expected 1..4 "
                  "(RTMR0..RTMR3)",
                  event.sequence,
                  event.offset,
                  event_type_name(event.type),
                  event.mr_index);
    }
    const auto *digest = event.digest(k_alg_sha384);
    if (digest == nullptr) {
      throw Error(ErrorKind::input,
                  "event log: record {} at offset {:#x} has no SHA-384 digest",
                  event.sequence,
                  event.offset);
    }
    bank.extend(event.mr_index - 1, *digest);
  }
  return bank;
}

} // namespace cvm::measure
