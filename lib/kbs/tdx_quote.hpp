// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <cstddef>
#include <span>

// The agent's check of its own quote: the REPORTDATA it asked for must be
// inside. Parsing is measurement/quote.hpp's (v4 and v5, TD 1.0/1.5 bodies;
// v4 REPORTDATA at absolute offset 568); signature verification is the
// verifier's job (Trustee/QVL).
namespace cvm::kbs {

// REPORTDATA of `quote`. Throws cvm::Error(input) if the quote is empty,
// truncated (including its signature-data length), not version 4/5, not
// ECDSA-P256 (att_key_type 2) or not a TDX quote (tee_type 0x81).
std::array<std::byte, 64> tdx_quote_report_data(std::span<const std::byte> quote);

} // namespace cvm::kbs
