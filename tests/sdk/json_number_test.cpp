// qsc::read_json_number against std::from_chars, its reference: the same double bit for bit
// (signed zeros too) for every number of the JSON grammar, and the same refusals. The exact
// fast path (mantissa <= 2^53, exponent within +-22) and the from_chars fallback are both
// exercised: the texts are drawn around each of the path's limits.
#include <gtest/gtest.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "qsc/json_number.hpp"

namespace {

// Empty when read_json_number reads `text` whole as from_chars does; else what differs.
std::string difference(std::string_view text) {
  const char* const end = text.data() + text.size();
  double fast = 0.0;
  bool integer = false;
  const char* const stop = qsc::read_json_number(text.data(), end, fast, integer);
  double reference = 0.0;
  const auto [ref_stop, ec] = std::from_chars(text.data(), end, reference);
  const bool reference_reads = ec == std::errc() && ref_stop == end;
  if (!reference_reads) {
    return stop == nullptr ? std::string() : "read where from_chars refuses: " + std::string(text);
  }
  if (stop != end) return "not read whole: " + std::string(text);
  if (std::bit_cast<std::uint64_t>(fast) != std::bit_cast<std::uint64_t>(reference)) {
    char values[96];
    std::snprintf(values, sizeof values, " read %.17g, from_chars %.17g", fast, reference);
    return std::string(text) + values;
  }
  const bool plain_integer = text.find_first_of(".eE") == std::string_view::npos;
  if (integer != plain_integer) return "integer flag wrong: " + std::string(text);
  return {};
}

// A random JSON number: `digits` random digits (no leading zero unless alone), the point after
// `int_digits` of them when fewer, an exponent when `with_exponent`.
std::string number_text(std::mt19937_64& rng, int digits, int int_digits, bool negative,
                        bool with_exponent, int exponent) {
  std::uniform_int_distribution<int> digit(0, 9);
  std::string text = negative ? "-" : "";
  std::string all;
  for (int i = 0; i < digits; ++i) all += static_cast<char>('0' + digit(rng));
  if (int_digits == 0) {
    text += "0";
  } else {
    std::string head = all.substr(0, static_cast<std::size_t>(int_digits));
    if (head.size() > 1 && head[0] == '0') head[0] = '1';
    text += head;
  }
  if (int_digits < digits) text += "." + all.substr(static_cast<std::size_t>(int_digits));
  if (with_exponent) {
    text += (rng() & 1) != 0 ? "e" : "E";
    if (exponent < 0) {
      text += "-";
    } else if ((rng() & 1) != 0) {
      text += "+";
    }
    text += std::to_string(exponent < 0 ? -exponent : exponent);
  }
  return text;
}

TEST(JsonNumber, EdgeNumbersReadAsFromCharsReadsThem) {
  const std::vector<std::string> edges = {
      "0", "-0", "0.0", "-0.0", "0e0", "-0e-5", "0.000", "0e400", "-0.0e-400", "1", "-1",
      // 2^53 and its neighbours: the fast path's largest mantissa and the first beyond it.
      "9007199254740991", "9007199254740992", "9007199254740993", "9007199254740994",
      "900719925474099.3", "0.9007199254740993", "9.007199254740993e15", "9007199254740993e-22",
      "9007199254740992e-22", "9007199254740992e22", "9007199254740993e22",
      // The exact powers end at 10^22.
      "1e22", "1e23", "1e-22", "1e-23", "123456789e22", "123456789e-22", "1.5e-21", "15e-23",
      // Nineteen digits fit 64 bits, twenty may not.
      "9999999999999999999", "18446744073709551615", "18446744073709551616",
      "0.1234567890123456789", "0.12345678901234567890", "1000000000000000000000",
      "100000000000000000000000",
      // Halfway between doubles and around them.
      "9007199254740993.0", "4503599627370496.5", "4503599627370497.5", "2.2250738585072014e-308",
      "4.9e-324", "2.4703282292062327e-324", "1.7976931348623157e308", "1.7976931348623159e308",
      "0.1", "0.2", "0.3", "0.7", "0.4561913855660074", "0.48229725965924386", "1e0", "1E+2",
      "12e-1", "1e308", "1e309", "-1e309", "1e-400", "1e99999999999999999999",
      "1e-99999999999999999999", "0.00000000000000000000000000001"};
  for (const auto& text : edges) EXPECT_EQ(difference(text), "") << text;
}

TEST(JsonNumber, TextsOutsideTheGrammarAreRefused) {
  for (const std::string_view text :
       {"", "-", "a", ".5", "-.5", "+1", "1.", "1.e5", "1e", "1e+", "1E-", "-e5", "--1"}) {
    double out = 0.0;
    bool integer = false;
    EXPECT_EQ(qsc::read_json_number(text.data(), text.data() + text.size(), out, integer), nullptr)
        << text;
  }
  // The grammar ends a number where the next byte cannot continue it: a leading zero is a
  // whole integer part.
  const std::string_view leading_zero = "012";
  double out = 0.0;
  bool integer = false;
  EXPECT_EQ(qsc::read_json_number(leading_zero.data(), leading_zero.data() + leading_zero.size(),
                                  out, integer),
            leading_zero.data() + 1);
}

// Digits are taken eight at a time where eight bytes are there: every byte that is not a digit
// ends the number wherever it stands among them (the bytes next to '0' and '9' above all).
TEST(JsonNumber, AnyOtherByteEndsTheDigitsWhereverItStands) {
  for (int byte = 0; byte < 256; ++byte) {
    // A digit continues the number, an exponent's letter continues it by the grammar.
    if ((byte >= '0' && byte <= '9') || byte == 'e' || byte == 'E') continue;
    for (std::size_t at = 3; at < 20; ++at) {
      std::string text = "0.1234567890123456789012";
      text[at] = static_cast<char>(byte);
      double out = 0.0;
      bool integer = true;
      const char* const stop =
          qsc::read_json_number(text.data(), text.data() + text.size(), out, integer);
      ASSERT_EQ(stop, text.data() + at) << byte << " at " << at;
      EXPECT_EQ(difference(text.substr(0, at)), "") << byte << " at " << at;
    }
  }
}

TEST(JsonNumber, MillionsOfRandomNumbersReadAsFromCharsReadsThem) {
  std::mt19937_64 rng(20261129);
  std::uniform_int_distribution<int> digit_count(1, 22);
  std::uniform_int_distribution<int> small_exponent(-30, 30);
  std::uniform_int_distribution<int> any_exponent(-340, 320);
  int failures = 0;
  const auto check = [&failures](const std::string& text) {
    if (failures >= 10) return;
    const std::string diff = difference(text);
    if (!diff.empty()) {
      ++failures;
      ADD_FAILURE() << diff;
    }
  };
  for (int i = 0; i < 1'000'000 && failures < 10; ++i) {
    const int digits = digit_count(rng);
    const int int_digits = std::uniform_int_distribution<int>(0, digits)(rng);
    const bool with_exponent = (i % 3) != 0;
    const int exponent = (i % 7) == 0 ? any_exponent(rng) : small_exponent(rng);
    check(number_text(rng, digits, int_digits, (i & 1) != 0, with_exponent, exponent));
  }
  // Doubles as producers write them: shortest round trip (Python's repr, the generators'
  // confidences), and 15 and 17 significant digits, fixed and scientific.
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int i = 0; i < 1'000'000 && failures < 10; ++i) {
    double value = unit(rng);
    if ((i % 5) == 0) value *= std::pow(10.0, small_exponent(rng));
    if ((i % 2) != 0) value = -value;
    char text[64];
    const auto [end, ec] = std::to_chars(text, text + sizeof text, value);
    ASSERT_EQ(ec, std::errc());
    check(std::string(text, end));
    std::snprintf(text, sizeof text, "%.17g", value);
    check(text);
    std::snprintf(text, sizeof text, "%.15e", value);
    check(text);
    std::snprintf(text, sizeof text, "%.6f", value);
    check(text);
  }
  // Random integers of every size up to 2^64 and past it.
  for (int i = 0; i < 500'000 && failures < 10; ++i) {
    const std::uint64_t value = rng() >> (rng() % 64);
    check(std::to_string(value));
    if (value != 0) check(std::to_string(value) + "0");  // "00" is not a JSON number
  }
  EXPECT_EQ(failures, 0);
}

// Mantissas past 2^53 of up to nineteen digits are read in x87 extended precision, rounded to
// 64 bits and then to 53 (session 16): exact unless the 64-bit result lies on a midpoint between
// two doubles, where it must give way to from_chars. The texts here are the decimal midpoints
// themselves, to nineteen significant digits, and one unit of their last digit either side:
// where a second rounding goes wrong if it ever does.
TEST(JsonNumber, NumbersAtTheMidpointsBetweenDoublesReadAsFromCharsReadsThem) {
  std::mt19937_64 rng(16);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  // 10^-4 to 10^15: nineteen digits then have a decimal exponent within -22 to -3.
  std::uniform_int_distribution<int> scale(-3, 15);
  int failures = 0;
  int on_midpoints = 0;
  for (int i = 0; i < 300'000 && failures < 10; ++i) {
    const double below = unit(rng) * std::pow(10.0, scale(rng));
    const double above = std::nextafter(below, 2.0 * below + 1.0);
    // Exact: the two doubles' mean needs 54 bits.
    const long double midpoint = (static_cast<long double>(below) + above) / 2;
    char text[64];
    std::snprintf(text, sizeof text, "%.18Le", midpoint);
    const std::string exact = text;
    const std::size_t last = exact.find('e') - 1;
    for (int step : {-1, 0, 1}) {
      std::string t = exact;
      if (step != 0) {
        if ((step > 0 && t[last] == '9') || (step < 0 && t[last] == '0')) continue;
        t[last] = static_cast<char>(t[last] + step);
      }
      double value = 0.0;
      bool integer = false;
      (void)qsc::read_json_number(t.data(), t.data() + t.size(), value, integer);
      if (value == below || value == above) ++on_midpoints;
      const std::string diff = difference(t);
      if (!diff.empty()) {
        ++failures;
        ADD_FAILURE() << diff;
      }
    }
  }
  EXPECT_EQ(failures, 0);
  EXPECT_GT(on_midpoints, 600'000);
}

}  // namespace

// The usual confidence, "0." and sixteen digits, has a path of its own (session 18): whatever
// byte follows the sixteenth digit, the number ends where the grammar ends it (a digit or an
// exponent continues it) and has from_chars's value there; fifteen and seventeen digits, and
// mantissas either side of 2^53, go the general way to the same values.
TEST(JsonNumber, TheUsualConfidenceEndsAndReadsAsTheGrammarSays) {
  std::mt19937_64 rng(1818);
  int failures = 0;
  for (int i = 0; i < 20'000 && failures < 10; ++i) {
    std::string digits;
    const int count = 15 + static_cast<int>(rng() % 3);
    for (int d = 0; d < count; ++d) digits += static_cast<char>('0' + rng() % 10);
    // Around 2^53 / 10^16 = 0.9007199254740992 too.
    if (i % 4 == 0) digits.replace(0, 15, "900719925474099");
    for (int byte = 0; byte < 256; ++byte) {
      const std::string text = "0." + digits + static_cast<char>(byte) + "5e-3";
      double out = 0.0;
      bool integer = true;
      const char* const stop =
          qsc::read_json_number(text.data(), text.data() + text.size(), out, integer);
      // Where the grammar ends it: after the digits, or their exponent ("e5"), or further
      // digits then their exponent ("5e-3" whole).
      std::size_t length = 2 + digits.size();
      if (byte >= '0' && byte <= '9') {
        length = text.size();
      } else if (byte == 'e' || byte == 'E') {
        length += 2;
      }
      const std::string read = text.substr(0, length);
      const std::string diff = difference(read);
      if (stop != text.data() + length || integer || !diff.empty()) {
        ++failures;
        ADD_FAILURE() << "byte " << byte << " after 0." << digits << ": "
                      << (stop == nullptr ? -1 : stop - text.data()) << " against " << length << " "
                      << diff;
        continue;
      }
      double reference = 0.0;
      (void)std::from_chars(read.data(), read.data() + read.size(), reference);
      if (std::bit_cast<std::uint64_t>(out) != std::bit_cast<std::uint64_t>(reference)) {
        ++failures;
        ADD_FAILURE() << read << ": " << out << " against " << reference;
      }
    }
  }
  EXPECT_EQ(failures, 0);
}
