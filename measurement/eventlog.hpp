// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

// The TCG2 crypto-agile event log as TDVF writes it into the CC event log area
// (CCEL): one legacy SHA-1-sized Spec ID record, then TCG_PCR_EVENT2 records,
// then padding (zeros or 0xff) up to the end of the log area.
namespace cvm::measure {

// TCG event types used by TDVF, shim, grub and the Linux EFI stub.
namespace event_type {
inline constexpr std::uint32_t k_preboot_cert = 0x0;
inline constexpr std::uint32_t k_post_code = 0x1;
inline constexpr std::uint32_t k_no_action = 0x3;
inline constexpr std::uint32_t k_separator = 0x4;
inline constexpr std::uint32_t k_action = 0x5;
inline constexpr std::uint32_t k_event_tag = 0x6;
inline constexpr std::uint32_t k_s_crtm_contents = 0x7;
inline constexpr std::uint32_t k_s_crtm_version = 0x8;
inline constexpr std::uint32_t k_cpu_microcode = 0x9;
inline constexpr std::uint32_t k_platform_config_flags = 0xa;
inline constexpr std::uint32_t k_table_of_devices = 0xb;
inline constexpr std::uint32_t k_compact_hash = 0xc;
inline constexpr std::uint32_t k_ipl = 0xd;
inline constexpr std::uint32_t k_ipl_partition_data = 0xe;
inline constexpr std::uint32_t k_nonhost_code = 0xf;
inline constexpr std::uint32_t k_nonhost_config = 0x10;
inline constexpr std::uint32_t k_nonhost_info = 0x11;
inline constexpr std::uint32_t k_omit_boot_device_events = 0x12;
inline constexpr std::uint32_t k_efi_variable_driver_config = 0x80000001;
inline constexpr std::uint32_t k_efi_variable_boot = 0x80000002;
inline constexpr std::uint32_t k_efi_boot_services_application = 0x80000003;
inline constexpr std::uint32_t k_efi_boot_services_driver = 0x80000004;
inline constexpr std::uint32_t k_efi_runtime_services_driver = 0x80000005;
inline constexpr std::uint32_t k_efi_gpt_event = 0x80000006;
inline constexpr std::uint32_t k_efi_action = 0x80000007;
inline constexpr std::uint32_t k_efi_platform_firmware_blob = 0x80000008;
inline constexpr std::uint32_t k_efi_handoff_tables = 0x80000009;
inline constexpr std::uint32_t k_efi_platform_firmware_blob2 = 0x8000000a;
inline constexpr std::uint32_t k_efi_handoff_tables2 = 0x8000000b;
inline constexpr std::uint32_t k_efi_variable_boot2 = 0x8000000c;
inline constexpr std::uint32_t k_efi_hcrtm_event = 0x80000010;
inline constexpr std::uint32_t k_efi_variable_authority = 0x800000e0;
inline constexpr std::uint32_t k_efi_spdm_firmware_blob = 0x800000e1;
inline constexpr std::uint32_t k_efi_spdm_firmware_config = 0x800000e2;
} // namespace event_type

// TPM_ALG_ID values of the digests that can appear in a crypto-agile log.
inline constexpr std::uint16_t k_alg_sha1 = 0x0004;
inline constexpr std::uint16_t k_alg_sha256 = 0x000b;
inline constexpr std::uint16_t k_alg_sha384 = 0x000c;
inline constexpr std::uint16_t k_alg_sha512 = 0x000d;
inline constexpr std::uint16_t k_alg_sm3_256 = 0x0012;

// "EV_EFI_ACTION" for a known type, otherwise "EV_UNKNOWN_0x…".
std::string event_type_name(std::uint32_t type);

// "SHA-384" etc. for a TPM_ALG_ID, otherwise "alg-0x…".
std::string algorithm_name(std::uint16_t algorithm);

struct EventDigest {
  std::uint16_t algorithm = 0;
  std::vector<std::byte> digest;
};

struct Event {
  std::size_t offset = 0;     // file offset of the record
  std::size_t sequence = 0;   // position in the log, counting every record from 0
  std::uint32_t mr_index = 0; // the log's "PCRIndex": CC MR index, 1 = RTMR0 … 4 = RTMR3
  // For a TPM log mapped with map_tpm_log_to_cc() (tpm_log.hpp): the PCR the
  // record was logged for (then mr_index is the MR index it maps to). nullopt
  // in a CC log.
  std::optional<std::uint32_t> pcr;
  std::uint32_t type = 0;
  std::vector<EventDigest> digests;
  std::vector<std::byte> data; // event data as logged

  // The digest for `algorithm`, if the record carries one.
  const std::vector<std::byte> *digest(std::uint16_t algorithm) const noexcept;
};

struct SpecIdAlgorithm {
  std::uint16_t algorithm = 0;
  std::uint16_t digest_size = 0;
};

struct EventLog {
  // From the TCG_EfiSpecIDEvent in the first record.
  std::uint32_t platform_class = 0;
  std::uint8_t spec_version_major = 0;
  std::uint8_t spec_version_minor = 0;
  std::uint8_t spec_errata = 0;
  std::uint8_t uintn_size = 0;
  std::vector<SpecIdAlgorithm> algorithms;
  std::vector<std::byte> vendor_info;

  // Every record including the first (Spec ID) one and other EV_NO_ACTION records.
  std::vector<Event> events;
  // Offset just past the last record; the rest of the area is padding.
  std::size_t end_offset = 0;
};

// Parses a CCEL log area. Stops at the end of the input, at a record whose
// MR index is 0xffffffff, or at an all-zero record header (padding). Throws
// cvm::Error(input) naming the offset for a missing/invalid Spec ID event, a
// digest algorithm the Spec ID event does not declare, or any record that runs
// past the end of the input.
EventLog parse_event_log(std::span<const std::byte> data);

// The records of a CCEL log area without the padding after them:
// data[0, parse_event_log(data).end_offset), for a KBS that wants only the
// events. Throws cvm::Error(input) where parse_event_log does, and if the
// records are not followed by an end marker or padding (at least 8 bytes
// of 0xff or 0x00): a log that fills its area may have been cut short.
std::vector<std::byte> trim_ccel(std::span<const std::byte> data);

// A one-line human description of the event payload: the action string, the
// variable name, the tagged-event description, the image device path … or ""
// when the payload has no readable form.
std::string describe_event(const Event &event);

} // namespace cvm::measure
