// Differential fuzz target: parse_entry (the one-pass reader) against parse_entry_reference
// (nlohmann's DOM). They must give the same verdict (accepted, skipped, or rejected for the
// same reason and field) and, for an accepted entry, the same numbers bit for bit (or both
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

#include "qsc/parse.hpp"

namespace {

bool same_number(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  std::uint64_t ua = 0, ub = 0;
  std::memcpy(&ua, &a, sizeof a);
  std::memcpy(&ub, &b, sizeof b);
  return ua == ub;
}

void check(bool same) {
  if (!same) __builtin_trap();
}

void compare(const qsc::TradeIntent& fast, const qsc::TradeIntent& ref) {
  check(fast.time_ms == ref.time_ms && fast.seq == ref.seq);
  check(fast.symbol == ref.symbol);
  check(fast.side == ref.side);
  check(same_number(fast.confidence, ref.confidence));
  check(fast.predictions.size() == ref.predictions.size());
  for (std::size_t i = 0; i < fast.predictions.size(); ++i) {
    const auto& f = fast.predictions[i];
    const auto& r = ref.predictions[i];
    check(f.model == r.model && f.model_string == r.model_string);
    check(f.action == r.action && f.confidence_status == r.confidence_status);
    check(f.inactive == r.inactive);
    check(same_number(f.confidence, r.confidence));
    check(same_number(f.raw_confidence, r.raw_confidence));
  }
}

}  // namespace

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
  check(fast.index() == ref.index());
  if (const auto* f = std::get_if<qsc::TradeIntent>(&fast)) {
    compare(*f, std::get<qsc::TradeIntent>(ref));
  } else if (const auto* f = std::get_if<qsc::Rejection>(&fast)) {
    const auto& r = std::get<qsc::Rejection>(ref);
    check(f->reason == r.reason && f->field == r.field && f->entry_id == r.entry_id);
  } else {
    check(std::get<qsc::Skipped>(fast).event_type == std::get<qsc::Skipped>(ref).event_type);
  }
  return 0;
}
