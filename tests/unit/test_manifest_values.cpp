// SPDX-License-Identifier: Apache-2.0
#include "lib/manifest/values.hpp"

#include <gtest/gtest.h>

#include <map>

namespace v = cvm::manifest::values;

TEST(ManifestValues, SizesUseBinaryUnits) {
  EXPECT_EQ(v::parse_size("4096"), 4096U);
  EXPECT_EQ(v::parse_size("512K"), 512U << 10U);
  EXPECT_EQ(v::parse_size("256M"), 256U << 20U);
  EXPECT_EQ(v::parse_size("256MiB"), 256U << 20U);
  EXPECT_EQ(v::parse_size("2G"), 2ULL << 30U);
  EXPECT_EQ(v::parse_size("2g"), 2ULL << 30U);
  EXPECT_EQ(v::parse_size("1T"), 1ULL << 40U);
}

TEST(ManifestValues, SizesRejectGarbageAndOverflow) {
  for (const char *bad :
       {"", "M", "-1", "1.5G", "12X", "1 G", "1GB", "0x10", "99999999999999999999", "20000000T"}) {
    EXPECT_FALSE(v::parse_size(bad).has_value()) << bad;
  }
}

TEST(ManifestValues, FormatSizeRoundTrips) {
  EXPECT_EQ(v::format_size(256ULL << 20U), "256M");
  EXPECT_EQ(v::format_size(3ULL << 30U), "3G");
  EXPECT_EQ(v::format_size(1000), "1000");
  for (std::uint64_t s : {1ULL << 20U, 5ULL << 30U, 12345ULL}) {
    EXPECT_EQ(v::parse_size(v::format_size(s)), s);
  }
}

TEST(ManifestValues, Percent) {
  EXPECT_EQ(v::parse_percent("20%"), 20U);
  EXPECT_EQ(v::parse_percent("0%"), 0U);
  EXPECT_FALSE(v::parse_percent("20").has_value());
  EXPECT_FALSE(v::parse_percent("%").has_value());
  EXPECT_FALSE(v::parse_percent("-5%").has_value());
}

TEST(ManifestValues, Integers) {
  EXPECT_EQ(v::parse_uint("0"), 0U);
  EXPECT_EQ(v::parse_uint("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(v::parse_uint("18446744073709551616").has_value());
  EXPECT_FALSE(v::parse_uint("+1").has_value());
  EXPECT_FALSE(v::parse_uint("1e3").has_value());
  EXPECT_EQ(v::parse_int("-5"), -5);
}

TEST(ManifestValues, OctalModes) {
  EXPECT_EQ(v::parse_mode("0644"), 0644U);
  EXPECT_EQ(v::parse_mode("644"), 0644U);
  EXPECT_EQ(v::parse_mode("0o600"), 0600U);
  EXPECT_EQ(v::parse_mode("4755"), 04755U);
  EXPECT_FALSE(v::parse_mode("0888").has_value());
  EXPECT_FALSE(v::parse_mode("17777").has_value());
  EXPECT_FALSE(v::parse_mode("").has_value());
}

TEST(ManifestValues, EnvExpansion) {
  const std::map<std::string, std::string> env{{"IMAGES", "/srv/images"}, {"EMPTY", ""}};
  auto lookup = [&](const std::string &n) -> std::optional<std::string> {
    auto it = env.find(n);
    return it == env.end() ? std::nullopt : std::optional(it->second);
  };
  std::string err;
  EXPECT_EQ(v::expand_env("${IMAGES}/a.qcow2", lookup, err), "/srv/images/a.qcow2");
  EXPECT_EQ(v::expand_env("${NOPE:-/tmp}/x", lookup, err), "/tmp/x");
  EXPECT_EQ(v::expand_env("${EMPTY:-d}", lookup, err), "d");
  EXPECT_EQ(v::expand_env("cost$$5", lookup, err), "cost$5");
  EXPECT_EQ(v::expand_env("plain", lookup, err), "plain");

  EXPECT_FALSE(v::expand_env("${NOPE}/x", lookup, err).has_value());
  EXPECT_EQ(err, "environment variable NOPE is not set");
  EXPECT_FALSE(v::expand_env("$HOME", lookup, err).has_value());
  EXPECT_FALSE(v::expand_env("${UNCLOSED", lookup, err).has_value());
  EXPECT_FALSE(v::expand_env("${1BAD}", lookup, err).has_value());
}

TEST(ManifestValues, DidYouMean) {
  EXPECT_EQ(v::edit_distance("cipher", "cypher"), 1U);
  EXPECT_EQ(v::edit_distance("", "abc"), 3U);
  EXPECT_EQ(v::closest("cyper", {"cipher", "key_size", "label"}), "cipher");
  EXPECT_EQ(v::closest("sector_sise", {"cipher", "sector_size"}), "sector_size");
  EXPECT_FALSE(v::closest("zzzzzz", {"cipher", "label"}).has_value());
}

TEST(ManifestValues, HumanSize) {
  EXPECT_EQ(v::human_size(512), "512 B");
  EXPECT_EQ(v::human_size(1536), "1.5 KiB");
  EXPECT_EQ(v::human_size(438525952), "418.2 MiB");
  EXPECT_EQ(v::human_size(3ULL << 30U), "3.0 GiB");
}
