// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/hex.hpp"
#include "measurement/eventlog.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Helpers shared by the measurement tests: where the conformance data lives
// (read at run time, never copied into the repository) and byte builders.
namespace cvm::measure::test {

// $CVM_CONFORMANCE_DIR/tdx if it exists. Without the variable (a test binary
// run by hand), the conformance data's documented place beside the checkout,
// <repository>/../shared/conformance, derived from this file's location.
inline std::optional<std::filesystem::path>
conformance_dir() {
  const char *env = std::getenv("CVM_CONFORMANCE_DIR");
  std::filesystem::path root;
  if (env != nullptr && *env != '\0') {
    root = env;
  } else {
    // tests/unit/measurement/test_support.hpp -> repository root
    const auto repo = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().parent_path();
    root = repo.parent_path() / "shared" / "conformance";
  }
  std::filesystem::path dir = root / "tdx";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return std::nullopt;
  }
  return dir;
}

inline nlohmann::json
read_json(const std::filesystem::path &path) {
  return nlohmann::json::parse(cvm::fs::read_text(path));
}

inline std::vector<std::byte>
bytes_of_hex(const std::string &hex) {
  auto b = cvm::from_hex(hex);
  EXPECT_TRUE(b.has_value()) << hex;
  return b.value_or(std::vector<std::byte>{});
}

// Writes `value` little-endian into `out` at `offset` (which must fit).
inline void
put_at(std::vector<std::byte> &out, std::size_t offset, std::uint64_t value, std::size_t width) {
  for (std::size_t i = 0; i < width; ++i) {
    out.at(offset + i) = static_cast<std::byte>((value >> (8U * i)) & 0xffU);
  }
}

inline void
put_le(std::vector<std::byte> &out, std::uint64_t value, std::size_t width) {
  for (std::size_t i = 0; i < width; ++i) {
    out.push_back(static_cast<std::byte>((value >> (8U * i)) & 0xffU));
  }
}

inline void
put_string(std::vector<std::byte> &out, std::string_view s) {
  for (const char c : s) {
    out.push_back(static_cast<std::byte>(c));
  }
}

// The first record of a crypto-agile event log, logged for MR/PCR `index`:
// EV_NO_ACTION with a TCG_EfiSpecIDEvent ("Spec ID Event03", spec 2.0 errata
// 0, UINTN of 8 bytes, no vendor info) declaring `algorithms` (SHA-384 as 48
// bytes, any other as 32).
inline void
put_spec_id_event(std::vector<std::byte> &out,
                  std::uint32_t index,
                  const std::vector<std::uint16_t> &algorithms) {
  put_le(out, index, 4);
  put_le(out, event_type::k_no_action, 4);
  out.resize(out.size() + 20);
  std::vector<std::byte> spec;
  put_string(spec, "Spec ID Event03");
  spec.push_back(std::byte{0});
  put_le(spec, 0, 4);
  put_le(spec, 0, 1);
  put_le(spec, 2, 1);
  put_le(spec, 0, 1);
  put_le(spec, 2, 1);
  put_le(spec, algorithms.size(), 4);
  for (const auto alg : algorithms) {
    put_le(spec, alg, 2);
    put_le(spec, alg == k_alg_sha384 ? 48 : 32, 2);
  }
  put_le(spec, 0, 1);
  put_le(out, spec.size(), 4);
  out.insert(out.end(), spec.begin(), spec.end());
}

// Runs `f`, which must throw cvm::Error of `kind` with `needle` in its
// message (any message if `needle` is empty).
template<typename F>
void
expect_error(F &&f, ErrorKind kind, std::string_view needle = {}) {
  try {
    std::forward<F>(f)();
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_NE(std::string_view(e.what()).find(needle), std::string_view::npos) << e.what();
    return;
  }
  ADD_FAILURE() << "expected cvm::Error" << (needle.empty() ? "" : " containing: ") << needle;
}

// Runs `f` on untrusted bytes: it may succeed, and if it fails, it fails
// with cvm::Error(input) (never another error, never a crash).
template<typename F>
void
expect_success_or_input_error(F &&f) {
  try {
    std::forward<F>(f)();
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::input) << e.what();
  }
}

// Deterministic pseudo-random bytes for corruption tests.
class Lcg {
public:
  explicit Lcg(std::uint64_t seed)
    : m_state(seed) {}
  std::uint64_t
  next() {
    m_state = m_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return m_state >> 33U;
  }

private:
  std::uint64_t m_state;
};

// Calls `check` with every prefix of `bytes`, then with 5000 copies that
// have 1 to 4 bytes overwritten at random (deterministic from `seed`).
template<typename Check>
void
for_each_truncation_and_corruption(const std::vector<std::byte> &bytes, std::uint64_t seed, Check check) {
  for (std::size_t len = 0; len <= bytes.size(); ++len) {
    check(std::span(bytes).first(len));
  }
  Lcg rng(seed);
  for (int round = 0; round < 5000; ++round) {
    auto bad = bytes;
    const auto flips = 1 + rng.next() % 4;
    for (std::uint64_t i = 0; i < flips; ++i) {
      bad[rng.next() % bad.size()] = static_cast<std::byte>(rng.next() & 0xffU);
    }
    check(std::span<const std::byte>(bad));
  }
}

} // namespace cvm::measure::test

#define CVM_REQUIRE_CONFORMANCE(var)                                                                         \
  const auto var##_opt = ::cvm::measure::test::conformance_dir();                                            \
  if (!var##_opt) {                                                                                          \
    GTEST_SKIP() << "skipped: conformance data not found ($CVM_CONFORMANCE_DIR/tdx)";                        \
  }                                                                                                          \
  const std::filesystem::path var = *var##_opt
