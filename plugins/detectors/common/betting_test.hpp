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
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <span>
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

  /// Folds in one event's x: O(1), two log1p at most (none while no bet is placed). True when a
  /// bet was placed: the wealths are unchanged otherwise (what a caller that reads them after
  /// every add may skip on; distribution_shift's crossing check). Always inlined:
  /// distribution_shift adds to six tests an event, and GCC called it out of line there (a call
  /// per add, 13% of the detector's samples in replay, perf report).
  [[gnu::always_inline]] bool add(double x) noexcept {
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
    return bet_above > 0.0 || bet_below > 0.0;
  }

  double log_wealth_above() const noexcept { return log_wealth_above_; }
  double log_wealth_below() const noexcept { return log_wealth_below_; }
  /// The recent x (exponentially weighted over about memory_events events).
  double recent_mean() const noexcept { return recent_mean_; }
  /// The mean x since the first event (0 before it).
  double mean() const noexcept { return events_ == 0 ? 0.0 : sum_ / static_cast<double>(events_); }
  double min_effect() const noexcept { return min_effect_; }
  std::uint64_t events() const noexcept { return events_; }
  /// What events_before_crossing reads: the next bets' inputs and limits.
  double recent_variance() const noexcept { return recent_variance_; }
  double max_bet() const noexcept { return max_bet_; }
  double weight() const noexcept { return weight_; }

  /// The largest bet aGRAPA can place (bet()) on a recent mean whose edge past the null's
  /// boundary is at most `most_edge`, with a recent variance of at least `least_variance`:
  /// edge / (variance + edge^2) falls with the variance and, in the edge, rises up to
  /// sqrt(variance) and falls after it, so its largest value on (0, most_edge] is at
  /// min(most_edge, sqrt(variance)).
  double most_bet(double most_edge, double least_variance) const noexcept {
    if (!(most_edge > 0.0)) return 0.0;
    const double root = std::sqrt(std::max(least_variance, 0.0));
    const double edge = std::min(most_edge, root);
    const double variance = std::max(least_variance, 0.0);
    if (!(variance + edge * edge > 0.0)) return max_bet_;
    return std::min(edge / (variance + edge * edge), max_bet_);
  }

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

/// The accepted events within which the average of `tests`' wealths, both directions (the
/// e-value of distribution_shift), provably stays below exp(log_threshold) whatever the events
/// are; at most `most`. Each event adds at most one x in [-1, 1] to each test. After j adds the
/// recent mean m_j = (1 - w) m_{j-1} + w x lies in
///     [-1 + (1 - w)^j (1 + m_0),  1 - (1 - w)^j (1 - m_0)]
/// (x = -1 or +1 at every add reaches the ends), and the recent variance, (1 - w) (v + w dev^2),
/// is at least (1 - w)^j v_0. The j-th add's bet above is thus at most most_bet(hi_j - d,
/// (1 - w)^j v_0) (likewise below), and its factor 1 + l (x - d) at most 1 + l (1 - d). These
/// bounds only grow with j, so a test that gets fewer adds than events grows no more, and the
/// average after k events is at most the average of W_i times the product of its first k
/// factors' bounds: the horizon is the largest k whose bound stays below the threshold. Margins
/// of 1e-9 on the mean, the variance, the factors and the threshold cover the rounding of the
/// tests' own sums over the horizon (far below 1e-12 for a thousand adds), so no event of margin
/// is taken: the bound is reached exactly by x = +1 at every add while the bets are at their
/// cap. O(most x tests) at most, no exp or log per event: the adds before any bet is possible
/// are skipped at once.
inline std::uint64_t events_before_crossing(std::span<const BettingTest> tests,
                                            double log_threshold, std::uint64_t most) {
  constexpr std::size_t kMostTests = 16;
  constexpr double kMargin = 1e-9;
  if (tests.empty() || tests.size() > kMostTests) return 0;
  double top = -std::numeric_limits<double>::infinity();
  for (const auto& t : tests) top = std::max({top, t.log_wealth_above(), t.log_wealth_below()});
  if (!std::isfinite(top)) return 0;
  // The wealths relative to the largest, and the sum they may not reach: the average
  // sum / (2 n) e^top below e^(log_threshold - margin).
  std::array<double, 2 * kMostTests> wealth{};
  double sum = 0.0;
  for (std::size_t i = 0; i < tests.size(); ++i) {
    wealth[2 * i] = std::exp(tests[i].log_wealth_above() - top);
    wealth[2 * i + 1] = std::exp(tests[i].log_wealth_below() - top);
    sum += wealth[2 * i] + wealth[2 * i + 1];
  }
  const double limit =
      2.0 * static_cast<double>(tests.size()) * std::exp(log_threshold - kMargin - top);
  if (!(sum * (1.0 + kMargin) < limit)) return 0;
  // No bet can be placed, and no wealth grow, while both ends of every test's recent mean are
  // inside its null: (1 - w)^j >= (1 - d + margin) / (1 -+ m_0). Those adds are skipped in one
  // step (1e-6 of the count and one add taken off for the logarithms' rounding).
  std::uint64_t idle = most;
  for (const auto& t : tests) {
    const double d = t.min_effect();
    const double inside = std::max((1.0 - d + kMargin) / (1.0 - t.recent_mean()),
                                   (1.0 - d + kMargin) / (1.0 + t.recent_mean()));
    const double adds = std::log(inside) / std::log1p(-t.weight());
    idle = !(inside <= 1.0) || !(adds >= 2.0)
               ? 0
               : std::min(idle, static_cast<std::uint64_t>(std::min(adds * (1.0 - 1e-6) - 1.0,
                                                                    static_cast<double>(most))));
  }
  if (idle >= most) return most;
  std::array<double, kMostTests> decay{};  // (1 - w)^j, j the adds so far
  for (std::size_t i = 0; i < tests.size(); ++i) {
    decay[i] = std::pow(1.0 - tests[i].weight(), static_cast<double>(idle));
  }
  for (std::uint64_t k = idle; k < most; ++k) {
    for (std::size_t i = 0; i < tests.size(); ++i) {
      const BettingTest& t = tests[i];
      const double d = t.min_effect();
      const double a = decay[i];
      const double least_variance = a * t.recent_variance() * (1.0 - kMargin);
      const double most_above = 1.0 - a * (1.0 - t.recent_mean()) + kMargin;
      const double most_below = 1.0 - a * (1.0 + t.recent_mean()) + kMargin;
      const double gain = (1.0 - d) * (1.0 + kMargin);
      const double up = t.most_bet(most_above - d, least_variance) * gain;
      const double down = t.most_bet(most_below - d, least_variance) * gain;
      sum += wealth[2 * i] * up + wealth[2 * i + 1] * down;
      wealth[2 * i] *= 1.0 + up;
      wealth[2 * i + 1] *= 1.0 + down;
      decay[i] = a * (1.0 - t.weight());
    }
    if (!(sum * (1.0 + kMargin) < limit)) return k;
  }
  return most;
}

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
