// SPDX-License-Identifier: Apache-2.0
#include "lib/kbs/tdx_quote.hpp"

#include "lib/util/error.hpp"
#include "measurement/quote.hpp"

namespace cvm::kbs {

std::array<std::byte, 64>
tdx_quote_report_data(std::span<const std::byte> quote) {
  if (quote.empty()) {
    throw Error(ErrorKind::input, "TDX quote is empty (quote generation service unreachable?)");
  }
  // The full parser lives in measurement/ (pure, shared with `cvmforge measure`).
  const measure::Quote parsed = measure::parse_quote(quote);
  if (parsed.header.attestation_key_type != 2) {
    throw Error(ErrorKind::input,
                "TDX quote has unsupported attestation key type {}",
                parsed.header.attestation_key_type);
  }
  return parsed.body.report_data;
}

} // namespace cvm::kbs
