// SPDX-License-Identifier: Apache-2.0
#include "lib/manifest/reader.hpp"
#include "lib/manifest/values.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <set>

namespace cvm::manifest::detail {

Location
Reader::location(const YAML::Mark &mark) const {
  // yaml-cpp marks are 0-based; a null mark (-1) means "unknown".
  return {m_file, mark.line >= 0 ? mark.line + 1 : 1, mark.column >= 0 ? mark.column + 1 : 1};
}

Location
Reader::location(const YAML::Node &node) const {
  return location(node.Mark());
}

std::string
Reader::describe(const YAML::Node &node) {
  switch (node.Type()) {
  case YAML::NodeType::Null:
    return "nothing";
  case YAML::NodeType::Scalar:
    return fmt::format("'{}'", node.Scalar());
  case YAML::NodeType::Sequence:
    return "a list";
  case YAML::NodeType::Map:
    return "a mapping";
  case YAML::NodeType::Undefined:
    break;
  }
  return "an undefined value";
}

void
Reader::error(const YAML::Node &node, std::string message, std::string hint) {
  m_diag.error(location(node), std::move(message), std::move(hint));
}

bool
Reader::failed(const std::string &path) const {
  const auto it = m_failed.lower_bound(path);
  return it != m_failed.end() && it->starts_with(path) &&
         (it->size() == path.size() || (*it)[path.size()] == '.' || (*it)[path.size()] == '[');
}

void
Reader::mark_failed(const std::string &path) {
  m_failed.insert(path);
}

void
Reader::remember(const std::string &path, const YAML::Node &node) {
  m_locations[path] = location(node);
}

void
Reader::error_at(const std::string &path, std::string message, std::string hint) {
  mark_failed(path);
  const auto it = m_locations.find(path);
  m_diag.error(
      it != m_locations.end() ? it->second : Location{m_file, 1, 1}, std::move(message), std::move(hint));
}

bool
Reader::expect_map(const YAML::Node &node, const std::string &path, const std::vector<std::string> &keys) {
  if (node.IsNull()) {
    return true;
  }
  if (!node.IsMap()) {
    error(node,
          fmt::format("{}: expected a mapping, got {}", path.empty() ? "manifest" : path, describe(node)));
    mark_failed(path);
    if (path.empty()) {
      m_structure_failed = true;
    }
    return false;
  }
  std::set<std::string> seen;
  for (const auto &entry : node) {
    const YAML::Node &key = entry.first;
    if (!key.IsScalar()) {
      error(key, fmt::format("{}: keys must be plain strings", path.empty() ? "manifest" : path));
      continue;
    }
    const std::string &name = key.Scalar();
    const std::string where = path.empty() ? "the top level" : path;
    if (!seen.insert(name).second) {
      error(key,
            fmt::format("duplicate key '{}' in {}", name, where),
            "a later value would silently win; keep one");
      continue;
    }
    if (std::find(keys.begin(), keys.end(), name) == keys.end()) {
      std::string hint;
      if (const auto guess = values::closest(name, keys)) {
        hint = fmt::format("did you mean '{}'?", *guess);
      } else {
        hint = fmt::format("allowed keys: {}", fmt::join(keys, ", "));
      }
      error(key, fmt::format("unknown key '{}' in {}", name, where), hint);
    }
  }
  return true;
}

std::optional<YAML::Node>
Reader::child(const YAML::Node &map, const std::string &path, const std::string &key) {
  if (!map.IsMap()) {
    return std::nullopt;
  }
  // Iterate rather than map[key]: operator[] on a const node is fine, but
  // iterating gives the key's own mark for values that are null.
  for (const auto &entry : map) {
    if (entry.first.IsScalar() && entry.first.Scalar() == key) {
      const std::string full = path.empty() ? key : fmt::format("{}.{}", path, key);
      const YAML::Node &value = entry.second;
      const YAML::Mark mark = value.IsNull() || value.Mark().line < 0 ? entry.first.Mark() : value.Mark();
      m_locations[full] = location(mark);
      if (value.IsNull()) {
        // Keep the key's position for diagnostics about an empty value.
        YAML::Node copy = value;
        return copy;
      }
      return value;
    }
  }
  return std::nullopt;
}

void
Reader::missing(const YAML::Node &map,
                const std::string &path,
                const std::string &key,
                const std::string &hint) {
  const std::string full = path.empty() ? key : path + "." + key;
  const std::string where = path.empty() ? "the manifest" : path;
  m_diag.error(location(map), fmt::format("missing required key '{}' in {}", key, where), hint);
  mark_failed(full);
  if (path.empty()) {
    m_structure_failed = true;
  }
}

std::optional<std::string>
Reader::string(const YAML::Node &node, const std::string &path) {
  if (!node.IsScalar()) {
    error_at(path, fmt::format("{}: expected a string, got {}", path, describe(node)));
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<bool>
Reader::boolean(const YAML::Node &node, const std::string &path) {
  if (node.IsScalar() && node.Tag() != "!") {
    if (node.Scalar() == "true") {
      return true;
    }
    if (node.Scalar() == "false") {
      return false;
    }
  }
  error_at(path, fmt::format("{}: expected true or false, got {}", path, describe(node)));
  return std::nullopt;
}

std::optional<std::uint64_t>
Reader::uint(const YAML::Node &node, const std::string &path, std::uint64_t min, std::uint64_t max) {
  if (!node.IsScalar() || node.Tag() == "!") {
    error_at(path, fmt::format("{}: expected an integer, got {}", path, describe(node)));
    return std::nullopt;
  }
  const auto v = values::parse_uint(node.Scalar());
  if (!v) {
    error_at(path, fmt::format("{}: expected a non-negative integer, got {}", path, describe(node)));
    return std::nullopt;
  }
  if (*v < min || *v > max) {
    error_at(
        path, fmt::format("{}: {} is out of range", path, *v), fmt::format("allowed: {} to {}", min, max));
    return std::nullopt;
  }
  return v;
}

std::optional<std::uint64_t>
Reader::size(const YAML::Node &node, const std::string &path, std::uint64_t min, std::uint64_t max) {
  if (!node.IsScalar()) {
    error_at(path, fmt::format("{}: expected a size such as 512M or 2G, got {}", path, describe(node)));
    return std::nullopt;
  }
  const auto v = values::parse_size(node.Scalar());
  if (!v) {
    error_at(path,
             fmt::format("{}: '{}' is not a size", path, node.Scalar()),
             "write bytes or a number with K, M, G or T (binary units), e.g. 512M");
    return std::nullopt;
  }
  if (*v < min || *v > max) {
    error_at(path,
             fmt::format("{}: {} is out of range", path, node.Scalar()),
             fmt::format("allowed: {} to {}", values::format_size(min), values::format_size(max)));
    return std::nullopt;
  }
  return v;
}

std::optional<std::string>
Reader::choice(const YAML::Node &node, const std::string &path, const std::vector<std::string> &allowed) {
  auto s = string(node, path);
  if (!s) {
    return std::nullopt;
  }
  if (std::find(allowed.begin(), allowed.end(), *s) == allowed.end()) {
    std::string hint = fmt::format("one of: {}", fmt::join(allowed, ", "));
    if (const auto guess = values::closest(*s, allowed)) {
      hint = fmt::format("did you mean '{}'? ({})", *guess, hint);
    }
    error_at(path, fmt::format("{}: '{}' is not supported", path, *s), hint);
    return std::nullopt;
  }
  return s;
}

std::optional<std::string>
Reader::expanded(const YAML::Node &node, const std::string &path) {
  const auto s = string(node, path);
  if (!s) {
    return std::nullopt;
  }
  std::string problem;
  auto result = values::expand_env(
      *s,
      [](const std::string &name) -> std::optional<std::string> {
        const char *v =
            std::getenv(name.c_str()); // NOLINT(concurrency-mt-unsafe): read-only, single-threaded load
        return v != nullptr ? std::optional<std::string>(v) : std::nullopt;
      },
      problem);
  if (!result) {
    error_at(path, fmt::format("{}: {}", path, problem), "set the variable or write ${NAME:-default}");
  }
  return result;
}

std::optional<std::filesystem::path>
Reader::path(const YAML::Node &node, const std::string &key_path, bool must_exist) {
  return existing(node, key_path, must_exist, PathKind::file);
}

std::optional<std::filesystem::path>
Reader::directory(const YAML::Node &node, const std::string &key_path, bool must_exist) {
  return existing(node, key_path, must_exist, PathKind::directory);
}

std::optional<std::filesystem::path>
Reader::existing(const YAML::Node &node, const std::string &key_path, bool must_exist, PathKind kind) {
  const auto s = expanded(node, key_path);
  if (!s) {
    return std::nullopt;
  }
  if (s->empty()) {
    error_at(key_path, fmt::format("{}: the path is empty", key_path));
    return std::nullopt;
  }
  std::filesystem::path p(*s);
  if (p.is_relative()) {
    p = m_base_dir / p;
  }
  p = p.lexically_normal();
  if (must_exist && m_options.check_files) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) {
      error_at(key_path,
               fmt::format("{}: {} does not exist", key_path, p.string()),
               s->front() == '/' ? std::string()
                                 : "relative paths are resolved against the manifest's directory");
      return std::nullopt;
    }
    const bool dir = kind == PathKind::directory;
    if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
      error_at(key_path,
               fmt::format("{}: {} is not a {}", key_path, p.string(), dir ? "directory" : "regular file"));
      return std::nullopt;
    }
    if (::access(p.c_str(), dir ? R_OK | X_OK : R_OK) != 0) {
      error_at(key_path, fmt::format("{}: {} is not readable", key_path, p.string()));
      return std::nullopt;
    }
  }
  return p;
}

std::optional<std::vector<YAML::Node>>
Reader::sequence(const YAML::Node &node, const std::string &path) {
  if (node.IsNull()) {
    return std::vector<YAML::Node>{};
  }
  if (!node.IsSequence()) {
    error_at(path, fmt::format("{}: expected a list, got {}", path, describe(node)));
    return std::nullopt;
  }
  std::vector<YAML::Node> out;
  for (const auto &item : node) {
    out.push_back(item);
  }
  return out;
}

} // namespace cvm::manifest::detail
