// Locale-free number formatting (std::to_chars never consults the locale).
#include "report/number_format.hpp"

#include <charconv>
#include <cmath>

namespace qsc::report {

std::string format_fixed(double value, int decimals) {
  if (!std::isfinite(value)) return "n/a";
  char buf[128];
  const auto [end, ec] =
      std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed, decimals);
  if (ec != std::errc{}) return "n/a";
  std::string text(buf, end);
  // A negative value that rounds to zero prints as "-0.00": no reader should see a sign there.
  if (text.front() == '-' && text.find_first_not_of("-0.") == std::string::npos) text.erase(0, 1);
  return text;
}

std::string svg_number(double value) {
  auto text = format_fixed(value, 2);
  if (text.find('.') != std::string::npos) {
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
  }
  return text;
}

}  // namespace qsc::report
