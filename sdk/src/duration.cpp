// Duration parsing (qsc/duration.hpp).
#include "qsc/duration.hpp"

#include <cctype>
#include <cstdint>
#include <string>

namespace qsc {
namespace {

constexpr std::int64_t kMaxDurationMs = 366LL * 86'400'000;

}  // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto bad = [&] {
    return Error{"invalid duration \"" + std::string(text) +
                 "\": use a number with a unit, e.g. 250ms, 30s, 90m, 6h or 1h30m"};
  };
  if (text.empty()) return bad();
  std::int64_t total_ms = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == start || i - start > 12) return bad();
    const std::int64_t n = std::stoll(std::string(text.substr(start, i - start)));
    std::size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    const auto unit = text.substr(unit_start, i - unit_start);
    std::int64_t scale;
    if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "m") {
      scale = 60'000;
    } else if (unit == "h") {
      scale = 3'600'000;
    } else if (unit == "d") {
      scale = 86'400'000;
    } else {
      return bad();
    }
    // Checked before multiplying: 12 digits of days overflow 64 bits (SIGFPE-free, no UB).
    if (n > (kMaxDurationMs - total_ms) / scale) {
      return Error{"duration \"" + std::string(text) + "\" is longer than a year"};
    }
    total_ms += n * scale;
  }
  return std::chrono::milliseconds(total_ms);
}

}  // namespace qsc
