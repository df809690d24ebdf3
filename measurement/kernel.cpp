// SPDX-License-Identifier: Apache-2.0
#include "measurement/kernel.hpp"

#include "lib/util/error.hpp"
#include "measurement/byte_reader.hpp"

#include <charconv>

namespace cvm::measure {

namespace {

constexpr std::string_view k_what = "kernel";
constexpr std::uint64_t k_acpi_data_size = 0x28000; // QEMU q35 ACPI reservation
constexpr std::uint32_t k_real_addr = 0x10000;
constexpr std::uint32_t k_cmdline_addr = 0x20000;
constexpr std::uint16_t k_xlf_can_be_loaded_above_4g = 0x2;
constexpr std::uint8_t k_loaded_high = 0x01;
constexpr std::uint8_t k_can_use_heap = 0x80;

void
put_le(std::vector<std::byte> &image, std::size_t offset, std::uint64_t value, std::size_t width) {
  for (std::size_t i = 0; i < width; ++i) {
    image.at(offset + i) = static_cast<std::byte>((value >> (8U * i)) & 0xffU);
  }
}

// QEMU's vga= parsing: normal/ext/ask or a number (any base strtol accepts).
std::optional<std::uint16_t>
vga_mode(const std::string &cmdline) {
  const auto at = cmdline.find("vga=");
  if (at == std::string::npos) {
    return std::nullopt;
  }
  const std::string value = cmdline.substr(at + 4, cmdline.find(' ', at) - (at + 4));
  if (value.starts_with("normal")) {
    return 0xffff;
  }
  if (value.starts_with("ext")) {
    return 0xfffe;
  }
  if (value.starts_with("ask")) {
    return 0xfffd;
  }
  const char *first = value.data();
  const char *last = value.data() + value.size();
  int base = 10;
  if (value.starts_with("0x") || value.starts_with("0X")) {
    first += 2;
    base = 16;
  } else if (value.size() > 1 && value.front() == '0') {
    base = 8;
  }
  long mode = 0;
  std::from_chars(first, last, mode, base);
  return static_cast<std::uint16_t>(mode);
}

} // namespace

std::uint64_t
q35_below_4g_memory(std::uint64_t memory_bytes) noexcept {
  const std::uint64_t lowmem = memory_bytes >= 0xb0000000 ? 0x80000000 : 0xb0000000;
  return memory_bytes < lowmem ? memory_bytes : lowmem;
}

BzImageInfo
parse_bzimage(std::span<const std::byte> image) {
  ByteReader r(image, k_what);
  r.seek(0x202, "setup header magic");
  if (r.u32("setup header magic") != 0x53726448) {
    throw Error(
        ErrorKind::input, "{}: offset 0x202: expected setup header magic \"HdrS\"; not a bzImage", k_what);
  }
  BzImageInfo info;
  info.protocol = r.u16("boot protocol version");
  r.seek(0x20e, "kernel_version");
  const std::uint16_t version_ptr = r.u16("kernel_version");
  r.seek(0x211, "loadflags");
  info.loadflags = r.u8("loadflags");
  if (info.protocol >= 0x203) {
    r.seek(0x22c, "initrd_addr_max");
    info.initrd_addr_max = r.u32("initrd_addr_max");
  }
  if (info.protocol >= 0x20c) {
    r.seek(0x236, "xloadflags");
    info.xloadflags = r.u16("xloadflags");
  }
  if (version_ptr != 0 && std::size_t{version_ptr} + 0x200 < image.size()) {
    for (std::size_t i = version_ptr + 0x200U; i < image.size() && i < version_ptr + 0x200U + 256U; ++i) {
      const auto c = static_cast<unsigned char>(image[i]);
      if (c == 0 || c < 0x20 || c >= 0x7f) {
        break;
      }
      info.version_string.push_back(static_cast<char>(c));
    }
    int major = 0;
    int minor = 0;
    const char *p = info.version_string.data();
    const char *end = p + info.version_string.size();
    auto res = std::from_chars(p, end, major);
    if (res.ec == std::errc{} && res.ptr < end && *res.ptr == '.') {
      res = std::from_chars(res.ptr + 1, end, minor);
      if (res.ec == std::errc{}) {
        info.version = std::make_pair(major, minor);
      }
    }
  }
  return info;
}

std::vector<std::byte>
qemu_patch_kernel(std::span<const std::byte> image, const QemuKernelPatch &patch) {
  const BzImageInfo info = parse_bzimage(image);
  if (info.protocol < 0x202 || (info.loadflags & k_loaded_high) == 0) {
    throw Error(ErrorKind::input,
                "{}: boot protocol {:#x} with loadflags {:#x}: QEMU's TDX path needs protocol >= "
                "0x202 and a kernel loaded high",
                k_what,
                info.protocol,
                info.loadflags);
  }
  std::vector<std::byte> out(image.begin(), image.end());
  // x86_load_linux(): protocol >= 0x202 and LOADED_HIGH → real_addr 0x10000,
  // cmdline_addr 0x20000.
  put_le(out, 0x228, k_cmdline_addr, 4);
  put_le(out, 0x210, 0xb0, 1);
  put_le(out, 0x211, info.loadflags | k_can_use_heap, 1);
  put_le(out, 0x224, k_cmdline_addr - k_real_addr - 0x200, 2);
  if (const auto vga = vga_mode(patch.cmdline)) {
    put_le(out, 0x1fa, *vga, 2);
  }
  if (patch.initrd_size) {
    std::uint64_t initrd_max = 0;
    if (info.protocol >= 0x20c && (info.xloadflags & k_xlf_can_be_loaded_above_4g) != 0) {
      initrd_max = 0xffffffff;
    } else if (info.protocol >= 0x203) {
      initrd_max = info.initrd_addr_max;
    } else {
      initrd_max = 0x37ffffff;
    }
    if (patch.below_4g_memory <= k_acpi_data_size) {
      throw Error(ErrorKind::input, "{} bytes of low memory cannot hold an initrd", patch.below_4g_memory);
    }
    if (initrd_max >= patch.below_4g_memory - k_acpi_data_size) {
      initrd_max = patch.below_4g_memory - k_acpi_data_size - 1;
    }
    if (*patch.initrd_size > initrd_max) {
      throw Error(ErrorKind::input,
                  "initrd of {} bytes does not fit below {:#x}; QEMU would refuse it",
                  *patch.initrd_size,
                  initrd_max);
    }
    const std::uint64_t initrd_addr = (initrd_max - *patch.initrd_size) & ~std::uint64_t{4095};
    put_le(out, 0x218, initrd_addr, 4);
    put_le(out, 0x21c, *patch.initrd_size, 4);
  }
  return out;
}

} // namespace cvm::measure
