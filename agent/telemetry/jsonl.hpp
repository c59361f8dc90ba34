// The JSONL recording form of a stream: one entry a line, {"id":"<ms>-<seq>","fields":{...}},
// field order kept. `qsc telemetry --record` writes it, the file source replays it, and the
// bundled sample (tests/data/sample_stream.jsonl) is in it.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

#include "qsc/event.hpp"
#include "qsc/parse.hpp"
#include "qsc/result.hpp"

namespace qsc::agent {

/// One line (without the newline) for `entry`.
std::string format_jsonl_entry(const qsc::StreamEntry& entry);

/// Reads one line of the recording form. Field values that are not strings are kept as their
/// JSON text. The error says what is wrong with the line (not which line: the caller knows);
/// `reason`, when given, is set to the rejection it counts as: too_deep for a line nesting past
/// qsc::kMaxJsonDepth (refused before it is parsed), malformed_json for anything else.
/// A line in the plain form (jsonl_plain.hpp: what `--record` writes) is read without building
/// a JSON document; any other line by parse_jsonl_entry_dom, so the result and every error are
/// the same either way.
Result<qsc::StreamEntry> parse_jsonl_entry(std::string_view line,
                                           qsc::RejectReason* reason = nullptr);
/// The full JSON reader behind parse_jsonl_entry (nlohmann's DOM) for a line within the depth
/// limit: the reference the plain reader is held to (tests, the jsonl_line fuzz target).
Result<qsc::StreamEntry> parse_jsonl_entry_dom(std::string_view line);

/// The payload JSON an engine would publish for `event` (model_breakdown inside the payload),
/// with Python's NaN/Infinity tokens for non-finite confidences so violations survive the trip.
std::string format_payload(const qsc::TradeIntent& event);

/// The stream fields (event_type, payload) that publish `event`.
std::vector<std::pair<std::string, std::string>> fields_for_event(const qsc::TradeIntent& event);

/// Appends entries to a JSONL file, one line each, flushed per entry.
class JsonlWriter {
 public:
  /// Opens (creating or truncating, or appending when `append`) the file.
  static Result<JsonlWriter> open(const std::filesystem::path& path, bool append = false);
  JsonlWriter(JsonlWriter&&) noexcept;
  JsonlWriter& operator=(JsonlWriter&&) noexcept;
  ~JsonlWriter();

  /// Writes one entry as a line and flushes it to the OS.
  Status write(const qsc::StreamEntry& entry);
  /// Flushes and fsyncs, then closes; further writes fail.
  Status close();

 private:
  JsonlWriter(std::FILE* file, std::filesystem::path path) : file_(file), path_(std::move(path)) {}
  std::FILE* file_ = nullptr;
  std::filesystem::path path_;
};

}  // namespace qsc::agent
