// SPDX-License-Identifier: Apache-2.0
#include "lib/pipeline/reproducibility.hpp"

#include "lib/util/error.hpp"

#include <fmt/format.h>

#include <charconv>
#include <string_view>

namespace cvm::pipeline {

std::optional<SourceDateEpoch>
resolve_source_date_epoch(const manifest::Manifest &m, const char *env_value) {
  if (m.reproducibility.source_date_epoch) {
    return SourceDateEpoch{*m.reproducibility.source_date_epoch, "manifest"};
  }
  if (env_value == nullptr || *env_value == '\0') {
    return std::nullopt;
  }
  const std::string_view text(env_value);
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  constexpr std::int64_t k_max = std::int64_t{1} << 53U; // what JSON readers keep exact
  if (ec != std::errc() || end != text.data() + text.size() || v < 0 || v >= k_max) {
    throw Error(
        ErrorKind::input,
        "SOURCE_DATE_EPOCH={:?} in the environment is not a number of seconds since 1970 (unset it, or "
        "set reproducibility.source_date_epoch in the manifest)",
        text.substr(0, 64));
  }
  return SourceDateEpoch{v, "environment"};
}

std::vector<std::string>
boot_tool_argv(std::vector<std::string> argv, const std::optional<SourceDateEpoch> &epoch, BootTool tool) {
  if (!epoch) {
    return argv;
  }
  if (tool == BootTool::dracut && !argv.empty()) {
    argv.insert(argv.begin() + 1, "--reproducible");
  }
  std::vector<std::string> out{"/usr/bin/env", fmt::format("SOURCE_DATE_EPOCH={}", epoch->value)};
  out.insert(out.end(), std::make_move_iterator(argv.begin()), std::make_move_iterator(argv.end()));
  return out;
}

nlohmann::ordered_json
reproducibility_report(const manifest::Manifest &m, const std::optional<SourceDateEpoch> &epoch) {
  const bool seeded = !m.reproducibility.seed.empty();
  nlohmann::ordered_json j;
  j["identifiers"] = seeded ? "derived from reproducibility.seed" : "random";
  j["source_date_epoch"] = epoch ? nlohmann::ordered_json(epoch->value) : nlohmann::ordered_json(nullptr);
  j["source_date_epoch_from"] =
      epoch ? nlohmann::ordered_json(epoch->source) : nlohmann::ordered_json(nullptr);
  auto measured = nlohmann::ordered_json::array();
  if (!seeded) {
    measured.push_back(
        "GPT disk and partition GUIDs are random (set reproducibility.seed): the GPT event differs");
  }
  if (!epoch) {
    measured.push_back(
        "no SOURCE_DATE_EPOCH: the initramfs generator stamps the build's time on the files it "
        "generates (set reproducibility.source_date_epoch)");
  }
  if (m.attestation.enabled) {
    measured.push_back(
        "the initramfs carries the LUKS2 header policy, which pins this build's volume-key digest "
        "(fresh randomness): the initramfs and the registers that measure it differ per build");
  }
  j["measured_differences"] = measured;
  j["other_differences"] = nlohmann::ordered_json::array(
      {"file and inode timestamps of the ext4 /boot and the ESP's FAT directory entries (not measured)",
       "the ext4 directory hash seed and journal of /boot and of the root filesystem (not measured)",
       "the LUKS2 keyslots, volume key and everything encrypted (fresh keys by design)"});
  return j;
}

} // namespace cvm::pipeline
