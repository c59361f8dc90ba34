// Durations as users write them in configuration and flags: "30s", "90m", "6h", "250ms", "1h30m".
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "qsc/duration.hpp"
#include "qsc/result.hpp"

namespace qsc::agent {

/// Parses a duration; an error names the text and the accepted forms (the SDK's parser, which
/// the plugins use too).
using qsc::parse_duration;
/// The shortest check interval accepted (checks run the detectors and rewrite the scoreboard).
inline constexpr std::int64_t kMinCheckIntervalMs = 100;
/// A monitoring period's shape: a positive duration and an interval of at least
/// kMinCheckIntervalMs that is no longer than the duration. The error names both by the
/// given names (e.g. "--duration", "canary.interval") and says what to change.
Status check_period(std::chrono::milliseconds duration, std::chrono::milliseconds interval,
                    std::string_view duration_name, std::string_view interval_name);
/// Formats a duration the way parse_duration reads it back ("6h", "30s", "1h30m", "250ms").
std::string format_duration(std::chrono::milliseconds d);
/// Human form for progress lines: "5h 54m 0s".
std::string format_remaining(std::chrono::milliseconds d);

}  // namespace qsc::agent
