// SPDX-License-Identifier: Apache-2.0
#include "lib/template/template.hpp"
#include "lib/util/error.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using cvm::tmpl::render;
using ::testing::HasSubstr;

namespace {
std::string
error_of(std::string_view text, const cvm::tmpl::Variables &vars) {
  try {
    render(text, vars, "t.in");
  } catch (const cvm::Error &e) {
    return e.what();
  }
  return "";
}
} // namespace

TEST(Template, SubstitutesVariables) {
  EXPECT_EQ(render("a={{a}} b={{ b }}\n{{a}}", {{"a", "1"}, {"b", "two"}}, "t"), "a=1 b=two\n1");
  EXPECT_EQ(render("no variables", {}, "t"), "no variables");
  EXPECT_EQ(render("{{x}}", {{"x", "{{y}}"}}, "t"), "{{y}}") << "values are not re-expanded";
}

TEST(Template, UnknownVariableIsAnErrorWithPosition) {
  EXPECT_THAT(error_of("line1\n  {{mapper}}\n", {}), HasSubstr("t.in:2:3: unknown variable 'mapper'"));
}

TEST(Template, UnusedVariableIsAnError) {
  EXPECT_THAT(error_of("{{a}}", {{"a", "1"}, {"b", "2"}}), HasSubstr("variable 'b' is given but not used"));
}

TEST(Template, UnclosedAndInvalidNames) {
  EXPECT_THAT(error_of("x {{a\n}}", {{"a", "1"}}),
              HasSubstr("t.in:1:3: '{{' is not closed on the same line"));
  EXPECT_THAT(error_of("{{a-b}}", {}), HasSubstr("'a-b' is not a variable name"));
  EXPECT_THAT(error_of("{{}}", {}), HasSubstr("'' is not a variable name"));
}

TEST(Template, AllProblemsAreReportedTogether) {
  const auto e = error_of("{{a}} {{b}}", {{"c", "1"}});
  EXPECT_THAT(e, HasSubstr("unknown variable 'a'"));
  EXPECT_THAT(e, HasSubstr("unknown variable 'b'"));
  EXPECT_THAT(e, HasSubstr("variable 'c' is given but not used"));
}

TEST(Template, ShellQuote) {
  EXPECT_EQ(cvm::tmpl::shell_quote("abc"), "'abc'");
  EXPECT_EQ(cvm::tmpl::shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(cvm::tmpl::shell_quote("$(reboot)"), "'$(reboot)'");
  EXPECT_EQ(cvm::tmpl::shell_quote(""), "''");
}
