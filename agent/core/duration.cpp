// Duration parsing and formatting.
#include "core/duration.hpp"

#include <cstdint>

namespace qsc::agent {
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
