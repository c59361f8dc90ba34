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
  const auto folded = [text] {
    std::uint32_t word = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      word |= static_cast<std::uint32_t>(static_cast<unsigned char>(text[i]) | 0x20u) << (8 * i);
    }
    return word;
  };
  constexpr auto lower_word = [](const char* w, std::size_t n) {
    std::uint32_t word = 0;
    for (std::size_t i = 0; i < n; ++i) word |= static_cast<std::uint32_t>(w[i]) << (8 * i);
    return word;
  };
  if (text.size() == 3) {
    if (folded() == lower_word("buy", 3)) return Vote::kBuy;
  } else if (text.size() == 4) {
    const std::uint32_t word = folded();
    if (word == lower_word("sell", 4)) return Vote::kSell;
    if (word == lower_word("hold", 4)) return Vote::kHold;
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
