// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

// The Linux x86 boot protocol setup header of a bzImage, and the header
// patching QEMU (up to 10.1) applies to a -kernel image before exporting it
// through fw_cfg — the bytes TDVF then measures into RTMR1.
namespace cvm::measure {

struct BzImageInfo {
  std::uint16_t protocol = 0;                 // 0x206
  std::uint8_t loadflags = 0;                 // 0x211
  std::uint32_t initrd_addr_max = 0;          // 0x22c (protocol >= 0x203)
  std::uint16_t xloadflags = 0;               // 0x236 (protocol >= 0x20c)
  std::string version_string;                 // from kernel_version (0x20e), "" if absent
  std::optional<std::pair<int, int>> version; // (major, minor) parsed from version_string
};

// Parses the setup header. Throws cvm::Error(input) if `image` has no "HdrS"
// setup header (not a bzImage).
BzImageInfo parse_bzimage(std::span<const std::byte> image);

struct QemuKernelPatch {
  std::uint64_t below_4g_memory = 0;        // q35: RAM, or 2 GiB above 0xb0000000
  std::optional<std::uint64_t> initrd_size; // -initrd size, if any
  std::string cmdline;                      // -append, consulted for "vga="
};

// A copy of `image` with the setup header fields QEMU <= 10.1 writes in
// x86_load_linux(): type_of_loader, loadflags CAN_USE_HEAP, heap_end_ptr,
// cmd_line_ptr, ramdisk_image/ramdisk_size (with an initrd) and vid_mode (with
// "vga=" on the command line). Throws cvm::Error(input) for kernels QEMU would
// load through another path (protocol < 0x202 or not loaded high).
std::vector<std::byte> qemu_patch_kernel(std::span<const std::byte> image, const QemuKernelPatch &patch);

// below_4g memory of a q35 machine with `memory_bytes` of RAM.
std::uint64_t q35_below_4g_memory(std::uint64_t memory_bytes) noexcept;

} // namespace cvm::measure
