// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "measurement/eventlog.hpp"

#include <cstdint>
#include <optional>
#include <vector>

// A TPM's TCG2 event log (e.g. /sys/kernel/security/tpm0/binary_bios_measurements
// of a VM with a software TPM) seen as a TD would have logged it. The format
// is the same crypto-agile log as the CCEL (parse_event_log() reads both);
// only the index differs: PCR 0..23 instead of CC MR index 1..4. OVMF's TDX
// build maps PCRs to MR indices with a fixed table (UEFI 2.10 §38.4.1, edk2
// TdxMeasurementMapPcrToMrIndex()), so firmware, boot loaders and the kernel
// stub put each event into the register this mapping gives.
namespace cvm::measure {

// The CC MR index TDVF uses for TPM PCR `pcr`: PCR 0 -> 0 (MRTD, which the
// firmware never extends at runtime), PCR 1 and 7 -> 1 (RTMR0), PCR 2..6 -> 2
// (RTMR1), PCR 8..15 -> 3 (RTMR2); nullopt for PCR 16 and above (no register).
std::optional<std::uint32_t> cc_mr_index_of_pcr(std::uint32_t pcr) noexcept;

struct MappedTpmLog {
  // The records that land in an RTMR (MR index 1..3) or never extend
  // (EV_NO_ACTION, kept with their PCR as MR index when it has none), in log
  // order, each with `pcr` set and `mr_index` replaced by the mapped index.
  EventLog log;
  // Extending records of PCR 0 (MRTD is not extended by events) and PCR 16+
  // (no TDX register): not part of any RTMR, kept for reporting.
  std::vector<Event> unmapped;
};

// Maps every record of a parsed TPM log. Sequence numbers and offsets stay
// those of the original log. Never throws; replay() and the comparisons work
// on the result unchanged.
MappedTpmLog map_tpm_log_to_cc(const EventLog &tpm_log);

} // namespace cvm::measure
