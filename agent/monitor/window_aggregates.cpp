// The canary window's running figures. The error bounds are derived in docs/STATISTICS.md
// ("Screened figures"); each constant below carries a safety factor of at least two over it.
#include "monitor/window_aggregates.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qsc::agent {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// u, the unit roundoff (2^-53), in the bounds' comments.
constexpr double kRoundoff = std::numeric_limits<double>::epsilon() / 2;

// What the compensated sums' own history can add to their error: O(R^2 u^2) times the largest
// magnitude a running sum held, R operations since the last restart, terms of magnitude <= 1
// (<= `term` for agreements) and at most count + R of them alive at once.
double history_error(std::uint64_t operations, std::size_t count, double term) noexcept {
  const double r = static_cast<double>(operations);
  return 4.0 * r * r * kRoundoff * kRoundoff * term * (static_cast<double>(count) + r);
}

ScreenedFigure around(double value, double error) noexcept {
  return {value, value - error, value + error};
}

}  // namespace

void ShiftedMoments::add(double x) noexcept {
  if (count_ == 0 && !anchored_) {
    anchor_ = x;
    anchored_ = true;
  }
  const double d = x - anchor_;
  sum_.add(d);
  squares_.add(d * d);
  magnitudes_.add(std::fabs(d));
  ++count_;
  ++operations_;
}

void ShiftedMoments::remove(double x) noexcept {
  if (count_ <= 1) {
    clear();
    return;
  }
  // The same d as when x was added: the anchor has not moved since (a restart re-adds all).
  const double d = x - anchor_;
  sum_.add(-d);
  squares_.add(-(d * d));
  magnitudes_.add(-std::fabs(d));
  --count_;
  ++operations_;
}

void ShiftedMoments::restart(double anchor) noexcept {
  anchor_ = anchor;
  anchored_ = true;
  count_ = 0;
  operations_ = 0;
  sum_.reset();
  squares_.reset();
  magnitudes_.reset();
}

void ShiftedMoments::clear() noexcept {
  restart(0.0);
  anchored_ = false;
}

ScreenedFigure ShiftedMoments::mean() const noexcept {
  const double n = static_cast<double>(count_);
  const double mean_d = sum_.value() / n;
  const double mean = anchor_ + mean_d;
  const double magnitude = std::fabs(anchor_) + std::max(0.0, magnitudes_.value()) / n;
  // Ours: d's rounding, the compensated sum, the division and the shift (about 5u); numpy's
  // pairwise sum over n <= 1e8 values: at most 47 roundings on any value's path.
  const double error = 150 * kRoundoff * (magnitude + std::fabs(mean)) +
                       2 * history_error(operations_, count_, 1.0) / n;
  return around(mean, error);
}

ScreenedFigure ShiftedMoments::standard_deviation() const noexcept {
  const double n = static_cast<double>(count_);
  const double mean_d = sum_.value() / n;
  const double mean_square = std::max(0.0, squares_.value() / n);
  const double variance = mean_square - mean_d * mean_d;
  const double magnitude = std::fabs(anchor_) + std::max(0.0, magnitudes_.value()) / n;
  // |ours - numpy's| for the variance: about 15u·Σd²/n here, 52u·var plus the square of
  // numpy's mean error (66u·mean|x|) there.
  const double error = 256 * kRoundoff * mean_square +
                       2e4 * kRoundoff * kRoundoff * magnitude * magnitude +
                       8 * history_error(operations_, count_, 1.0) / n;
  const double value = std::sqrt(std::max(0.0, variance));
  return {value, std::sqrt(std::max(0.0, variance - error)) * (1 - 4 * kRoundoff),
          std::sqrt(std::max(0.0, variance) + error) * (1 + 4 * kRoundoff)};
}

void SampleAggregates::add(const Sample& s) {
  ++predictions_;
  ++votes_[static_cast<std::size_t>(s.action)];
  ++by_status_[static_cast<std::size_t>(s.status)];
  if (counted_confidence(s)) {
    ++confidence_samples_;
    if (has_moment(s)) {
      moments_.add(s.confidence);
      order_.insert(s.confidence);
    } else {
      ++irregular_;
    }
  }
  if (s.inactive != InactiveReason::kNone) {
    ++inactive_;
    last_inactive_reason_ = s.inactive;
  }
  newest_inactive_ = s.inactive;
}

void SampleAggregates::remove(const Sample& s) {
  --predictions_;
  --votes_[static_cast<std::size_t>(s.action)];
  --by_status_[static_cast<std::size_t>(s.status)];
  if (counted_confidence(s)) {
    --confidence_samples_;
    if (has_moment(s)) {
      moments_.remove(s.confidence);
      order_.erase(s.confidence);
    } else {
      --irregular_;
    }
  }
  // The newest inactive sample is the last to leave: once none is left, none is named.
  if (s.inactive != InactiveReason::kNone && --inactive_ == 0) {
    last_inactive_reason_ = InactiveReason::kNone;
  }
  if (predictions_ == 0) newest_inactive_ = InactiveReason::kNone;
}

bool SampleAggregates::stats(ModelStats& m, ScreenedFigure& mean, ScreenedFigure& deviation) const {
  if (irregular_ > 0) return false;
  m.predictions = predictions_;
  m.votes = votes_;
  m.by_status = by_status_;
  m.confidence_violations = predictions_ - confidence_samples_;
  m.normalized = by_status_[static_cast<std::size_t>(ConfidenceStatus::kNormalized)];
  m.inactive = inactive_;
  m.last_inactive_reason = last_inactive_reason_;
  m.newest_inactive = newest_inactive_;
  for (std::size_t i = 0; i < kVoteKinds; ++i) {
    // compute_model_stats's expression, so the share is the same double.
    m.share_pct[i] = m.predictions == 0 ? 0.0
                                        : static_cast<double>(m.votes[i]) * 100.0 /
                                              static_cast<double>(m.predictions);
  }
  m.confidence_samples = confidence_samples_;
  if (confidence_samples_ == 0) {
    m.conf_mean = m.conf_std = m.p10 = m.p90 = m.range = kNaN;
    mean = deviation = ScreenedFigure{kNaN, kNaN, kNaN};
    return true;
  }
  mean = moments_.mean();
  deviation = moments_.standard_deviation();
  m.conf_mean = mean.value;
  m.conf_std = deviation.value;
  const auto percentile = [&](double q) {
    const auto at = percentile_position(order_.size(), q);
    const auto [lower, upper] = order_.kth_and_next(at.lower_rank);
    return percentile_interpolate(lower, upper, at.fraction);
  };
  m.p10 = percentile(10.0);
  m.p90 = percentile(90.0);
  m.range = m.p90 - m.p10;
  return true;
}

double VoteAggregates::agreement_of(const EventVotes& v) noexcept {
  const auto largest = std::max({v.counts[0], v.counts[1], v.counts[2]});
  return static_cast<double>(largest) * 100.0 / static_cast<double>(v.total());
}

bool VoteAggregates::hard_disagreement(const EventVotes& v) noexcept {
  return v.counts[static_cast<std::size_t>(Vote::kBuy)] > 0 &&
         v.counts[static_cast<std::size_t>(Vote::kSell)] > 0;
}

double VoteAggregates::add(const EventVotes& v) noexcept {
  if (v.total() == 0) return 0.0;
  if (events_ == 0) rebase(std::span<const EventVotes>{});  // an empty window forgets its history
  ++events_;
  if (hard_disagreement(v)) ++hard_;
  const double a = agreement_of(v);
  if (is_whole(a)) {
    whole_sum_ += static_cast<std::int64_t>(a);
  } else {
    ++fractional_;
  }
  add_agreement(a);
  return a;
}

void VoteAggregates::remove(const EventVotes& v, double a) noexcept {
  if (v.total() == 0) return;
  --events_;
  if (hard_disagreement(v)) --hard_;
  if (is_whole(a)) {
    whole_sum_ -= static_cast<std::int64_t>(a);
  } else {
    --fractional_;
  }
  add_agreement(-a);
}

EnsembleStats VoteAggregates::stats(ScreenedFigure& agreement) const noexcept {
  EnsembleStats e;
  e.events = events_;
  if (events_ == 0) {
    e.agreement_pct = e.hard_disagree_pct = kNaN;
    agreement = ScreenedFigure{kNaN, kNaN, kNaN};
    return e;
  }
  const double n = static_cast<double>(events_);
  e.hard_disagree_pct = static_cast<double>(hard_) * 100.0 / n;
  if (fractional_ == 0) {
    // Whole numbers up to 100 per event: every partial sum is exact below 2^53, numpy's pairwise
    // one too, so the mean is the one division both make.
    e.agreement_pct = static_cast<double>(whole_sum_) / n;
    agreement = ScreenedFigure{e.agreement_pct, e.agreement_pct, e.agreement_pct};
    return e;
  }
  const double value = agreement_sum_.value() / n;
  // Ours: the compensated sum and the division (3u); numpy's pairwise sum of positive terms
  // (47u at most).
  agreement = around(value, 150 * kRoundoff * std::fabs(value) +
                                2 * history_error(operations_, events_, 100.0) / n);
  e.agreement_pct = value;
  return e;
}

}  // namespace qsc::agent
