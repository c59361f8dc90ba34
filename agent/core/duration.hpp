// Durations as users write them in configuration and flags: "30s", "90m", "6h", "250ms", "1h30m".
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "qsc/result.hpp"

namespace qsc::agent {

/// Parses a duration; an error names the text and the accepted forms.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);
/// Formats a duration the way parse_duration reads it back ("6h", "30s", "1h30m", "250ms").
std::string format_duration(std::chrono::milliseconds d);
/// Human form for progress lines: "5h 54m 0s".
std::string format_remaining(std::chrono::milliseconds d);

}  // namespace qsc::agent
