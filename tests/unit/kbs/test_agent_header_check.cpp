// SPDX-License-Identifier: Apache-2.0
// The agent's pre-release LUKS2 header check against crafted headers: only a
// header that complies with the baked-in policy is copied, and the copy is
// exactly the checked bytes.
#include "cmd/agent/header_check.hpp"
#include "lib/luks/policy.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "tests/unit/luks/luks_test_util.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>
#include <functional>

namespace cvm::agent {
namespace {

namespace lt = luks::test;

void
write_bytes(const std::filesystem::path &path, const std::vector<std::byte> &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::byte>
read_bytes(const std::filesystem::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  std::transform(chars.begin(), chars.end(), out.begin(), [](char c) { return static_cast<std::byte>(c); });
  return out;
}

class AgentHeaderCheck : public ::testing::Test {
protected:
  AgentHeaderCheck()
    : m_vk(lt::fixed_secret(64, 0x07))
    , m_bytes(lt::build_header(lt::make_metadata(m_vk, lt::Recovery::yes))) {
    const auto policy = luks::derive_policy(luks::Header::parse(m_bytes));
    std::ofstream(m_dir.path() / "policy.json") << luks::policy_to_json(policy);
    m_target.device = (m_dir.path() / "disk").string();
    m_target.name = "cvmroot";
    m_target.header_policy = m_dir.path() / "policy.json";
    m_target.header_copy = m_dir.path() / "run" / "header.luks2";
  }

  // Writes `bytes` plus some "data" as the device and runs the check.
  void
  run_on(std::vector<std::byte> bytes) {
    bytes.resize(bytes.size() + 8192, std::byte{0x5a});
    write_bytes(m_target.device, bytes);
    check_and_copy_header(m_target);
  }

  std::vector<std::byte>
  edited(const std::function<void(lt::Json &)> &edit) {
    auto bytes = m_bytes;
    auto j = lt::get_json(bytes);
    edit(j);
    lt::set_json(bytes, j);
    return bytes;
  }

  void
  expect_rejected(const std::vector<std::byte> &bytes, const std::string &where) {
    try {
      run_on(bytes);
      ADD_FAILURE() << "header accepted, expected a violation at " << where;
    } catch (const Error &e) {
      EXPECT_EQ(e.kind(), ErrorKind::input);
      EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(m_target.header_copy)) << "no copy of a rejected header";
  }

  fs::TempDir m_dir{"cvm-agent-hdr"};
  SecretBytes m_vk;
  std::vector<std::byte> m_bytes;
  kbs::LuksTarget m_target;
};

TEST_F(AgentHeaderCheck, CompliantHeaderIsCopiedExactlyAndPrivately) {
  run_on(m_bytes);
  const auto copy = read_bytes(m_target.header_copy);
  EXPECT_EQ(copy, m_bytes) << "the copy is the header region, not the data";
  struct stat st {};
  ASSERT_EQ(::stat(m_target.header_copy.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777U, 0600U);
  ASSERT_EQ(::stat(m_target.header_copy.parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777U, 0700U);
  EXPECT_TRUE(luks::verify_volume_key(luks::Header::parse(copy), m_vk));
}

TEST_F(AgentHeaderCheck, RejectsCipherNull) {
  expect_rejected(edited([](lt::Json &j) { j["segments"]["0"]["encryption"] = "cipher_null-ecb"; }),
                  "segments.0.encryption");
}

TEST_F(AgentHeaderCheck, RejectsExtraKeyslot) {
  expect_rejected(edited([](lt::Json &j) {
                    j["keyslots"]["2"] = j["keyslots"]["0"];
                    j["keyslots"]["2"]["area"]["offset"] = std::to_string(32768 + 2 * 258048);
                    j["digests"]["0"]["keyslots"].push_back("2");
                  }),
                  "keyslots.2");
}

TEST_F(AgentHeaderCheck, RejectsToken) {
  expect_rejected(edited([](lt::Json &j) {
                    j["tokens"]["0"] = {{"type", "systemd-tpm2"}, {"keyslots", {"0"}}};
                  }),
                  "tokens.0");
}

TEST_F(AgentHeaderCheck, RejectsHeaderSwappedForAnotherVolumeKey) {
  // A well-formed header of the same shape whose digest belongs to a volume
  // key the host knows: only the pinned digest can tell.
  const auto other_vk = lt::fixed_secret(64, 0x42);
  expect_rejected(lt::build_header(lt::make_metadata(other_vk, lt::Recovery::yes)), "digests");
}

TEST_F(AgentHeaderCheck, RejectsAnExistingCopy) {
  std::filesystem::create_directories(m_target.header_copy.parent_path());
  std::ofstream(m_target.header_copy) << "planted";
  EXPECT_THROW(run_on(m_bytes), Error);
}

TEST_F(AgentHeaderCheck, MissingDeviceOrPolicyIsAnError) {
  try {
    check_and_copy_header(m_target);
    ADD_FAILURE() << "no device";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::io);
  }
  m_target.header_policy = m_dir.path() / "absent.json";
  EXPECT_THROW(run_on(m_bytes), Error);
  m_target.header_policy.reset();
  EXPECT_THROW(run_on(m_bytes), Error);
}

TEST_F(AgentHeaderCheck, ConfigCarriesHeaderCopyPath) {
  const auto config = kbs::parse_agent_config(
      R"({"kbs_urls":["http://10.0.2.100:8080"],"resource":"a/b/c","tee":"sample",)"
      R"("luks":{"device":"/dev/disk/by-uuid/x","name":"cvmroot",)"
      R"("header_policy":"/etc/cvmforge/luks-header-policy.json","header_copy":"/run/cvmforge/h"}})");
  ASSERT_TRUE(config.luks);
  EXPECT_EQ(config.luks->header_copy, "/run/cvmforge/h");
  EXPECT_THROW(
      (void)kbs::parse_agent_config(
          R"({"kbs_urls":["http://x"],"resource":"a/b/c","luks":{"device":"d","name":"n","header_copy":"rel"}})"),
      Error);
}

} // namespace
} // namespace cvm::agent
