// SPDX-License-Identifier: Apache-2.0
// Truncated and corrupted inputs for the smaller parsers: each gives a
// cvm::Error(input) or a result, never a crash (CI runs these under ASan/UBSan).
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "measurement/gpt.hpp"
#include "measurement/kernel.hpp"
#include "measurement/pe.hpp"
#include "measurement/pe_signature.hpp"
#include "measurement/uefi.hpp"
#include "tests/unit/measurement/test_support.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace cvm::measure {
namespace {

template<typename F>
void
expect_input_error_or_result(F &&f) {
  try {
    f();
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::input) << e.what();
  }
}

std::vector<std::byte>
make_gpt_disk() {
  std::vector<std::byte> disk(34 * 512);
  const auto put = [&](std::size_t at, std::uint64_t v, std::size_t w) {
    for (std::size_t i = 0; i < w; ++i) {
      disk[at + i] = static_cast<std::byte>((v >> (8U * i)) & 0xffU);
    }
  };
  put(512, 0x5452415020494645ULL, 8);
  put(512 + 72, 2, 8);
  put(512 + 80, 128, 4);
  put(512 + 84, 128, 4);
  for (std::size_t e = 0; e < 3; ++e) {
    put(1024 + e * 128, 0x1234 + e, 8); // non-zero type GUID
  }
  return disk;
}

TEST(GptRobustness, TruncatedAndCorrupted) {
  const auto disk = make_gpt_disk();
  const auto good = gpt_event_data(disk);
  EXPECT_EQ(good.size(), 92U + 8U + 3U * 128U);
  for (std::size_t len = 0; len < disk.size(); len += 61) {
    expect_input_error_or_result([&] { (void)gpt_event_data(std::span(disk).first(len)); });
  }
  test::Lcg rng(7);
  for (int round = 0; round < 2000; ++round) {
    auto bad = disk;
    bad[512 + rng.next() % 92] = static_cast<std::byte>(rng.next() & 0xff);
    expect_input_error_or_result([&] { (void)gpt_event_data(bad); });
  }
}

TEST(KernelRobustness, TruncatedAndCorruptedSetupHeader) {
  std::vector<std::byte> img(0x1000);
  img[0x202] = std::byte{'H'};
  img[0x203] = std::byte{'d'};
  img[0x204] = std::byte{'r'};
  img[0x205] = std::byte{'S'};
  img[0x206] = std::byte{0x0f};
  img[0x207] = std::byte{0x02};
  img[0x211] = std::byte{0x01};
  test::Lcg rng(8);
  for (int round = 0; round < 3000; ++round) {
    auto bad = img;
    for (int i = 0; i < 3; ++i) {
      bad[0x1f0 + rng.next() % 0x70] = static_cast<std::byte>(rng.next() & 0xff);
    }
    bad.resize(rng.next() % bad.size());
    expect_input_error_or_result([&] {
      QemuKernelPatch patch;
      patch.below_4g_memory = rng.next() % 0x100000000ULL;
      patch.initrd_size = rng.next() % 0x10000000ULL;
      patch.cmdline = "vga=" + std::to_string(rng.next());
      (void)parse_bzimage(bad);
      (void)qemu_patch_kernel(bad, patch);
    });
  }
}

TEST(UefiRobustness, VariableDataAndDevicePaths) {
  const auto var = encode_uefi_variable_data(
      k_efi_global_variable_guid, "BootOrder", std::vector<std::byte>(6, std::byte{1}));
  const auto parsed = parse_uefi_variable_data(var);
  EXPECT_EQ(parsed.name, "BootOrder");
  EXPECT_EQ(parsed.data.size(), 6U);
  test::Lcg rng(9);
  for (int round = 0; round < 3000; ++round) {
    auto bad = var;
    bad[rng.next() % bad.size()] = static_cast<std::byte>(rng.next() & 0xff);
    bad.resize(rng.next() % (bad.size() + 1));
    expect_input_error_or_result([&] { (void)parse_uefi_variable_data(bad); });
    // Device-path rendering never throws.
    (void)device_path_to_text(bad);
  }
  EXPECT_THROW(parse_guid("not-a-guid"), Error);
}

TEST(PeSignatureRobustness, CorruptedSignatureOfRealShim) {
  const std::filesystem::path shim = "/usr/lib/shim/shimx64.efi.signed";
  if (!std::filesystem::exists(shim)) {
    GTEST_SKIP() << "skipped: shim-signed is not installed";
  }
  const auto img = fs::read_file(shim);
  const auto pe = parse_pe(img);
  ASSERT_GT(pe.certificate_table_size, 64U);
  test::Lcg rng(11);
  for (int round = 0; round < 400; ++round) {
    auto bad = img;
    const auto flips = 1 + rng.next() % 4;
    for (std::uint64_t i = 0; i < flips; ++i) {
      // Mostly within the first DER headers, where structure lives.
      const auto span = rng.next() % 2 == 0 ? 64U : pe.certificate_table_size;
      bad[pe.certificate_table_offset + rng.next() % span] = static_cast<std::byte>(rng.next() & 0xff);
    }
    expect_input_error_or_result([&] { (void)embedded_authenticode_digests(bad); });
  }
}

} // namespace
} // namespace cvm::measure
