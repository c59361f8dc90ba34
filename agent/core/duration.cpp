// Duration parsing and formatting.
#include "core/duration.hpp"

#include <cctype>
#include <cstdint>

namespace qsc::agent {
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

Status check_period(std::chrono::milliseconds duration, std::chrono::milliseconds interval,
                    std::string_view duration_name, std::string_view interval_name) {
  if (duration.count() <= 0) {
    return Error{std::string(duration_name) + " " + format_duration(duration) +
                 " is no period at all: give a positive duration such as 6h"};
  }
  if (interval.count() < kMinCheckIntervalMs) {
    return Error{std::string(interval_name) + " " + format_duration(interval) +
                 " is too short: give at least " +
                 format_duration(std::chrono::milliseconds(kMinCheckIntervalMs))};
  }
  // A period shorter than one interval would end before its first check: nothing watched.
  if (interval > duration) {
    return Error{std::string(interval_name) + " " + format_duration(interval) + " is longer than " +
                 std::string(duration_name) + " " + format_duration(duration) +
                 ", so the period would end before its first check: give a shorter " +
                 std::string(interval_name) + " or a longer " + std::string(duration_name)};
  }
  return ok_status();
}

std::string format_duration(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  const std::pair<std::int64_t, const char*> units[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (auto [scale, name] : units) {
    if (ms >= scale) {
      out += std::to_string(ms / scale) + name;
      ms %= scale;
    }
  }
  return out;
}

std::string format_remaining(std::chrono::milliseconds d) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (s < 0) s = 0;
  return std::to_string(s / 3600) + "h " + std::to_string((s % 3600) / 60) + "m " +
         std::to_string(s % 60) + "s";
}

}  // namespace qsc::agent
