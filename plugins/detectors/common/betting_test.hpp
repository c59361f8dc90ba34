// A sequential test by betting of the mean of a bounded per-event figure x in [-1, 1] against
// |E x| <= d (Waudby-Smith and Ramdas, "Estimating means of bounded random variables by
// betting", JRSS-B 2023): K+ bets that the mean is above +d, K- that it is below -d,
//     K+_t = prod_s (1 + l+_s (x_s - d)),   K-_t = prod_s (1 + l-_s (-x_s - d)),
// with bets l_s chosen from the events before s only (aGRAPA on an exponentially weighted mean
// and variance) in [0, 1 / (2 (1 + d))], so no factor is below 1/2. While the conditional mean
// of x is within [-d, d] each K is a nonnegative supermartingale with K_0 = 1, and Ville's
// inequality bounds the probability that it EVER reaches 1/alpha by alpha (docs/ACCURACY.md,
// "distribution_shift: the derivation"). Used by distribution_shift and by the ensemble
// checks' canary attribution. Header-only, so each detector stays one library.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

namespace qsc::detectors {

class BettingTest {
 public:
  /// `min_effect`: d. `memory_events`: about how many recent events the bets follow. Any
  /// predictable bet keeps the guarantee; the memory only sets the detection delay.
  BettingTest(double min_effect, double memory_events)
      : min_effect_(min_effect),
        max_bet_(kMaxBetFraction / (1.0 + min_effect)),
        weight_(1.0 / memory_events) {}

  /// Folds in one event's x: O(1), two log1p at most (none while no bet is placed).
  void add(double x) noexcept {
    const double above = recent_mean_ - min_effect_;
    const double below = -recent_mean_ - min_effect_;
    const double bet_above = bet(above);
    const double bet_below = bet(below);
    if (bet_above > 0.0) log_wealth_above_ += std::log1p(bet_above * (x - min_effect_));
    if (bet_below > 0.0) log_wealth_below_ += std::log1p(bet_below * (-x - min_effect_));
    // The exponentially weighted mean and variance after the bets: the next event's bets see
    // this event, this event's did not.
    const double deviation = x - recent_mean_;
    recent_mean_ += weight_ * deviation;
    recent_variance_ = (1.0 - weight_) * (recent_variance_ + weight_ * deviation * deviation);
    sum_ += x;
    ++events_;
  }

  double log_wealth_above() const noexcept { return log_wealth_above_; }
  double log_wealth_below() const noexcept { return log_wealth_below_; }
  /// The recent x (exponentially weighted over about memory_events events).
  double recent_mean() const noexcept { return recent_mean_; }
  /// The mean x since the first event (0 before it).
  double mean() const noexcept { return events_ == 0 ? 0.0 : sum_ / static_cast<double>(events_); }
  double min_effect() const noexcept { return min_effect_; }
  std::uint64_t events() const noexcept { return events_; }

 private:
  // No factor 1 + l (x - d) below 1/2: one surprising event cannot ruin a test.
  static constexpr double kMaxBetFraction = 0.5;

  // aGRAPA: the growth-optimal bet for a mean `edge` past the null's boundary is about
  // edge / E[(x - d)^2]; none when the recent mean is inside the null.
  double bet(double edge) const noexcept {
    if (edge <= 0.0) return 0.0;
    return std::min(edge / (recent_variance_ + edge * edge), max_bet_);
  }

  double min_effect_;
  double max_bet_;
  double weight_;
  double recent_mean_ = 0.0;
  double recent_variance_ = 0.25;  // a prior of moderate spread: small first bets
  double log_wealth_above_ = 0.0;
  double log_wealth_below_ = 0.0;
  double sum_ = 0.0;
  std::uint64_t events_ = 0;
};

/// Appends an e-value from its log, for messages: 1000, 0.02, 3.162e+05 (printf's "%.4g"), or
/// 1e+NNN past what a double holds. std::to_chars with a precision prints printf's text without
/// printf's cost (a detector that reports its e-value at every event calls this per event).
inline void append_e_value(std::string& out, double log_e) {
  char buf[48];
  if (log_e < 700.0) {
    const auto r =
        std::to_chars(buf, buf + sizeof buf, std::exp(log_e), std::chars_format::general, 4);
    out.append(buf, r.ptr);
  } else {
    std::snprintf(buf, sizeof buf, "1e+%.0f", std::floor(log_e / std::log(10.0)));
    out += buf;
  }
}

/// append_e_value's text as a value.
inline std::string e_value_text(double log_e) {
  std::string out;
  append_e_value(out, log_e);
  return out;
}

}  // namespace qsc::detectors
