// SPDX-License-Identifier: Apache-2.0
#include "lib/kbs/canonical_json.hpp"
#include "lib/util/error.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace {

using cvm::kbs::canonical_json;
using cvm::kbs::canonical_number;
using nlohmann::json;

double
from_bits(std::uint64_t bits) {
  return std::bit_cast<double>(bits);
}

// RFC 8785 Appendix B (IEEE-754 bit patterns -> ECMAScript form); each
// expected string was also re-checked with Node's JSON.stringify.
TEST(CanonicalJson, Rfc8785AppendixBNumbers) {
  const std::pair<std::uint64_t, const char *> vectors[] = {
      {0x0000000000000000, "0"},
      {0x8000000000000000, "0"},
      {0x0000000000000001, "5e-324"},
      {0x8000000000000001, "-5e-324"},
      {0x7fefffffffffffff, "1.7976931348623157e+308"},
      {0xffefffffffffffff, "-1.7976931348623157e+308"},
      {0x4340000000000000, "9007199254740992"},
      {0xc340000000000000, "-9007199254740992"},
      {0x4430000000000000, "295147905179352830000"},
      {0x44b52d02c7e14af5, "9.999999999999997e+22"},
      {0x44b52d02c7e14af6, "1e+23"},
      {0x44b52d02c7e14af7, "1.0000000000000001e+23"},
      {0x444b1ae4d6e2ef4e, "999999999999999700000"},
      {0x444b1ae4d6e2ef4f, "999999999999999900000"},
      {0x444b1ae4d6e2ef50, "1e+21"},
      {0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
      {0x3eb0c6f7a0b5ed8d, "0.000001"},
      {0x41b3de4355555553, "333333333.3333332"},
      {0x41b3de4355555554, "333333333.33333325"},
      {0x41b3de4355555555, "333333333.3333333"},
      {0x41b3de4355555556, "333333333.3333334"},
      {0x41b3de4355555557, "333333333.33333343"},
      {0xbecbf647612f3696, "-0.0000033333333333333333"},
      {0x43143ff3c1cb0959, "1424953923781206.2"},
  };
  for (const auto &[bits, expected] : vectors) {
    EXPECT_EQ(canonical_number(from_bits(bits)), expected) << std::hex << bits;
  }
}

TEST(CanonicalJson, RejectsNanAndInfinity) {
  EXPECT_THROW(canonical_number(std::numeric_limits<double>::quiet_NaN()), cvm::Error);
  EXPECT_THROW(canonical_number(std::numeric_limits<double>::infinity()), cvm::Error);
  EXPECT_THROW(canonical_json(json(-std::numeric_limits<double>::infinity())), cvm::Error);
}

// RFC 8785 §3.2.2 example: literals, numbers and string escapes.
TEST(CanonicalJson, Rfc8785PrimitivesExample) {
  const json input =
      json::parse(R"({"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],)"
                  R"( "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",)"
                  R"( "literals": [null, true, false]})");
  EXPECT_EQ(canonical_json(input),
            "{\"literals\":[null,true,false],"
            "\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
            "\"string\":\"\xE2\x82\xAC$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

// RFC 8785 §3.2.3: members sorted by UTF-16 code units, not UTF-8 bytes
// (U+1F600 as a surrogate pair sorts before U+FB33).
TEST(CanonicalJson, Rfc8785SortingExample) {
  const json input = json::parse(R"({
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\ud83d\ude00": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis"
  })");
  EXPECT_EQ(canonical_json(input),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xC2\x80\":\"Control\","
            "\"\xC3\xB6\":\"Latin Small Letter O With Diaeresis\",\"\xE2\x82\xAC\":\"Euro Sign\","
            "\"\xF0\x9F\x98\x80\":\"Emoji: Grinning Face\","
            "\"\xEF\xAC\xB3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

TEST(CanonicalJson, ControlCharactersAndIntegers) {
  const json input = {{"b", std::string("\x01\x1f\b\t", 4)}, {"a", -12}, {"c", 18446744073709551615ULL}};
  // Integers become doubles (2^64 - 1 rounds to 2^64), as RFC 8785 requires.
  EXPECT_EQ(canonical_json(input), "{\"a\":-12,\"b\":\"\\u0001\\u001f\\b\\t\",\"c\":18446744073709552000}");
}

TEST(CanonicalJson, RejectsInvalidUtf8AndBinary) {
  EXPECT_THROW(canonical_json(json(std::string("\xC3\x28"))), cvm::Error);
  EXPECT_THROW(canonical_json(json(std::string("\xED\xA0\x80"))), cvm::Error); // surrogate
  EXPECT_THROW(canonical_json(json::binary({1, 2, 3})), cvm::Error);
}

TEST(CanonicalJson, NestedArraysKeepOrder) {
  EXPECT_EQ(canonical_json(json::parse(R"([3, {"z": [], "y": {}}, "x"])")), R"([3,{"y":{},"z":[]},"x"])");
}

} // namespace
