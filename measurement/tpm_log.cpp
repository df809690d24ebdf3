// SPDX-License-Identifier: Apache-2.0
#include "measurement/tpm_log.hpp"

#include "measurement/rtmr.hpp"

namespace cvm::measure {

std::optional<std::uint32_t>
cc_mr_index_of_pcr(std::uint32_t pcr) noexcept {
  if (pcr == 0) {
    return 0;
  }
  if (pcr == 1 || pcr == 7) {
    return 1;
  }
  if (pcr >= 2 && pcr <= 6) {
    return 2;
  }
  if (pcr >= 8 && pcr <= 15) {
    return 3;
  }
  return std::nullopt;
}

MappedTpmLog
map_tpm_log_to_cc(const EventLog &tpm_log) {
  MappedTpmLog out;
  out.log.platform_class = tpm_log.platform_class;
  out.log.spec_version_major = tpm_log.spec_version_major;
  out.log.spec_version_minor = tpm_log.spec_version_minor;
  out.log.spec_errata = tpm_log.spec_errata;
  out.log.uintn_size = tpm_log.uintn_size;
  out.log.algorithms = tpm_log.algorithms;
  out.log.vendor_info = tpm_log.vendor_info;
  out.log.end_offset = tpm_log.end_offset;
  for (const auto &record : tpm_log.events) {
    Event e = record;
    e.pcr = record.mr_index;
    if (!is_extending(record)) {
      // EV_NO_ACTION (Spec ID, StartupLocality, …) never extends: keep it in
      // the log for completeness, under the mapped index where there is one.
      e.mr_index = cc_mr_index_of_pcr(record.mr_index).value_or(record.mr_index);
      out.log.events.push_back(std::move(e));
      continue;
    }
    const auto mr = cc_mr_index_of_pcr(record.mr_index);
    if (!mr || *mr == 0) {
      out.unmapped.push_back(std::move(e));
      continue;
    }
    e.mr_index = *mr;
    out.log.events.push_back(std::move(e));
  }
  return out;
}

} // namespace cvm::measure
