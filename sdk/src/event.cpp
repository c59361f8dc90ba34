// Names of the event model's enumerations.
#include "qsc/event.hpp"

namespace qsc {

std::string_view vote_name(Vote vote) noexcept {
  switch (vote) {
    case Vote::kBuy:
      return "BUY";
    case Vote::kSell:
      return "SELL";
    case Vote::kHold:
      return "HOLD";
  }
  return "?";
}

std::optional<Vote> parse_vote(std::string_view text) noexcept {
  // ASCII case folding, as std::toupper does in the "C" locale qsc runs in, without its call
  // per byte (every prediction of every event comes through here) or any other locale's say.
  auto equals = [text](std::string_view upper) {
    if (text.size() != upper.size()) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if ((c >= 'a' && c <= 'z' ? static_cast<char>(c - ('a' - 'A')) : c) != upper[i]) return false;
    }
    return true;
  };
  if (equals("BUY")) return Vote::kBuy;
  if (equals("SELL")) return Vote::kSell;
  if (equals("HOLD")) return Vote::kHold;
  return std::nullopt;
}

std::string_view confidence_status_name(ConfidenceStatus s) noexcept {
  switch (s) {
    case ConfidenceStatus::kOk:
      return "ok";
    case ConfidenceStatus::kNormalized:
      return "normalized";
    case ConfidenceStatus::kNegative:
      return "negative";
    case ConfidenceStatus::kNaN:
      return "nan";
    case ConfidenceStatus::kInfinite:
      return "infinite";
    case ConfidenceStatus::kNotNumber:
      return "not_a_number";
  }
  return "?";
}

std::string_view inactive_reason_name(InactiveReason r) noexcept {
  switch (r) {
    case InactiveReason::kNone:
      return "";
    case InactiveReason::kShadow:
      return "shadow";
    case InactiveReason::kInactive:
      return "inactive";
    case InactiveReason::kFallback:
      return "fallback";
  }
  return "?";
}

}  // namespace qsc
