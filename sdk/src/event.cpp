// Names of the event model's enumerations.
#include "qsc/event.hpp"

#include <cstdint>

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
  // ASCII case folding, as std::toupper does in the "C" locale qsc runs in, a word at a time:
  // a byte ORed with 0x20 is a given lowercase letter only when it was that letter in either
  // case (they differ in that bit alone), so the folded word equals the lowercase word exactly
  // when the text is the word in any case. Every prediction of every event comes through here.
  const auto byte = [text](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(text[i]) | 0x20u);
  };
  constexpr auto word = [](char a, char b, char c, char d = '\0') {
    return static_cast<std::uint32_t>(a) | static_cast<std::uint32_t>(b) << 8 |
           static_cast<std::uint32_t>(c) << 16 | static_cast<std::uint32_t>(d) << 24;
  };
  if (text.size() == 3) {
    if ((byte(0) | byte(1) << 8 | byte(2) << 16) == word('b', 'u', 'y')) return Vote::kBuy;
  } else if (text.size() == 4) {
    const std::uint32_t folded = byte(0) | byte(1) << 8 | byte(2) << 16 | byte(3) << 24;
    if (folded == word('s', 'e', 'l', 'l')) return Vote::kSell;
    if (folded == word('h', 'o', 'l', 'd')) return Vote::kHold;
  }
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
