// SPDX-License-Identifier: Apache-2.0
// Robustness: the parser and checker see attacker-controlled bytes. Random
// (but seeded, so reproducible) damage to the binary headers and the JSON
// must end in a parsed header or a cvm::Error -- never another exception, a
// crash, or (under ASan/UBSan) an out-of-bounds access.
#include "lib/luks/header.hpp"
#include "lib/luks/policy.hpp"
#include "lib/util/error.hpp"
#include "tests/unit/luks/luks_test_util.hpp"

#include <gtest/gtest.h>

#include <random>

namespace cvm::luks {
namespace {

using test::Json;

constexpr int k_rounds = 1500;

test::SyntheticFields
small_fields() {
  test::SyntheticFields f;
  f.keyslots_size = 4096; // keep each round cheap; areas fall outside (a violation, not an error)
  return f;
}

// Parses and, if that works, runs everything the agent would run.
void
exercise(const std::vector<std::byte> &bytes, const Policy &policy, const SecretBytes &vk) {
  try {
    const Header h = Header::parse(bytes);
    (void)check(h, policy);
    (void)derive_policy(h);
    (void)verify_volume_key(h, vk);
  } catch (const Error &) {
    // Rejected cleanly.
  }
}

Json
random_value(std::mt19937 &rng) {
  switch (std::uniform_int_distribution<int>(0, 9)(rng)) {
  case 0:
    return nullptr;
  case 1:
    return -1;
  case 2:
    return 18446744073709551615ULL;
  case 3:
    return 1.5;
  case 4:
    return "18446744073709551616";
  case 5:
    return Json::array({"0", 1, nullptr});
  case 6:
    return Json::object({{"0", Json::object()}});
  case 7:
    return "";
  case 8:
    return "dynamic";
  default:
    return true;
  }
}

// Replaces one randomly chosen value somewhere in `j`.
void
mutate(Json &j, std::mt19937 &rng) {
  Json *node = &j;
  for (int depth = 0; depth < 6; ++depth) {
    if (!node->is_object() && !node->is_array()) {
      break;
    }
    if (node->empty()) {
      break;
    }
    const auto n = static_cast<int>(node->size());
    const int pick = std::uniform_int_distribution<int>(0, n - 1)(rng);
    auto it = node->begin();
    std::advance(it, pick);
    if (std::uniform_int_distribution<int>(0, 3)(rng) == 0) {
      *it = random_value(rng);
      return;
    }
    node = &*it;
  }
  *node = random_value(rng);
}

TEST(LuksHeaderMutation, RandomByteDamageIsRejectedCleanly) {
  const auto vk = test::fixed_secret(64, 0x07);
  const auto f = small_fields();
  const auto good = test::build_header(test::make_metadata(vk, test::Recovery::yes, f), f);
  const Policy policy = derive_policy(Header::parse(good));
  std::mt19937 rng(20261122);
  const std::size_t metadata = 2 * f.hdr_size;
  for (int round = 0; round < k_rounds; ++round) {
    auto bytes = good;
    const int flips = std::uniform_int_distribution<int>(1, 8)(rng);
    for (int i = 0; i < flips; ++i) {
      // Mostly the binary header fields and the start of the JSON text.
      const std::size_t limit = std::uniform_int_distribution<int>(0, 1)(rng) == 0 ? 600 : metadata;
      const auto pos = std::uniform_int_distribution<std::size_t>(0, limit - 1)(rng);
      bytes[pos] = static_cast<std::byte>(std::uniform_int_distribution<int>(0, 255)(rng));
    }
    if (std::uniform_int_distribution<int>(0, 1)(rng) == 0 && test::hdr_size_of(bytes) == f.hdr_size) {
      test::recompute_checksum(bytes, 0);
      test::recompute_checksum(bytes, static_cast<std::size_t>(f.hdr_size));
    }
    if (std::uniform_int_distribution<int>(0, 9)(rng) == 0) {
      bytes.resize(std::uniform_int_distribution<std::size_t>(0, bytes.size())(rng));
    }
    EXPECT_NO_FATAL_FAILURE(exercise(bytes, policy, vk));
  }
}

TEST(LuksHeaderMutation, RandomJsonDamageIsRejectedOrReported) {
  const auto vk = test::fixed_secret(64, 0x07);
  const auto f = small_fields();
  const auto good = test::build_header(test::make_metadata(vk, test::Recovery::yes, f), f);
  const Policy policy = derive_policy(Header::parse(good));
  const Json json = test::get_json(good);
  std::mt19937 rng(4242);
  int rejected_or_reported = 0;
  for (int round = 0; round < k_rounds; ++round) {
    Json j = json;
    mutate(j, rng);
    if (j == json) {
      ++rejected_or_reported; // the mutation happened to change nothing
      continue;
    }
    auto bytes = good;
    test::set_json(bytes, j);
    try {
      const Header h = Header::parse(bytes);
      if (!check(h, policy).empty()) {
        ++rejected_or_reported;
      } else {
        ADD_FAILURE() << "policy accepted a modified header: " << j.dump();
      }
      try {
        (void)derive_policy(h);
      } catch (const Error &) {
        // Fine: derive_policy refuses shapes cvmforge does not write.
      }
    } catch (const Error &) {
      ++rejected_or_reported;
    }
  }
  EXPECT_EQ(rejected_or_reported, k_rounds);
}

} // namespace
} // namespace cvm::luks
