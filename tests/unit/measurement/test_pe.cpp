// SPDX-License-Identifier: Apache-2.0
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/hex.hpp"
#include "measurement/pe.hpp"
#include "measurement/pe_signature.hpp"
#include "tests/unit/measurement/test_support.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace cvm::measure {
namespace {

using test::put_at;

constexpr std::size_t k_pe = 0x80;
constexpr std::size_t k_opt = k_pe + 24;
constexpr std::size_t k_checksum = k_opt + 64;
constexpr std::size_t k_security_entry = k_opt + 112 + 8 * 4;
constexpr std::size_t k_headers = 0x400;

// A PE32+ image with two sections whose raw data is stored in reverse order,
// trailing data, and (optionally) a certificate table of `cert_size` bytes.
std::vector<std::byte>
make_pe(std::size_t cert_size) {
  std::vector<std::byte> img(0x1440 + cert_size);
  for (std::size_t i = 0; i < img.size(); ++i) {
    img[i] = static_cast<std::byte>((i * 31 + 7) & 0xffU);
  }
  put_at(img, 0, 0x5a4d, 2);
  put_at(img, 0x3c, k_pe, 4);
  put_at(img, k_pe, 0x00004550, 4);
  put_at(img, k_pe + 4, 0x8664, 2);
  put_at(img, k_pe + 6, 2, 2);
  put_at(img, k_pe + 20, 240, 2);
  put_at(img, k_opt, 0x20b, 2);
  put_at(img, k_opt + 60, k_headers, 4);
  put_at(img, k_opt + 108, 16, 4);
  put_at(img, k_security_entry, cert_size == 0 ? 0 : 0x1440, 4);
  put_at(img, k_security_entry + 4, cert_size, 4);
  const std::size_t sh = k_opt + 240;
  // Section 0 (".text") stored after section 1 (".data").
  put_at(img, sh + 16, 0x800, 4);
  put_at(img, sh + 20, 0xc00, 4);
  put_at(img, sh + 40 + 16, 0x800, 4);
  put_at(img, sh + 40 + 20, 0x400, 4);
  return img;
}

std::string
manual_digest(const std::vector<std::byte> &img, std::size_t cert_size) {
  crypto::Hasher h(crypto::HashAlgorithm::sha256);
  const std::span<const std::byte> s(img);
  h.update(s.subspan(0, k_checksum));
  h.update(s.subspan(k_checksum + 4, k_security_entry - k_checksum - 4));
  h.update(s.subspan(k_security_entry + 8, k_headers - k_security_entry - 8));
  h.update(s.subspan(0x400, 0x800));
  h.update(s.subspan(0xc00, 0x800));
  h.update(s.subspan(0x1400, img.size() - 0x1400 - cert_size));
  return to_hex(h.final());
}

TEST(Pe, AuthenticodeSkipsChecksumAndCertificateEntryAndSortsSections) {
  for (const std::size_t cert : {std::size_t{0}, std::size_t{0x40}}) {
    const auto img = make_pe(cert);
    const auto pe = parse_pe(img);
    EXPECT_TRUE(pe.pe32_plus);
    EXPECT_EQ(pe.checksum_offset, k_checksum);
    EXPECT_EQ(pe.security_entry_offset, k_security_entry);
    ASSERT_EQ(pe.sections.size(), 2U);
    EXPECT_EQ(to_hex(authenticode_sha256(img)), manual_digest(img, cert));
  }
}

TEST(Pe, ChecksumAndCertificateEntryDoNotChangeTheDigest) {
  auto img = make_pe(0);
  const auto before = authenticode_sha384(img);
  put_at(img, k_checksum, 0x12345678, 4);
  EXPECT_EQ(authenticode_sha384(img), before);
  img[0x500] ^= std::byte{1};
  EXPECT_NE(authenticode_sha384(img), before);
}

TEST(Pe, RejectsFileShorterThanSectionsPlusCertificateTable) {
  auto img = make_pe(0x40);
  put_at(img, k_security_entry + 4, 0x4000, 4);
  EXPECT_THROW(authenticode_sha384(img), Error);
}

TEST(Pe, RejectsNonPe) {
  std::vector<std::byte> junk(4096, std::byte{0x41});
  EXPECT_THROW(parse_pe(junk), Error);
}

TEST(PeRobustness, TruncatedAndCorruptedImagesAreInputErrors) {
  const auto img = make_pe(0x40);
  for (std::size_t len = 0; len < img.size(); len += 7) {
    try {
      (void)authenticode_sha384(std::span(img).first(len));
      (void)embedded_authenticode_digests(std::span(img).first(len));
    } catch (const Error &e) {
      EXPECT_EQ(e.kind(), ErrorKind::input);
    }
  }
  test::Lcg rng(3);
  for (int round = 0; round < 3000; ++round) {
    auto bad = img;
    const auto flips = 1 + rng.next() % 4;
    for (std::uint64_t i = 0; i < flips; ++i) {
      bad[rng.next() % k_headers] = static_cast<std::byte>(rng.next() & 0xff);
    }
    try {
      (void)authenticode_sha384(bad);
      (void)embedded_authenticode_digests(bad);
    } catch (const Error &e) {
      EXPECT_EQ(e.kind(), ErrorKind::input);
    }
  }
}

std::optional<std::filesystem::path>
debian_kernel(const nlohmann::json &vector) {
  const std::string file = vector["file"].get<std::string>();
  const auto slash = file.rfind("/boot/");
  if (slash == std::string::npos) {
    return std::nullopt;
  }
  return std::filesystem::path(file.substr(slash));
}

// Conformance (T12): the Debian kernel's Authenticode SHA-256 and SHA-384.
TEST(PeConformance, DebianKernelAuthenticodeDigests) {
  CVM_REQUIRE_CONFORMANCE(dir);
  const auto expected = test::read_json(dir / "expected.json");
  const auto &vector = expected["authenticode"][0];
  const auto path = debian_kernel(vector);
  if (!path || !std::filesystem::exists(*path)) {
    GTEST_SKIP() << "skipped: the kernel named in expected.json is not installed ("
                 << vector["file"].get<std::string>() << ")";
  }
  const auto img = fs::read_file(*path);
  if (to_hex(crypto::sha256(img)) != vector["sha256_of_file"].get<std::string>()) {
    GTEST_SKIP() << "skipped: " << *path << " differs from the version expected.json names";
  }
  EXPECT_EQ(to_hex(authenticode_sha256(img)), vector["authenticode_sha256"].get<std::string>());
  EXPECT_EQ(to_hex(authenticode_sha384(img)), vector["authenticode_sha384"].get<std::string>());
}

std::vector<std::filesystem::path>
signed_debian_pe_files() {
  std::vector<std::filesystem::path> out;
  const auto add_dir =
      [&](const std::filesystem::path &dir, std::string_view prefix, std::string_view suffix) {
        std::error_code ec;
        if (!std::filesystem::is_directory(dir, ec)) {
          return;
        }
        for (const auto &entry : std::filesystem::directory_iterator(dir, ec)) {
          const std::string name = entry.path().filename().string();
          if (entry.is_regular_file() && name.starts_with(prefix) && name.ends_with(suffix)) {
            out.push_back(entry.path());
          }
        }
      };
  add_dir("/boot", "vmlinuz-", "");
  add_dir("/usr/lib/shim", "", ".efi.signed");
  add_dir("/usr/lib/grub/x86_64-efi-signed", "", ".efi.signed");
  std::sort(out.begin(), out.end());
  return out;
}

// Oracle without vectors: every signed PE from Debian packages (kernel,
// shim-signed, grub-efi-amd64-signed) carries in its own signature the
// Authenticode SHA-256 that we compute.
TEST(PeOracle, AuthenticodeSha256EqualsDigestInEmbeddedSignature) {
  const auto files = signed_debian_pe_files();
  if (files.empty()) {
    GTEST_SKIP() << "skipped: no signed PE found (install linux-image-amd64, shim-signed, "
                    "grub-efi-amd64-signed)";
  }
  std::size_t checked = 0;
  for (const auto &path : files) {
    SCOPED_TRACE(path.string());
    const auto img = fs::read_file(path);
    const auto embedded = embedded_authenticode_digests(img);
    if (embedded.empty()) {
      continue; // e.g. an unsigned vmlinuz
    }
    for (const auto &d : embedded) {
      ASSERT_EQ(d.algorithm, "sha256") << "unexpected signature digest algorithm";
      EXPECT_EQ(to_hex(authenticode_sha256(img)), to_hex(d.digest));
      ++checked;
    }
  }
  if (checked == 0) {
    GTEST_SKIP() << "skipped: none of the PE files found carries a signature";
  }
  RecordProperty("signed_pe_checked", static_cast<int>(checked));
}

} // namespace
} // namespace cvm::measure
