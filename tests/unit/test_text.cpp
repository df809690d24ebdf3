// SPDX-License-Identifier: Apache-2.0
#include "lib/util/text.hpp"

#include <gtest/gtest.h>

#include <sstream>

using cvm::text::columns;
using cvm::text::wrap;

TEST(TextWrap, ShortTextStaysOnOneLine) {
  EXPECT_EQ(wrap("depends on: firmware", "  ", "    "), "  depends on: firmware\n");
}

TEST(TextWrap, LongTextBreaksAtWordsWithHangingIndent) {
  const std::string out = wrap("aaaa bbbb cccc dddd", "- ", "  ", 12);
  EXPECT_EQ(out, "- aaaa bbbb\n  cccc dddd\n");
}

TEST(TextWrap, NoLineIsWiderThanTheLimitUnlessOneWordIs) {
  std::string text;
  for (int i = 0; i < 60; ++i) {
    text += "word" + std::to_string(i) + " ";
  }
  std::istringstream lines(wrap(text, "      ", "      "));
  for (std::string line; std::getline(lines, line);) {
    EXPECT_LE(columns(line), cvm::text::k_report_width) << line;
  }
  EXPECT_EQ(wrap(std::string(120, 'x'), "", ""), std::string(120, 'x') + "\n");
}

TEST(TextWrap, CountsCodePointsNotBytes) {
  EXPECT_EQ(columns("0123…"), 5U);
}
