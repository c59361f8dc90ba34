// A fast reader for the plain recording form: the line `qsc telemetry --record` writes, an object
// of "id" (a string) and "fields" (an object of string values), with no \u escape, control
// character or byte above 0x7e in its strings and no repeated key. `qsc replay` reads millions of
// such lines, and nlohmann's DOM cost about three times the evaluation of an event.
#pragma once

#include <optional>
#include <string_view>

#include "qsc/parse.hpp"

namespace qsc::agent {

/// The entry of a line in the plain form, exactly as the full JSON reader (parse_jsonl_entry)
/// reads it; nullopt for any other line, which that reader then reads or refuses with its own
/// message (so a malformed line's error is the same whichever way it came).
std::optional<qsc::StreamEntry> read_plain_jsonl_entry(std::string_view line);

}  // namespace qsc::agent
