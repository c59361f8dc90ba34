// The shared JSON depth pre-scan: the limit is exact, brackets inside strings (and after escaped
// quotes) do not count, and a million levels are refused in one pass without recursion.
#include <gtest/gtest.h>

#include <string>

#include "qsc/json_limits.hpp"

namespace qsc {
namespace {

std::string nested_arrays(std::size_t levels) {
  return std::string(levels, '[') + std::string(levels, ']');
}

TEST(JsonLimits, SixtyFourLevelsAreReadAndSixtyFiveRefused) {
  EXPECT_EQ(json_too_deep_at(nested_arrays(64)), std::nullopt);
  EXPECT_EQ(json_depth_problem(nested_arrays(64)), "");
  EXPECT_EQ(json_too_deep_at(nested_arrays(65)), 64u);  // the 65th opening bracket
  EXPECT_EQ(json_depth_problem(nested_arrays(65)), "nesting deeper than 64 levels (at byte 64)");
}

TEST(JsonLimits, ObjectsAndArraysCountAlike) {
  std::string text;
  for (int i = 0; i < 3; ++i) text += "{\"a\":[";
  text += "1";
  for (int i = 0; i < 3; ++i) text += "]}";
  EXPECT_EQ(json_too_deep_at(text, 6), std::nullopt);
  EXPECT_EQ(json_too_deep_at(text, 5), text.rfind('['));
}

TEST(JsonLimits, BracketsInsideStringsDoNotCount) {
  const std::string text = "{\"k\":\"" + std::string(1000, '[') + "{{{\"}";
  EXPECT_EQ(json_too_deep_at(text, 1), std::nullopt);
}

TEST(JsonLimits, AnEscapedQuoteDoesNotEndTheString) {
  // The string is "\"[[[" : its brackets are text. After it, one real level.
  const std::string text = R"({"k":"\"[[[","v":1})";
  EXPECT_EQ(json_too_deep_at(text, 1), std::nullopt);
  // An escaped backslash does end the string before the quote: "\\" then [[ are real.
  const std::string after_backslash = R"(["\\",[[1]]])";
  EXPECT_EQ(json_too_deep_at(after_backslash, 2), after_backslash.find("[[") + 1);
}

TEST(JsonLimits, UnbalancedClosersBuyNoDepth) {
  const std::string text = std::string(100, ']') + nested_arrays(3);
  EXPECT_EQ(json_too_deep_at(text, 2), 102u);
}

TEST(JsonLimits, AMillionLevelsAreRefusedWithoutRecursion) {
  const std::string text = "{\"v\":" + nested_arrays(1'000'000) + "}";
  EXPECT_EQ(json_too_deep_at(text), 5u + 63u);
  EXPECT_NE(json_depth_problem(text).find("nesting deeper than 64 levels"), std::string::npos);
}

}  // namespace
}  // namespace qsc
