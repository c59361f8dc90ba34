// The trade intent: one ensemble decision with each model's prediction (docs/design.md, telemetry).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qsc {

/// A model's (or the ensemble's) vote. The numeric values index vote-count arrays.
enum class Vote : std::uint8_t { kBuy = 0, kSell = 1, kHold = 2 };
inline constexpr std::size_t kVoteKinds = 3;

/// "BUY", "SELL" or "HOLD".
std::string_view vote_name(Vote vote) noexcept;
/// Parses "BUY"/"SELL"/"HOLD" (case-insensitive); nullopt for anything else.
std::optional<Vote> parse_vote(std::string_view text) noexcept;

/// How a prediction's confidence was read.
enum class ConfidenceStatus : std::uint8_t {
  kOk = 0,          ///< in [0, 1] as sent
  kNormalized = 1,  ///< above 1: a logit, mapped through the sigmoid
  kNegative = 2,    ///< violation: below 0
  kNaN = 3,         ///< violation: NaN
  kInfinite = 4,    ///< violation: +/-Infinity
  kNotNumber = 5,   ///< violation: a string, bool, null, object or array
};

/// True for the statuses that are confidence violations (a gate blocker).
constexpr bool is_confidence_violation(ConfidenceStatus s) noexcept {
  return s != ConfidenceStatus::kOk && s != ConfidenceStatus::kNormalized;
}
/// "ok", "normalized", "negative", "nan", "infinite", "not_a_number".
std::string_view confidence_status_name(ConfidenceStatus s) noexcept;

/// Why a prediction does not vote in the ensemble figures.
enum class InactiveReason : std::uint8_t { kNone = 0, kShadow = 1, kInactive = 2, kFallback = 3 };
/// "", "shadow", "inactive", "fallback".
std::string_view inactive_reason_name(InactiveReason r) noexcept;

/// One model's prediction inside a trade intent.
struct Prediction {
  std::string model;         ///< key in model_breakdown, e.g. "patchtst"
  std::string model_string;  ///< the "model" field, e.g. "xgboost" (may be empty)
  Vote action = Vote::kHold;
  /// In [0, 1] after normalization; NaN when the status is a violation.
  double confidence = 0.0;
  /// The number as sent (NaN when it was not a number).
  double raw_confidence = 0.0;
  ConfidenceStatus confidence_status = ConfidenceStatus::kOk;
  InactiveReason inactive = InactiveReason::kNone;

  /// Shadow, inactive or fallback: does not vote in the ensemble.
  bool is_inactive() const noexcept { return inactive != InactiveReason::kNone; }
};

/// One `trade.intent` event.
struct TradeIntent {
  std::uint64_t time_ms = 0;  ///< the stream ID's milliseconds (event time)
  std::uint64_t seq = 0;      ///< the stream ID's sequence part
  std::string symbol;         ///< e.g. "BTCUSDT" (may be empty)
  std::optional<Vote> side;   ///< the ensemble's decision, when sent
  /// The ensemble's confidence when sent as a finite number, else NaN.
  double confidence = 0.0;
  std::vector<Prediction> predictions;
};

}  // namespace qsc
