// SPDX-License-Identifier: Apache-2.0
#pragma once

// Internal to lib/manifest: typed access to a yaml-cpp tree that records every
// problem as a Diagnostic with its file:line:column instead of throwing.

#include "lib/manifest/manifest.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace cvm::manifest::detail {

class Reader {
public:
  Reader(std::string file_name,
         std::filesystem::path base_dir,
         Diagnostics &diagnostics,
         std::map<std::string, Location> &locations,
         const LoadOptions &options)
    : m_file(std::move(file_name))
    , m_base_dir(std::move(base_dir))
    , m_diag(diagnostics)
    , m_locations(locations)
    , m_options(options) {}

  Location location(const YAML::Node &node) const;
  Location location(const YAML::Mark &mark) const;
  Diagnostics &
  diagnostics() {
    return m_diag;
  }
  const LoadOptions &
  options() const {
    return m_options;
  }

  // Checks that `node` is a mapping (null counts as empty) whose keys are all
  // in `keys`; reports unknown keys (with a did-you-mean hint), duplicate and
  // non-scalar keys. Returns false if `node` is not a mapping at all.
  bool expect_map(const YAML::Node &node, const std::string &path, const std::vector<std::string> &keys);

  // The value under `key` (recording its location as `path.key`), or nullopt.
  std::optional<YAML::Node> child(const YAML::Node &map, const std::string &path, const std::string &key);

  // Reports that `path` is required, at `map`'s location.
  void missing(const YAML::Node &map,
               const std::string &path,
               const std::string &key,
               const std::string &hint = {});

  // Scalar readers: return nullopt after reporting a type error.
  std::optional<std::string> string(const YAML::Node &node, const std::string &path);
  std::optional<bool> boolean(const YAML::Node &node, const std::string &path);
  std::optional<std::uint64_t>
  uint(const YAML::Node &node, const std::string &path, std::uint64_t min, std::uint64_t max);
  std::optional<std::uint64_t>
  size(const YAML::Node &node, const std::string &path, std::uint64_t min, std::uint64_t max);
  // One of `allowed`; reports the allowed values otherwise.
  std::optional<std::string>
  choice(const YAML::Node &node, const std::string &path, const std::vector<std::string> &allowed);
  // A path: env-expanded, resolved against the manifest directory; if
  // `must_exist` and file checks are on, it must be a readable regular file.
  std::optional<std::filesystem::path> path(const YAML::Node &node, const std::string &path, bool must_exist);
  // A host directory, resolved like path(); if `must_exist` and file checks
  // are on, it must be a directory that can be read and searched.
  std::optional<std::filesystem::path>
  directory(const YAML::Node &node, const std::string &path, bool must_exist);
  // A string with ${VAR} expansion (URLs).
  std::optional<std::string> expanded(const YAML::Node &node, const std::string &path);
  std::optional<std::vector<YAML::Node>> sequence(const YAML::Node &node, const std::string &path);

  // True if a problem was reported for `path` or anything below it; cross-field
  // rules skip keys that could not be read, so one mistake gives one error.
  bool failed(const std::string &path) const;
  // True if the document's structure is broken (not a mapping, a required
  // top-level key missing); cross-field rules are skipped entirely then.
  bool
  structure_failed() const {
    return m_structure_failed;
  }

  void error(const YAML::Node &node, std::string message, std::string hint = {});
  // Record `node`'s position as the location of `path` (list elements).
  void remember(const std::string &path, const YAML::Node &node);
  void error_at(const std::string &path, std::string message, std::string hint = {});

private:
  static std::string describe(const YAML::Node &node);
  enum class PathKind { file, directory };
  std::optional<std::filesystem::path>
  existing(const YAML::Node &node, const std::string &key_path, bool must_exist, PathKind kind);

  void mark_failed(const std::string &path);

  std::string m_file;
  std::set<std::string> m_failed;
  bool m_structure_failed = false;
  std::filesystem::path m_base_dir;
  Diagnostics &m_diag;
  std::map<std::string, Location> &m_locations;
  const LoadOptions &m_options;
};

} // namespace cvm::manifest::detail
