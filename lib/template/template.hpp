// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

// Templates are data with a strict renderer: `{{name}}` (spaces inside the
// braces allowed) is replaced by a variable's value; there are no conditionals
// or loops, so a template reads like the file it produces. Rendering fails if
// the template names a variable that is not given, if a given variable is not
// used, or if a `{{` is not closed: a typo can never produce a half-rendered
// boot script. A literal "{{" cannot be written (none of our templates needs one).
namespace cvm::tmpl {

using Variables = std::map<std::string, std::string>;

// Render `text`; `name` (e.g. the template's path) prefixes error messages,
// which carry line:column. Throws cvm::Error(internal) on any problem, since
// templates ship with cvmforge.
std::string render(std::string_view text, const Variables &variables, std::string_view name);

// Render the file `path`.
std::string render_file(const std::filesystem::path &path, const Variables &variables);

// The directory holding cvmforge's templates: $CVMFORGE_TEMPLATES if set,
// else <source tree>/templates when running from a build tree, else
// <prefix>/share/cvmforge/templates next to the installed binary.
std::filesystem::path templates_dir();

// Quote `value` for a POSIX shell single-quoted context: the result includes
// the surrounding quotes ('it'\''s'). For values substituted into scripts.
std::string shell_quote(std::string_view value);

} // namespace cvm::tmpl
