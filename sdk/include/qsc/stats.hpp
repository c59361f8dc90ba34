// Window statistics, equal to numpy on the same data (docs/design.md, statistics).
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "qsc/event.hpp"

namespace qsc {

/// What the statistics need of one prediction: no strings, so windows stay cheap to keep.
struct Sample {
  Vote action = Vote::kHold;
  double confidence = 0.0;  ///< NaN when the status is a violation
  ConfidenceStatus status = ConfidenceStatus::kOk;
  InactiveReason inactive = InactiveReason::kNone;
};

/// Reduces a prediction to a Sample.
Sample to_sample(const Prediction& p) noexcept;

/// One model's figures over a window of its predictions.
struct ModelStats {
  std::string model;
  std::size_t predictions = 0;                  ///< all predictions, active or not
  std::array<std::size_t, kVoteKinds> votes{};  ///< indexed by Vote
  std::array<double, kVoteKinds> share_pct{};   ///< votes x 100 / predictions; 0 when empty
  std::size_t confidence_samples = 0;           ///< predictions with a usable confidence
  double conf_mean = 0.0;                       ///< NaN when there are no samples (likewise below)
  double conf_std = 0.0;                        ///< population standard deviation (ddof = 0)
  double p10 = 0.0;                             ///< numpy.percentile(..., 10), linear interpolation
  double p90 = 0.0;                             ///< numpy.percentile(..., 90)
  double range = 0.0;                           ///< p90 - p10
  std::size_t normalized = 0;                   ///< logits mapped through the sigmoid
  std::size_t confidence_violations = 0;        ///< negative, NaN, infinite, not a number
  std::array<std::size_t, 6> by_status{};       ///< indexed by ConfidenceStatus
  std::size_t inactive = 0;                     ///< shadow, inactive or fallback predictions
  InactiveReason last_inactive_reason = InactiveReason::kNone;  ///< of the newest inactive one
  InactiveReason newest_inactive = InactiveReason::kNone;       ///< the newest prediction's state

  /// The vote with the largest share (ties: BUY, then SELL, then HOLD).
  Vote dominant() const noexcept;
};

/// numpy.percentile(values, q) with the default linear method; `sorted` must be ascending and
/// non-empty; q in [0, 100].
double percentile_linear(std::span<const double> sorted, double q) noexcept;

/// Where numpy's linear percentile q (in [0, 100]) of n > 0 sorted values falls: between the
/// value of rank `lower_rank` (0-based) and the next one (the same one at the top), `fraction`
/// of the way. With percentile_interpolate, what percentile_linear computes, for callers that
/// find the two ranked values another way (an order-statistic structure).
struct PercentilePosition {
  std::size_t lower_rank = 0;
  double fraction = 0.0;
};
PercentilePosition percentile_position(std::size_t n, double q) noexcept;
/// numpy's _lerp between the two ranked values (its rounding rule included).
double percentile_interpolate(double lower, double upper, double fraction) noexcept;

/// Figures for one model from its samples, oldest first.
ModelStats compute_model_stats(std::string model, std::span<const Sample> samples);

/// One event's votes over its active models.
struct EventVotes {
  std::array<std::uint16_t, kVoteKinds> counts{};  ///< indexed by Vote
  std::uint16_t total() const noexcept {
    return static_cast<std::uint16_t>(counts[0] + counts[1] + counts[2]);
  }
};

/// Counts the votes of the event's active models.
EventVotes event_votes(const TradeIntent& event) noexcept;

/// Ensemble figures over events (those with at least one active vote).
struct EnsembleStats {
  std::size_t events = 0;          ///< events with at least one active vote
  double agreement_pct = 0.0;      ///< mean of (largest vote count / votes x 100); NaN when empty
  double hard_disagree_pct = 0.0;  ///< % of events with a BUY and a SELL vote; NaN when empty
};

/// Ensemble figures over a window of per-event votes.
EnsembleStats compute_ensemble(std::span<const EventVotes> events) noexcept;

/// Per-model figures for every model in the events (sorted by model name) plus the ensemble.
struct WindowStats {
  std::size_t events = 0;
  std::vector<ModelStats> models;
  EnsembleStats ensemble;

  /// The model's figures, or nullptr when it has no prediction in the window.
  const ModelStats* find(std::string_view model) const noexcept;
};

/// Computes WindowStats over the events, oldest first.
WindowStats compute_window_stats(std::span<const TradeIntent> events);

}  // namespace qsc
