// Differential fuzz target: parse_entry (the one-pass reader) against parse_entry_reference
// (nlohmann's DOM). They must give the same verdict (accepted, skipped, or rejected for the
// same reason, field and message) and, for an accepted entry, the same numbers bit for bit (or both
// NaN). Any difference is a finding: __builtin_trap().
//
// Input: byte 0 chooses the entry's shape, the rest is its text:
//   bits 0-1  0: the rest is the payload
//             1: payload, NUL, then a model_breakdown field (the double-encoded form)
//             2: stream ID, NUL, then the payload
//             3: event_type, NUL, then the payload
//   bit 2     tight limits (256-byte payload, depth 4, 2 models) instead of the defaults
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <variant>

#include "../support/parse_outcome_diff.hpp"
#include "qsc/parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string_view head;
  if ((mode & 3) != 0) {
    const auto nul = rest.find('\0');
    if (nul == std::string_view::npos) return 0;
    head = rest.substr(0, nul);
    rest = rest.substr(nul + 1);
  }
  qsc::StreamEntry entry;
  entry.id = "1768022423278-0";
  std::string event_type = "trade.intent";
  switch (mode & 3) {
    case 2:
      entry.id = std::string(head);
      break;
    case 3:
      event_type = std::string(head);
      break;
    default:
      break;
  }
  entry.fields.emplace_back("event_type", event_type);
  if ((mode & 3) == 1) {
    entry.fields.emplace_back("payload", std::string(head));
    entry.fields.emplace_back("model_breakdown", std::string(rest));
  } else {
    entry.fields.emplace_back("payload", std::string(rest));
  }
  qsc::ParseLimits limits;
  if ((mode & 4) != 0) {
    limits.max_payload_bytes = 256;
    limits.max_depth = 4;
    limits.max_models = 2;
  }

  const qsc::ParseOutcome fast = qsc::parse_entry(entry, limits);
  const qsc::ParseOutcome ref = qsc::parse_entry_reference(entry, limits);
  // The same kind, reason, field, entry and message; for an event every field, numbers bit for
  // bit (NaN as NaN): the tests' own comparison (tests/support/parse_outcome_diff.hpp).
  if (!qsc::test::outcome_diff(fast, ref).empty()) __builtin_trap();
  return 0;
}
