// SPDX-License-Identifier: Apache-2.0
#include "lib/template/template.hpp"

#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <set>
#include <vector>

namespace cvm::tmpl {

namespace {

std::pair<int, int>
line_col(std::string_view text, std::size_t offset) {
  int line = 1;
  int col = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

bool
valid_name(std::string_view n) {
  if (n.empty() || (std::isalpha(static_cast<unsigned char>(n[0])) == 0 && n[0] != '_')) {
    return false;
  }
  for (const char c : n) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_') {
      return false;
    }
  }
  return true;
}

std::string_view
trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') {
    s.remove_prefix(1);
  }
  while (!s.empty() && s.back() == ' ') {
    s.remove_suffix(1);
  }
  return s;
}

} // namespace

std::string
render(std::string_view text, const Variables &variables, std::string_view name) {
  std::string out;
  out.reserve(text.size());
  std::set<std::string> used;
  std::vector<std::string> problems;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, open - pos));
    const std::size_t close = text.find("}}", open + 2);
    const std::size_t newline = text.find('\n', open);
    if (close == std::string_view::npos || (newline != std::string_view::npos && newline < close)) {
      const auto [l, c] = line_col(text, open);
      problems.push_back(fmt::format("{}:{}:{}: '{{{{' is not closed on the same line", name, l, c));
      pos = open + 2;
      continue;
    }
    const std::string var(trim(text.substr(open + 2, close - open - 2)));
    const auto [l, c] = line_col(text, open);
    if (!valid_name(var)) {
      problems.push_back(fmt::format("{}:{}:{}: '{}' is not a variable name", name, l, c, var));
    } else if (const auto it = variables.find(var); it == variables.end()) {
      problems.push_back(fmt::format("{}:{}:{}: unknown variable '{}'", name, l, c, var));
    } else {
      out.append(it->second);
      used.insert(var);
    }
    pos = close + 2;
  }
  for (const auto &[var, value] : variables) {
    if (used.count(var) == 0) {
      problems.push_back(fmt::format("{}: variable '{}' is given but not used", name, var));
    }
  }
  if (!problems.empty()) {
    throw Error(ErrorKind::internal, "template {}: {}", name, fmt::join(problems, "; "));
  }
  return out;
}

std::string
render_file(const std::filesystem::path &path, const Variables &variables) {
  return render(fs::read_text(path, 1U << 20U), variables, path.string());
}

std::filesystem::path
templates_dir() {
  if (const char *env = std::getenv("CVMFORGE_TEMPLATES"); env != nullptr && *env != '\0') { // NOLINT
    return env;
  }
#ifdef CVM_SOURCE_TEMPLATES_DIR
  if (std::filesystem::is_directory(CVM_SOURCE_TEMPLATES_DIR)) {
    return CVM_SOURCE_TEMPLATES_DIR;
  }
#endif
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto installed = exe.parent_path().parent_path() / "share" / "cvmforge" / "templates";
    if (std::filesystem::is_directory(installed)) {
      return installed;
    }
  }
  throw Error(ErrorKind::io, "cannot find cvmforge's templates directory; set CVMFORGE_TEMPLATES");
}

std::string
shell_quote(std::string_view value) {
  std::string out = "'";
  for (const char c : value) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  out.push_back('\'');
  return out;
}

} // namespace cvm::tmpl
