// SPDX-License-Identifier: Apache-2.0
#include "measurement/eventlog.hpp"

#include "measurement/byte_reader.hpp"
#include "measurement/uefi.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string_view>
#include <utility>

namespace cvm::measure {

namespace {

constexpr std::string_view k_what = "event log";
constexpr std::uint32_t k_end_marker = 0xffffffffU;
constexpr std::size_t k_legacy_digest_size = 20;
constexpr std::string_view k_spec_id_signature = "Spec ID Event03";
// Bounds on counts read from the log, so a corrupt count cannot make us
// allocate or loop without limit.
constexpr std::uint32_t k_max_algorithms = 64;
constexpr std::uint32_t k_max_event_size = 64U << 20U;

struct TypeName {
  std::uint32_t type;
  std::string_view name;
};

constexpr std::array k_type_names = {
    TypeName{event_type::k_preboot_cert, "EV_PREBOOT_CERT"},
    TypeName{event_type::k_post_code, "EV_POST_CODE"},
    TypeName{0x2, "EV_UNUSED"},
    TypeName{event_type::k_no_action, "EV_NO_ACTION"},
    TypeName{event_type::k_separator, "EV_SEPARATOR"},
    TypeName{event_type::k_action, "EV_ACTION"},
    TypeName{event_type::k_event_tag, "EV_EVENT_TAG"},
    TypeName{event_type::k_s_crtm_contents, "EV_S_CRTM_CONTENTS"},
    TypeName{event_type::k_s_crtm_version, "EV_S_CRTM_VERSION"},
    TypeName{event_type::k_cpu_microcode, "EV_CPU_MICROCODE"},
    TypeName{event_type::k_platform_config_flags, "EV_PLATFORM_CONFIG_FLAGS"},
    TypeName{event_type::k_table_of_devices, "EV_TABLE_OF_DEVICES"},
    TypeName{event_type::k_compact_hash, "EV_COMPACT_HASH"},
    TypeName{event_type::k_ipl, "EV_IPL"},
    TypeName{event_type::k_ipl_partition_data, "EV_IPL_PARTITION_DATA"},
    TypeName{event_type::k_nonhost_code, "EV_NONHOST_CODE"},
    TypeName{event_type::k_nonhost_config, "EV_NONHOST_CONFIG"},
    TypeName{event_type::k_nonhost_info, "EV_NONHOST_INFO"},
    TypeName{event_type::k_omit_boot_device_events, "EV_OMIT_BOOT_DEVICE_EVENTS"},
    TypeName{event_type::k_efi_variable_driver_config, "EV_EFI_VARIABLE_DRIVER_CONFIG"},
    TypeName{event_type::k_efi_variable_boot, "EV_EFI_VARIABLE_BOOT"},
    TypeName{event_type::k_efi_boot_services_application, "EV_EFI_BOOT_SERVICES_APPLICATION"},
    TypeName{event_type::k_efi_boot_services_driver, "EV_EFI_BOOT_SERVICES_DRIVER"},
    TypeName{event_type::k_efi_runtime_services_driver, "EV_EFI_RUNTIME_SERVICES_DRIVER"},
    TypeName{event_type::k_efi_gpt_event, "EV_EFI_GPT_EVENT"},
    TypeName{event_type::k_efi_action, "EV_EFI_ACTION"},
    TypeName{event_type::k_efi_platform_firmware_blob, "EV_EFI_PLATFORM_FIRMWARE_BLOB"},
    TypeName{event_type::k_efi_handoff_tables, "EV_EFI_HANDOFF_TABLES"},
    TypeName{event_type::k_efi_platform_firmware_blob2, "EV_EFI_PLATFORM_FIRMWARE_BLOB2"},
    TypeName{event_type::k_efi_handoff_tables2, "EV_EFI_HANDOFF_TABLES2"},
    TypeName{event_type::k_efi_variable_boot2, "EV_EFI_VARIABLE_BOOT2"},
    TypeName{event_type::k_efi_hcrtm_event, "EV_EFI_HCRTM_EVENT"},
    TypeName{event_type::k_efi_variable_authority, "EV_EFI_VARIABLE_AUTHORITY"},
    TypeName{event_type::k_efi_spdm_firmware_blob, "EV_EFI_SPDM_FIRMWARE_BLOB"},
    TypeName{event_type::k_efi_spdm_firmware_config, "EV_EFI_SPDM_FIRMWARE_CONFIG"},
};

// Parses the TCG_EfiSpecIDEvent in `event_data` into `log`.
void
parse_spec_id(ByteReader &r, EventLog &log) {
  const auto signature = r.bytes(16, "Spec ID signature");
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the bytes viewed as characters
  const std::string_view sig(reinterpret_cast<const char *>(signature.data()), signature.size());
  if (sig.substr(0, k_spec_id_signature.size()) != k_spec_id_signature ||
      sig[k_spec_id_signature.size()] != '\0') {
    r.fail("Spec ID signature", "expected \"Spec ID Event03\" (a TCG2 crypto-agile log)");
  }
  log.platform_class = r.u32("platformClass");
  log.spec_version_minor = r.u8("specVersionMinor");
  log.spec_version_major = r.u8("specVersionMajor");
  log.spec_errata = r.u8("specErrata");
  log.uintn_size = r.u8("uintnSize");
  const std::uint32_t count = r.u32("numberOfAlgorithms");
  if (count == 0 || count > k_max_algorithms) {
    r.fail("numberOfAlgorithms", fmt::format("expected 1..{}, found {}", k_max_algorithms, count));
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    SpecIdAlgorithm alg;
    alg.algorithm = r.u16("algorithmId");
    alg.digest_size = r.u16("digestSize");
    if (alg.digest_size == 0 || alg.digest_size > 64) {
      r.fail("digestSize", fmt::format("expected 1..64, found {}", alg.digest_size));
    }
    log.algorithms.push_back(alg);
  }
  const std::uint8_t vendor_size = r.u8("vendorInfoSize");
  const auto vendor = r.bytes(vendor_size, "vendorInfo");
  log.vendor_info.assign(vendor.begin(), vendor.end());
}

std::uint16_t
digest_size_of(const EventLog &log, std::uint16_t algorithm, const ByteReader &r) {
  for (const auto &alg : log.algorithms) {
    if (alg.algorithm == algorithm) {
      return alg.digest_size;
    }
  }
  r.fail("digest algorithm",
         fmt::format("algorithm {:#06x} is not declared in the Spec ID event", algorithm));
}

bool
is_printable(std::span<const std::byte> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) {
    const auto c = static_cast<unsigned char>(b);
    return (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\t';
  });
}

// The bytes as text without trailing NULs, if they are printable ASCII.
std::string
ascii_or_empty(std::span<const std::byte> bytes) {
  while (!bytes.empty() && bytes.back() == std::byte{0}) {
    bytes = bytes.first(bytes.size() - 1);
  }
  if (bytes.empty() || !is_printable(bytes)) {
    return {};
  }
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the bytes viewed as characters
  return {reinterpret_cast<const char *>(bytes.data()), bytes.size()};
}

// The bytes as text if they are printable ASCII, or printable ASCII as
// UTF-16LE (systemd-stub's EV_IPL descriptions: section names, the command
// line), without trailing NULs; empty otherwise.
std::string
ascii_or_utf16_or_empty(std::span<const std::byte> bytes) {
  if (auto ascii = ascii_or_empty(bytes); !ascii.empty()) {
    return ascii;
  }
  while (bytes.size() >= 2 && bytes[bytes.size() - 1] == std::byte{0} &&
         bytes[bytes.size() - 2] == std::byte{0}) {
    bytes = bytes.first(bytes.size() - 2);
  }
  if (bytes.empty() || bytes.size() % 2 != 0) {
    return {};
  }
  std::string text;
  for (std::size_t i = 0; i < bytes.size(); i += 2) {
    if (bytes[i + 1] != std::byte{0}) {
      return {};
    }
    text.push_back(static_cast<char>(bytes[i]));
  }
  return is_printable(std::as_bytes(std::span<const char>(text))) ? text : std::string();
}

std::string
describe_variable(std::span<const std::byte> data) {
  const auto var = parse_uefi_variable_data(data);
  return var.name;
}

std::string
describe_image_load(std::span<const std::byte> data) {
  ByteReader r(data, "image load event");
  r.skip(24, "location, length and link address");
  const std::uint64_t dp_size = r.u64("device path length");
  if (dp_size > r.remaining()) {
    return {};
  }
  return device_path_to_text(r.bytes(static_cast<std::size_t>(dp_size), "device path"));
}

std::string
describe_tagged(std::span<const std::byte> data) {
  ByteReader r(data, "tagged event");
  const std::uint32_t id = r.u32("taggedEventID");
  const std::uint32_t size = r.u32("taggedEventDataSize");
  if (size > r.remaining()) {
    return fmt::format("tag {:#x}", id);
  }
  return ascii_or_empty(r.bytes(size, "taggedEventData"));
}

// EV_EFI_HANDOFF_TABLES2 and EV_EFI_PLATFORM_FIRMWARE_BLOB2 start with a
// length-prefixed description.
std::string
describe_counted(std::span<const std::byte> data) {
  ByteReader r(data, "event");
  const std::uint8_t size = r.u8("description size");
  if (size > r.remaining()) {
    return {};
  }
  return ascii_or_empty(r.bytes(size, "description"));
}

} // namespace

std::string
event_type_name(std::uint32_t type) {
  for (const auto &entry : k_type_names) {
    if (entry.type == type) {
      return std::string(entry.name);
    }
  }
  return fmt::format("EV_UNKNOWN_{:#x}", type);
}

std::string
algorithm_name(std::uint16_t algorithm) {
  switch (algorithm) {
  case k_alg_sha1:
    return "SHA-1";
  case k_alg_sha256:
    return "SHA-256";
  case k_alg_sha384:
    return "SHA-384";
  case k_alg_sha512:
    return "SHA-512";
  case k_alg_sm3_256:
    return "SM3-256";
  default:
    return fmt::format("alg-{:#06x}", algorithm);
  }
}

const std::vector<std::byte> *
Event::digest(std::uint16_t algorithm) const noexcept {
  for (const auto &d : digests) {
    if (d.algorithm == algorithm) {
      return &d.digest;
    }
  }
  return nullptr;
}

EventLog
parse_event_log(std::span<const std::byte> data) {
  EventLog log;
  ByteReader r(data, k_what);

  // First record: legacy TCG_PCClientPCREvent carrying the Spec ID event. Its
  // PCRIndex is 0 in TPM logs but 1 in some TDVF logs; EV_NO_ACTION never
  // extends, so accept any index here.
  Event first;
  first.offset = r.offset();
  first.mr_index = r.u32("first record PCRIndex");
  first.type = r.u32("first record EventType");
  if (first.type != event_type::k_no_action) {
    r.fail("first record EventType",
           fmt::format("expected EV_NO_ACTION (3) carrying the Spec ID event, found {:#x}", first.type));
  }
  const auto legacy_digest = r.bytes(k_legacy_digest_size, "first record SHA-1 digest");
  first.digests.push_back({k_alg_sha1, {legacy_digest.begin(), legacy_digest.end()}});
  const std::uint32_t first_size = r.u32("first record EventSize");
  const std::size_t spec_offset = r.offset();
  const auto spec_bytes = r.bytes(first_size, "Spec ID event data");
  first.data.assign(spec_bytes.begin(), spec_bytes.end());
  ByteReader spec(spec_bytes, k_what, spec_offset);
  parse_spec_id(spec, log);
  log.events.push_back(std::move(first));

  while (r.remaining() >= 8) {
    const std::size_t record_offset = r.offset();
    const std::uint32_t mr_index = r.u32("MrIndex");
    const std::uint32_t type = r.u32("EventType");
    if (mr_index == k_end_marker || (mr_index == 0 && type == 0)) {
      // End marker or zero padding: the rest of the area is unused.
      r.seek(record_offset, "end of log");
      break;
    }
    Event event;
    event.offset = record_offset;
    event.sequence = log.events.size();
    event.mr_index = mr_index;
    event.type = type;
    const std::uint32_t count = r.u32("digest count");
    if (count > log.algorithms.size()) {
      r.fail("digest count",
             fmt::format("record at {:#x} has {} digests but the Spec ID event declares {} "
                         "algorithms",
                         record_offset,
                         count,
                         log.algorithms.size()));
    }
    for (std::uint32_t i = 0; i < count; ++i) {
      EventDigest d;
      d.algorithm = r.u16("digest algorithm");
      const auto size = digest_size_of(log, d.algorithm, r);
      const auto bytes = r.bytes(size, "digest");
      d.digest.assign(bytes.begin(), bytes.end());
      event.digests.push_back(std::move(d));
    }
    const std::uint32_t size = r.u32("EventSize");
    if (size > k_max_event_size) {
      r.fail("EventSize", fmt::format("{} bytes is implausibly large", size));
    }
    const auto payload = r.bytes(size, "event data");
    event.data.assign(payload.begin(), payload.end());
    log.events.push_back(std::move(event));
  }
  log.end_offset = r.offset();
  return log;
}

std::vector<std::byte>
trim_ccel(std::span<const std::byte> data) {
  const std::size_t end = parse_event_log(data).end_offset;
  if (data.size() - end < 8) {
    throw Error(ErrorKind::input,
                "{}: no end-of-log marker after the last record (offset {:#x} of {} bytes)",
                k_what,
                end,
                data.size());
  }
  const auto records = data.first(end);
  return {records.begin(), records.end()};
}

std::string
describe_event(const Event &event) {
  const std::span<const std::byte> data(event.data);
  try {
    switch (event.type) {
    case event_type::k_efi_variable_driver_config:
    case event_type::k_efi_variable_boot:
    case event_type::k_efi_variable_boot2:
    case event_type::k_efi_variable_authority:
      return describe_variable(data);
    case event_type::k_efi_boot_services_application:
    case event_type::k_efi_boot_services_driver:
    case event_type::k_efi_runtime_services_driver:
      return describe_image_load(data);
    case event_type::k_event_tag:
      return describe_tagged(data);
    case event_type::k_efi_handoff_tables2:
    case event_type::k_efi_platform_firmware_blob2:
      return describe_counted(data);
    case event_type::k_no_action:
      if (data.size() >= 16) {
        return ascii_or_empty(data.first(16));
      }
      return {};
    case event_type::k_platform_config_flags:
      if (data.size() > 12 && ascii_or_empty(data.first(12)) == "QEMU FW CFG") {
        return "QEMU FW CFG " + ascii_or_empty(data.subspan(12));
      }
      return ascii_or_empty(data);
    default:
      return ascii_or_utf16_or_empty(data);
    }
  } catch (const Error &) {
    // The payload is descriptive only; a malformed one is reported as such.
    return "(malformed event data)";
  }
}

} // namespace cvm::measure
