// Wall-clock times as the runbook writes them: ISO-8601 UTC and systemd's timestamp form.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "qsc/result.hpp"

namespace qsc::agent {

/// Milliseconds since the Unix epoch, UTC (the unit of Redis stream IDs).
using EpochMs = std::int64_t;

/// Now, in epoch milliseconds.
EpochMs now_ms();
/// "2026-01-10T05:43:15Z" (seconds precision, as the runbook prints).
std::string format_iso(EpochMs ms);
/// "20260110_054315", for report file names.
std::string format_compact(EpochMs ms);

/// Parses ISO-8601 ("2026-01-10T05:43:15Z", fractional seconds and +hh:mm offsets accepted)
/// or systemd's "Fri 2026-01-10 05:43:15 UTC". The error shows the accepted forms.
Result<EpochMs> parse_timestamp(std::string_view text);

/// Text listing the accepted timestamp forms, for error messages and --help.
inline constexpr std::string_view kTimestampForms =
    "2026-01-10T05:43:15Z (ISO-8601), \"Fri 2026-01-10 05:43:15 UTC\" (systemd), or auto "
    "(the unit's ActiveEnterTimestamp)";

}  // namespace qsc::agent
