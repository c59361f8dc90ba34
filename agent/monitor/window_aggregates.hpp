// The canary window's running figures, updated in O(1) or O(log n) as a value enters or leaves:
// the canary's counts, shares and confidence order statistics (exact by construction: the same
// integers and the same ranked values numpy reads), its confidence mean and standard deviation
// (compensated sums about an anchor, screened: each comes with an interval certain to hold
// numpy's value), and the ensemble's vote tallies (exact) and mean agreement (screened).
// docs/STATISTICS.md derives the intervals.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "monitor/compensated_sum.hpp"
#include "monitor/figure_screen.hpp"
#include "monitor/order_statistics.hpp"
#include "qsc/stats.hpp"

namespace qsc::agent {

/// Sums of d = x - anchor, d^2 and |d| over a window of values in [0, 1]. The anchor is a recent
/// mean, so d is small and the variance Σd²/n - (Σd/n)² loses little to cancellation.
class ShiftedMoments {
 public:
  void add(double x) noexcept;
  void remove(double x) noexcept;
  /// Forgets every value and anchors the next ones at `anchor` (an emptied window forgets too,
  /// and anchors at the next value added).
  void restart(double anchor) noexcept;
  /// Forgets every value; the next one added becomes the anchor.
  void clear() noexcept;
  std::size_t count() const noexcept { return count_; }
  /// Values added or removed since the last restart (the compensated sums' history).
  std::uint64_t operations() const noexcept { return operations_; }
  /// The mean and the population standard deviation, each with its interval around numpy's
  /// value (np.mean, np.std) over the same values. count() must be > 0.
  ScreenedFigure mean() const noexcept;
  ScreenedFigure standard_deviation() const noexcept;

 private:
  double anchor_ = 0.0;
  bool anchored_ = false;  // by restart(); else the first value added to an empty window
  std::size_t count_ = 0;
  std::uint64_t operations_ = 0;
  CompensatedSum sum_;         // Σd
  CompensatedSum squares_;     // Σd²
  CompensatedSum magnitudes_;  // Σ|d|, for the bounds
};

/// One model's running figures over its samples in the window.
class SampleAggregates {
 public:
  void add(const Sample& s);
  /// Takes out the window's oldest sample.
  void remove(const Sample& s);
  /// A hint (OrderStatistics::prefetch): loads the lines a later add or remove of a sample
  /// with this confidence touches.
  void prefetch(double confidence) const noexcept { order_.prefetch(confidence); }
  /// Re-anchors the moments at the current mean and recomputes them from the window's samples
  /// (oldest first): bounds the compensated sums' history, and recentres a drifted mean.
  template <class Samples>
  void rebase(const Samples& samples) {
    if (moments_.count() == 0) return;  // nothing to re-anchor: the window holds no confidence
    moments_.restart(moments_.mean().value);
    for (const auto& s : samples) {
      if (has_moment(s)) moments_.add(s.confidence);
    }
  }

  std::size_t predictions() const noexcept { return predictions_; }
  std::uint64_t moment_operations() const noexcept { return moments_.operations(); }
  /// The usable confidences, ranked: the values P10 and P90 are read from.
  const OrderStatistics& ranked_confidences() const noexcept { return order_; }

  /// The model's figures. Counts, shares, P10, P90 and range are exact; the mean and standard
  /// deviation are screened (`mean` and `deviation` receive their intervals). False when the window
  /// holds a confidence the running figures do not stand for (outside [0, 1] or NaN with an
  /// accepted status, which the parser never produces): the caller must recompute exactly.
  bool stats(ModelStats& out, ScreenedFigure& mean, ScreenedFigure& deviation) const;

 private:
  // A usable confidence (not a violation) the moments and the order statistics hold. Inline:
  // rebase walks the window's samples with it (an out-of-line call per sample before).
  static bool has_moment(const Sample& s) noexcept {
    return counted_confidence(s) && s.confidence >= 0.0 && s.confidence <= 1.0;
  }
  static bool counted_confidence(const Sample& s) noexcept {
    return !is_confidence_violation(s.status);
  }

  std::size_t predictions_ = 0;
  std::array<std::size_t, kVoteKinds> votes_{};
  std::array<std::size_t, 6> by_status_{};
  std::size_t confidence_samples_ = 0;
  std::size_t irregular_ = 0;  // accepted confidences outside [0, 1] or NaN
  std::size_t inactive_ = 0;
  InactiveReason last_inactive_reason_ = InactiveReason::kNone;
  InactiveReason newest_inactive_ = InactiveReason::kNone;
  ShiftedMoments moments_;
  OrderStatistics order_;
};

/// The ensemble's running figures over the window's per-event votes.
class VoteAggregates {
 public:
  /// Adds an event's votes; returns its agreement (0 without an active vote), which remove()
  /// is given back when the event leaves: the division is not made again.
  double add(const EventVotes& v) noexcept;
  /// Takes out the window's oldest event: its votes and the agreement add() returned for them.
  void remove(const EventVotes& v, double agreement) noexcept;
  /// Recomputes the agreement sum from the window's votes (oldest first).
  template <class Votes>
  void rebase(const Votes& votes) {
    if (fractional_ == 0) {
      // Every agreement in the window is a whole number: the walk below would add them one by
      // one with every partial sum exact, leaving whole_sum_ and no compensation, after
      // events_ operations. That state directly, without the walk (a division per event of
      // the window, once every two windows' events: about a quarter of the window's add in
      // replay, perf annotate, session 18). rebase_by_walk is the walk, for the tests.
      agreement_sum_.assign_exact(static_cast<double>(whole_sum_));
      operations_ = events_;
      return;
    }
    rebase_by_walk(votes);
  }
  /// rebase() without its shortcut: every vote's agreement added anew.
  template <class Votes>
  void rebase_by_walk(const Votes& votes) {
    agreement_sum_.reset();
    operations_ = 0;
    for (const auto& v : votes) {
      if (v.total() > 0) add_agreement(agreement_of(v));
    }
  }

  std::uint64_t operations() const noexcept { return operations_; }
  /// The ensemble figures: events and hard disagreement exact, agreement screened (certain when
  /// every agreement in the window is a whole number).
  EnsembleStats stats(ScreenedFigure& agreement) const noexcept;

 private:
  // One event's agreement, exactly as compute_ensemble computes it.
  static double agreement_of(const EventVotes& v) noexcept;
  static bool hard_disagreement(const EventVotes& v) noexcept;
  // Whether an agreement (in (0, 100]) is a whole number: for a positive value below 2^63 the
  // truncation is the floor, without GCC's dozen-instruction floor for x86-64 (no SSE4.1).
  static bool is_whole(double agreement) noexcept {
    return agreement == static_cast<double>(static_cast<std::int64_t>(agreement));
  }
  void add_agreement(double a) noexcept {
    agreement_sum_.add(a);
    ++operations_;
  }

  std::size_t events_ = 0;  // with at least one active vote
  std::size_t hard_ = 0;
  // Agreements are whole numbers whenever every event has 1, 2, 4 or 5 active votes: their sum
  // is then exact in any order (numpy's too), and so is the mean. Kept apart from the
  // compensated sum so a fractional agreement that has left the window leaves no residue.
  std::size_t fractional_ = 0;  // events whose agreement is not a whole number
  std::int64_t whole_sum_ = 0;  // the sum of the whole-number agreements
  CompensatedSum agreement_sum_;
  std::uint64_t operations_ = 0;
};

}  // namespace qsc::agent
