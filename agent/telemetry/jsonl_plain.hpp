// A fast reader for the plain recording form: the line `qsc telemetry --record` writes, an object
// of "id" (a string) and "fields" (an object of string values), with no \u escape, control
// character or byte above 0x7e in its strings and no repeated key. `qsc replay` reads millions of
// such lines, and nlohmann's DOM cost about three times the evaluation of an event.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "qsc/parse.hpp"

namespace qsc::agent {

/// The entry of a line in the plain form, exactly as the full JSON reader (parse_jsonl_entry)
/// reads it; nullopt for any other line, which that reader then reads or refuses with its own
/// message (so a malformed line's error is the same whichever way it came).
std::optional<qsc::StreamEntry> read_plain_jsonl_entry(std::string_view line);

/// A recorded trade intent read straight from its line: its stream ID and its event.
struct PlainIntent {
  std::string id;
  qsc::TradeIntent event;
};

/// The event of a plain-form line whose fields are exactly an event_type of "trade.intent" and a
/// payload (and, after a payload without a breakdown, the legacy model_breakdown field) that
/// parse_entry's fast path reads, without decoding the strings first (replay's usual line;
/// qsc::read_escaped_payload). The event is exactly
/// parse_entry(*read_plain_jsonl_entry(line)); nullopt for every other line, which those two then
/// read, skip or refuse.
/// `layout`, when given, is the payload layout of the line before (kept by the caller from line
/// to line: a recording's lines are mostly laid out alike, and a line laid out as the one before
/// is read faster; see qsc::read_escaped_payload). The event is the same with or without it.
std::optional<PlainIntent> read_plain_jsonl_intent(std::string_view line,
                                                   qsc::EscapedPayloadLayout* layout = nullptr);

/// The same, read into `id` and `event`, whatever they held (replay reads every line into one
/// pair, so that the strings and predictions keep their storage): true with them that line's,
/// false (and both unspecified) for every other line.
bool read_plain_jsonl_intent(std::string_view line, std::string& id, qsc::TradeIntent& event,
                             qsc::EscapedPayloadLayout* layout = nullptr);

}  // namespace qsc::agent
