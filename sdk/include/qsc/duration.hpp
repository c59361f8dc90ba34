// Durations as users write them in configuration and flags: "30s", "90m", "6h", "250ms", "1h30m".
// One parser for the agent and the plugins (a plugin section may give a duration too), so that a
// duration means the same wherever it is written.
#pragma once

#include <chrono>
#include <string_view>

#include "qsc/result.hpp"

namespace qsc {

/// Parses a duration: whole numbers with a unit (ms, s, m, h, d), concatenated ("1h30m"), at most
/// a year; an error names the text and the accepted forms.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace qsc
