// Parsing a Redis stream entry into a TradeIntent, exactly as docs/design.md's telemetry contract
// says. Never throws and never crashes on bad input: every refusal is a described, counted
// Rejection.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "qsc/event.hpp"

namespace qsc {

/// A stream entry as read from Redis (or replayed): its ID and its field/value pairs.
struct StreamEntry {
  std::string id;  ///< "<ms>-<seq>"
  std::vector<std::pair<std::string, std::string>> fields;
};

/// Why an entry could not be read. Values index RejectionCounts.
enum class RejectReason : std::uint8_t {
  kBadStreamId = 0,
  kMissingField,
  kMalformedJson,
  kWrongType,
  kUnknownAction,
  kTooLarge,
  kTooDeep,
  kInvalidUtf8,
  /// Stamped more than telemetry.max_clock_skew ahead of the reading agent's clock. Set by the
  /// agent's sources, never by parse_entry (which has no clock).
  kFutureTimestamp,
};
inline constexpr std::size_t kRejectReasons = 9;
/// "bad_stream_id", "missing_field", "malformed_json", "wrong_type", "unknown_action",
/// "too_large", "too_deep", "invalid_utf8", "future_timestamp".
std::string_view reject_reason_name(RejectReason r) noexcept;

/// A refused entry: which entry, which field, why.
struct Rejection {
  RejectReason reason;
  std::string entry_id;
  std::string field;    ///< e.g. "payload", "model_breakdown.xgb.action"
  std::string message;  ///< full sentence naming entry, field and cause
};

/// An entry of another event_type: skipped and counted, not an error.
struct Skipped {
  std::string event_type;
};

/// The outcome of parsing one entry.
using ParseOutcome = std::variant<TradeIntent, Skipped, Rejection>;

/// Limits that keep a hostile entry from costing memory or stack.
struct ParseLimits {
  std::size_t max_payload_bytes = 1 << 20;  ///< 1 MiB: far above a real intent (~1 KiB)
  std::size_t max_depth = 32;               ///< nesting of JSON arrays/objects
  std::size_t max_models = 64;              ///< entries in model_breakdown
};

/// Parses one entry. `event_type` must be "trade.intent"; the breakdown comes from the `payload`
/// JSON's `model_breakdown`, or from a `model_breakdown` field holding a JSON string.
/// Python's bare NaN/Infinity/-Infinity tokens are read as those numbers.
/// Common payloads are read in one pass without a DOM; anything else (escapes, non-ASCII text,
/// duplicate keys, a double-encoded breakdown, every rejection) by parse_entry_reference, so
/// the outcome is always the reference's.
ParseOutcome parse_entry(const StreamEntry& entry, const ParseLimits& limits = {});

/// The reference reader behind parse_entry: the same outcome for every input, through
/// nlohmann's DOM, several times slower. For tests that compare the two.
ParseOutcome parse_entry_reference(const StreamEntry& entry, const ParseLimits& limits = {});

/// The layout of the last escaped payload read in full (read_escaped_payload): the text between
/// its values, the breakdown's model names among it (they are keys: text a payload laid out
/// alike repeats), and what each value is. Filled and read by read_escaped_payload only.
struct EscapedPayloadLayout {
  struct Slot {
    std::uint32_t literal_offset = 0;  ///< into `literals`: the text before the value
    std::uint32_t literal_size = 0;
    std::uint8_t role = 0;  ///< what the value is (the parser's own numbering)
    /// The value is the first of the next model's prediction (its name is in the text before).
    bool starts_model = false;
    /// The value was a string: its opening quote ends the text before, and it must be one again.
    bool string = false;
  };
  std::string literals;     ///< every run of text before a value, one after another
  std::vector<Slot> slots;  ///< the values, in order
  std::string tail;         ///< the text after the last value, through the closing quote
  std::vector<std::string> model_names;    ///< the breakdown's names, in the payload's order
  std::vector<std::uint16_t> model_order;  ///< each model's place once sorted by name
  /// Each model's "model" string when it is a string after the prediction's first value: then
  /// it is part of the text after it (a model's string is the same at every event), matched
  /// with that text instead of read as a value. `folded_model_string[i]` says whether model i's is.
  std::vector<std::string> model_strings;
  std::vector<std::uint8_t> folded_model_string;
  std::size_t max_depth = 0;  ///< the limits it was read under (another limit reads in full)
  std::size_t max_models = 0;
  bool valid = false;
};

/// parse_entry's fast path for a payload still inside the JSON string that carries it (a recorded
/// line, its escapes not decoded): `text` starts just after the string's opening quote and may
/// run on past its closing one. Reads the payload into `event` (all but time_ms and seq, which
/// stay as they are), sets `has_breakdown` when the payload held a model_breakdown object, and
/// returns how many bytes of `text` it took, the closing quote included. Returns 0 when it
/// cannot tell (any escape but \" \n \r \t, a byte above 0x7e, anything parse_entry's fast
/// path gives up on): decode the string and call parse_entry. When it reads one with a
/// breakdown, `event` is what parse_entry gives for an entry of event_type "trade.intent" whose
/// payload is the decoded string.
///
/// With a `layout` (kept by the caller from one payload to the next), a payload whose text
/// between values (its keys, the models' names among them) is byte for byte the previous one's
/// is read against it: only its values are read, by the same rules (a producer writes every
/// event the same way). A payload read in full with its breakdown leaves `layout` describing it
/// (or none, when it nests a container); any other leaves `layout` as it was.
///
/// `event` may hold anything before (another event: replay reads each line into the storage of
/// the line before, so its strings and predictions keep their memory): every member but time_ms
/// and seq is written over.
std::size_t read_escaped_payload(std::string_view text, TradeIntent& event, bool& has_breakdown,
                                 const ParseLimits& limits = {},
                                 EscapedPayloadLayout* layout = nullptr);

/// The same for a model_breakdown field of its own (the legacy form), read into
/// `event.predictions` after a payload without a breakdown: `event` is then what parse_entry
/// gives for the entry of both fields. 0 when it cannot tell.
std::size_t read_escaped_breakdown(std::string_view text, TradeIntent& event,
                                   const ParseLimits& limits = {});

/// Parses "<ms>-<seq>" (or "<ms>"); false when malformed.
bool parse_stream_id(std::string_view id, std::uint64_t& ms, std::uint64_t& seq) noexcept;

/// Per-reason counts of rejections plus the skipped and accepted totals.
struct ParseCounts {
  std::uint64_t accepted = 0;
  std::uint64_t skipped = 0;
  std::array<std::uint64_t, kRejectReasons> rejected{};

  /// Counts one outcome.
  void add(const ParseOutcome& outcome) noexcept;
  /// Sum of all rejections.
  std::uint64_t rejected_total() const noexcept;
  /// Rejected / (accepted + rejected) x 100; skipped entries are not telemetry and do not count.
  double rejected_pct() const noexcept;
};

}  // namespace qsc
