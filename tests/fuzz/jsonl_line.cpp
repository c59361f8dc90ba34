// Fuzz target: one line of the JSONL recording form (telemetry/jsonl.hpp). A line is read or
// refused with a reason, never crashes; a line that is read must survive the round trip
// (format_jsonl_entry, read again: the same ID and fields), and its entry then goes through
// parse_entry as a replay would. A round-trip difference is a finding: __builtin_trap(), as is any
// difference between parse_jsonl_entry (its plain-form reader) and the DOM reader it stands for,
// and between read_plain_jsonl_intent (a line read straight to its event) and those two readers
// one after the other (parse_entry of the decoded entry), also when it is read against the
// payload layout of the lines before it and into the ID and event they were read into (an input
// holding newlines: its lines read one after another, each against the layout the ones before
// left).
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "../support/parse_outcome_diff.hpp"
#include "qsc/parse.hpp"
#include "telemetry/jsonl.hpp"
#include "telemetry/jsonl_plain.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  qsc::RejectReason reason = qsc::RejectReason::kBadStreamId;
  auto entry = qsc::agent::parse_jsonl_entry(line, &reason);
  // A line read straight to its event is one the two readers read, to the same event; read
  // against the layout its first half (up to a newline) left, the same again.
  if (auto intent = qsc::agent::read_plain_jsonl_intent(line)) {
    if (!entry || entry->id != intent->id) __builtin_trap();
    const auto two_readers = qsc::parse_entry(*entry);
    const qsc::ParseOutcome straight{intent->event};
    if (!qsc::test::outcome_diff(straight, two_readers).empty()) __builtin_trap();
  }
  if (line.find('\n') != std::string_view::npos) {
    // As replay reads: each line into the ID and event the lines before it were read into
    // (their storage kept), against the layout they left. Every line, not only a pair: a member
    // not reset shows only when a line between (a legacy one, one the fast path gives up on)
    // changed the storage without changing the layout (session 12's audit).
    qsc::EscapedPayloadLayout layout;
    std::string kept_id;
    qsc::TradeIntent kept_event;
    std::string_view rest = line;
    for (bool first = true; !rest.empty(); first = false) {
      const auto newline = rest.find('\n');
      const auto current = rest.substr(0, newline);
      rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
      const bool kept = qsc::agent::read_plain_jsonl_intent(current, kept_id, kept_event, &layout);
      if (first) continue;  // read into empty storage: nothing carried over
      if (kept != qsc::agent::read_plain_jsonl_intent(current).has_value()) __builtin_trap();
      if (!kept) continue;
      auto current_entry = qsc::agent::parse_jsonl_entry(current, nullptr);
      if (!current_entry || current_entry->id != kept_id) __builtin_trap();
      const qsc::ParseOutcome by_layout{kept_event};
      if (!qsc::test::outcome_diff(by_layout, qsc::parse_entry(*current_entry)).empty()) {
        __builtin_trap();
      }
    }
  }
  // The plain-form reader must read exactly what nlohmann's DOM reads, and a line it passes on
  // must fail with the DOM's own message.
  if (reason != qsc::RejectReason::kTooDeep) {
    auto reference = qsc::agent::parse_jsonl_entry_dom(line);
    if (entry.ok() != reference.ok()) __builtin_trap();
    if (entry && (entry->id != reference->id || entry->fields != reference->fields)) {
      __builtin_trap();
    }
    if (!entry && entry.error().message != reference.error().message) __builtin_trap();
  }
  if (!entry) {
    if (reason != qsc::RejectReason::kMalformedJson && reason != qsc::RejectReason::kTooDeep) {
      __builtin_trap();
    }
    return 0;
  }
  const std::string again_line = qsc::agent::format_jsonl_entry(*entry);
  auto again = qsc::agent::parse_jsonl_entry(again_line);
  if (!again || again->id != entry->id || again->fields != entry->fields) __builtin_trap();
  (void)qsc::parse_entry(*entry);
  return 0;
}
