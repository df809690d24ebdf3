// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/crypto/crypto.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

// PE/COFF images (shim, grub, the Linux EFI stub / bzImage) and their
// Authenticode digest exactly as edk2 measures it (TdTcg2Dxe
// MeasureBootPeCoff.c MeasurePeImageAndExtend, "PE/COFF spec 8.0 Appendix A").
namespace cvm::measure {

struct PeSection {
  std::string name;
  std::uint32_t virtual_size = 0;
  std::uint32_t virtual_address = 0;
  std::uint32_t size_of_raw_data = 0;
  std::uint32_t pointer_to_raw_data = 0;
};

struct PeImage {
  std::size_t file_size = 0;
  std::uint32_t pe_header_offset = 0; // e_lfanew
  std::uint16_t machine = 0;
  bool pe32_plus = false; // optional header magic 0x20b
  // OptionalHeader.MajorImageVersion. The Linux EFI stub puts its boot
  // protocol version there (LINUX_EFISTUB_MAJOR_VERSION: 1 since 5.8, when
  // initrd loading through LINUX_INITRD_MEDIA_GUID came); systemd-stub reads it.
  std::uint16_t major_image_version = 0;
  std::size_t checksum_offset = 0; // file offset of OptionalHeader.CheckSum
  std::uint32_t size_of_headers = 0;
  std::uint32_t number_of_rva_and_sizes = 0;
  std::size_t security_entry_offset = 0;      // file offset of DataDirectory[4]; 0 if absent
  std::uint32_t certificate_table_offset = 0; // DataDirectory[4].VirtualAddress (a file offset)
  std::uint32_t certificate_table_size = 0;
  std::vector<PeSection> sections; // in header order
};

// Parses the headers of a PE/COFF image. Throws cvm::Error(input) naming the
// offset for a missing MZ/PE signature, an unknown optional-header magic, or
// headers/section data/certificate table outside the file.
PeImage parse_pe(std::span<const std::byte> image);

// The Authenticode digest of `image` with `algorithm`, following edk2 step by
// step: headers without CheckSum and the certificate directory entry, sections
// sorted by PointerToRawData, then trailing data up to the certificate table.
// No padding is added. Throws cvm::Error(input) where edk2 would refuse to
// measure (file shorter than sections + certificate table).
std::vector<std::byte> authenticode_digest(std::span<const std::byte> image, crypto::HashAlgorithm algorithm);

crypto::Sha384 authenticode_sha384(std::span<const std::byte> image);

crypto::Sha256 authenticode_sha256(std::span<const std::byte> image);

} // namespace cvm::measure
