// What the in-tree detectors share: the "too little data" verdicts and the detector shape of a
// per-model check with one threshold. Header-only, so each detector stays one library built
// against the SDK alone.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qsc/checks.hpp"
#include "qsc/config_section.hpp"
#include "qsc/detector.hpp"

namespace qsc::detectors {

/// Writes kInsufficient into `out` and returns true when the canary has no figures or fewer
/// predictions than input.min_events: a small window is never called healthy. False (and `out`
/// untouched) when there is enough to judge.
inline bool insufficient_canary(const CheckInput& input, std::string_view title, CheckResult& out) {
  const std::size_t n = input.canary != nullptr ? input.canary->predictions : 0;
  if (input.canary != nullptr && n >= input.min_events) return false;
  out.verdict = Verdict::kInsufficient;
  out.message = std::string(title) + ": " + std::to_string(n) + " predictions of " +
                std::string(input.canary_model) + " (" + std::to_string(input.min_events) +
                " needed)";
  out.figures = {{"predictions", static_cast<double>(n)}};
  return true;
}

/// The same as a value: nullopt when there is enough to judge.
inline std::optional<CheckResult> insufficient_canary(const CheckInput& input,
                                                      std::string_view title) {
  CheckResult r;
  if (!insufficient_canary(input, title, r)) return std::nullopt;
  return r;
}

/// The base of a detector that judges into a kept result (check_into, qsc/plugin.hpp): its
/// check() is check_into on a fresh result, so the two can never differ.
template <typename Self>
class IntoDetector : public Detector {
 public:
  CheckResult check(const CheckInput& input) final {
    CheckResult out;
    static_cast<Self&>(*this).check_into(input, out);
    return out;
  }
};

/// Writes kInsufficient into `out` and returns true when the window has no ensemble figures or
/// fewer events with an active vote than input.min_events; false (and `out` untouched) when there
/// is enough to judge.
inline bool insufficient_ensemble(const CheckInput& input, std::string_view title,
                                  CheckResult& out) {
  const std::size_t n = input.window != nullptr ? input.window->ensemble.events : 0;
  if (input.window != nullptr && n >= input.min_events) return false;
  out.verdict = Verdict::kInsufficient;
  out.message = std::string(title) + ": " + std::to_string(n) + " events with an active vote (" +
                std::to_string(input.min_events) + " needed)";
  out.figures = {{"events", static_cast<double>(n)}};
  return true;
}

// Verdict horizons (qsc_check_sink::set_horizon, ABI 2.1; docs/writing-a-detector.md): the
// accepted events within which a verdict provably cannot change, whatever they are. The bounds
// below rest on what one accepted event can do to the monitor's window (a count of events,
// agent/monitor/canary_window.hpp): add itself and, once the window is full, remove its oldest
// event. A model predicts at most once an event (the window counts one prediction per model per
// event), so each of the canary's counts (predictions, votes of an action) and each of the
// ensemble's (events with an active vote, hard disagreements, the agreement sum, whose terms lie
// in [0, 1]) moves by at most one an event, up or down.

/// The horizon of an insufficient verdict "n < min_events" where n moves by at most one an
/// event: n + k < min_events holds for every k <= min_events - n - 1.
inline std::uint64_t horizon_below_minimum(std::uint64_t n, std::uint64_t min_events) noexcept {
  return min_events > n + 1 ? min_events - n - 1 : 0;
}

/// The horizon of a pass whose slack (how far the figure is from its threshold, in units that
/// one event moves by at most one, see the shares' and the ensemble's bounds where it is used)
/// is `slack`: while k <= slack the threshold is not crossed. One event of margin is taken off
/// for floating point (the slack is computed from rounded percentages, off by far less than one
/// event), and a slack that is not a number gives none.
inline std::uint64_t horizon_of_slack(double slack) noexcept {
  if (!(slack >= 2.0)) return 0;
  constexpr double kMostEvents = 1e15;  // far past any cap a host applies
  return static_cast<std::uint64_t>(std::floor(std::min(slack, kMostEvents))) - 1;
}

/// The horizon of a pass of "judged on n >= min_events", where n moves by at most one an event
/// (down too, as the window slides): it stays judged for k <= n - min_events.
inline std::uint64_t horizon_above_minimum(std::uint64_t n, std::uint64_t min_events) noexcept {
  return n > min_events ? n - min_events : 0;
}

/// The horizon of insufficient_canary's verdict: fewer than min_events predictions of the canary
/// (horizon_below_minimum).
inline std::uint64_t insufficient_canary_horizon(const CheckInput& input) noexcept {
  return horizon_below_minimum(input.canary != nullptr ? input.canary->predictions : 0,
                               input.min_events);
}

/// The horizon of insufficient_ensemble's verdict: fewer than min_events events with an active
/// vote (horizon_below_minimum).
inline std::uint64_t insufficient_ensemble_horizon(const CheckInput& input) noexcept {
  return horizon_below_minimum(input.window != nullptr ? input.window->ensemble.events : 0,
                               input.min_events);
}

/// Appends std::to_string's text of `n` to `out`, in place (a message composed at every event
/// allocates nothing once it has grown).
inline void append_count(std::string& out, std::uint64_t n) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, n).ptr);
}

/// Sets figure `at` of `figures` (growing it to hold it), keeping the name's storage: a result
/// kept between checks sees the same names at every check.
inline void put_figure(std::vector<Figure>& figures, std::size_t at, std::string_view name,
                       double value) {
  if (figures.size() <= at) figures.resize(at + 1);
  assign_changed(figures[at].name, name);
  figures[at].value = value;
}

/// Sets `out`'s figures to exactly `figures`, in order, keeping each name's storage (put_figure).
inline void set_figures(CheckResult& out,
                        std::initializer_list<std::pair<std::string_view, double>> figures) {
  std::size_t at = 0;
  for (const auto& [name, value] : figures) put_figure(out.figures, at++, name, value);
  out.figures.resize(figures.size());
}

/// Copies `from` over `to`, keeping the storage of to's message and figures' names, and leaves
/// room for `figures_after` more figures the caller writes next (put_figure): sizing `to` for
/// them now keeps their names' storage too, where shrinking it to from's size would free them.
inline void copy_result(const CheckResult& from, CheckResult& to, std::size_t figures_after = 0) {
  to.verdict = from.verdict;
  to.message.assign(from.message);
  to.figures.resize(from.figures.size() + figures_after);
  for (std::size_t i = 0; i < from.figures.size(); ++i) {
    put_figure(to.figures, i, from.figures[i].name, from.figures[i].value);
  }
}

/// The one threshold of a per-model detector: where it is read and what it may be.
struct ThresholdSpec {
  const char* plugin;  ///< plugin name, e.g. "action_collapse" (names the section in errors)
  const char* title;   ///< message title, e.g. "Action collapse"
  const char* key;     ///< section key, e.g. "max_share_pct"
  double fallback;     ///< docs/design.md's default
  double min;
  ConfigSection::End min_end;  ///< kExcluded where the floor would switch the check off
  double max;
  ConfigSection::End max_end;  ///< kExcluded where the ceiling would switch the check off
  const char* why;             ///< what the excluded end would do (shown in refusals)
  /// The key's entry in the config schema (qsc/plugin_abi.h): the same range and default.
  const char* schema;
};

/// An SDK check of one model against one threshold, writing into a result (check_action_collapse,
/// ...: the form that keeps the result's storage, qsc/checks.hpp).
using ModelCheck = void (*)(const ModelStats&, double, CheckResult&);

/// The verdict horizon of a pass of a per-model check (its threshold given); nullptr: none.
using PassHorizon = std::uint64_t (*)(const CheckInput&, double);

/// How far a bound found by search is searched: the host honours a horizon up to 1,000 events
/// (docs/design.md, "Verdict horizons"), so a longer one would cost the search and change nothing.
inline constexpr std::uint64_t kMostHorizonSearched = 1024;

/// The horizon of a pass of "std >= min_std" (flat_predictions, constant_output), the population
/// standard deviation of the canary's m usable confidences S, whose sum of squared deviations is
/// M2 = m std^2. Within k <= floor(m/2) - 1 events the window removes r <= k of them (R, its
/// oldest events', all in S) and adds a <= k (A), leaving F = K + A with K = S - R:
///   - adding values never lowers the sum of squared deviations (about F's own mean, F's is at
///     least K's about F's mean, at least K's about K's mean), so M2(F) >= M2(K);
///   - M2(K) = sum over S of (x - mean_K)^2 - sum over R of (x - mean_K)^2 >= M2 - sum over R;
///   - with G = max(x_max - mean, mean - x_min) over S, mean_K - mean = r (mean - mean_R) /
///     (m - r) is at most r G / (m - r), so each x of R is within G m / (m - r) of mean_K.
/// Hence after k events std'^2 = M2(F) / |F| >= (M2 - k (G m / (m - k))^2) / (m + k), which is
/// at least min_std^2 while M2 - k (G m / (m - k))^2 >= min_std^2 (m + k): the left side falls
/// with k and the right rises, so the largest such k is bisected. x_min and x_max are the
/// host's ranks (CheckInput::canary_ranks) when given for these m, else 0 and 1 (a usable
/// confidence lies in [0, 1]); G gets 1e-9 for the screened mean. The samples stay more than
/// m/2 > 0 (no "no usable confidence" violation) and the check stays judged while
/// k <= predictions - min_events. One event of margin covers the screened standard deviation
/// (within 1e-12 relative of the exact one, canary_window.hpp).
inline std::uint64_t std_floor_horizon(const CheckInput& input, double min_std) {
  const ModelStats& m = *input.canary;
  if (m.confidence_samples < 4 || !(m.conf_std >= min_std) || !std::isfinite(m.conf_mean)) {
    return 0;
  }
  const RankedConfidences& ranks = input.canary_ranks;
  const bool ranked = ranks.available() && ranks.count == m.confidence_samples;
  const double lowest = ranked ? ranks.kth(0) : 0.0;
  const double highest = ranked ? ranks.kth(m.confidence_samples - 1) : 1.0;
  const double reach = std::max(highest - m.conf_mean, m.conf_mean - lowest) + 1e-9;
  const double samples = static_cast<double>(m.confidence_samples);
  const double spread = m.conf_std * m.conf_std * samples;  // M2
  const double floor_sq = min_std * min_std;
  const auto holds = [&](std::uint64_t k) {
    const double kd = static_cast<double>(k);
    const double cost = reach * samples / (samples - kd);
    return spread - kd * cost * cost >= floor_sq * (samples + kd);
  };
  const std::uint64_t most =
      std::min<std::uint64_t>(m.confidence_samples / 2 - 1, kMostHorizonSearched);
  if (!holds(1)) return 0;
  // The largest k in [1, most] that holds (lo), bisected: holds(lo), not holds(hi + 1).
  std::uint64_t lo = 1;
  std::uint64_t hi = most;
  while (lo < hi) {
    const std::uint64_t mid = lo + (hi - lo + 1) / 2;
    if (holds(mid)) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return std::min(lo - 1, horizon_above_minimum(m.predictions, input.min_events));
}

/// The horizon of a pass of the literal share rule "c * 100 / n > threshold_pct" (c the
/// canary's votes for `action` among its n >= min_events predictions; dead_zone, action_collapse
/// and quality_gate's two share checks, for the most voted action every action's share is at
/// most its share). In k events c grows by at most k and the predictions of other actions,
/// n - c, fall by at most k, so the share is at most (c + k) / (c + k + (n - c - k)) = (c + k) / n
/// (when n - c < k that bound is already above 1 > threshold / 100): it stays at or below the
/// threshold while k <= threshold * n / 100 - c, and the canary stays judged while
/// k <= n - min_events.
inline std::uint64_t share_pass_horizon(const ModelStats& m, std::uint64_t min_events,
                                        double threshold_pct, Vote action) {
  const auto c = m.votes[static_cast<std::size_t>(action)];
  const double slack =
      threshold_pct * static_cast<double>(m.predictions) / 100.0 - static_cast<double>(c);
  return std::min(horizon_of_slack(slack), horizon_above_minimum(m.predictions, min_events));
}

/// The lower bound on the canary's P90 - P10 after `k` more accepted events, from its m usable
/// confidences ranked x_0 <= ... <= x_{m-1} now (CheckInput::canary_ranks); NaN when the ranks
/// it needs do not exist. numpy's linear percentile of m' values is P_q = x'[f] + (h - f)
/// (x'[f+1] - x'[f]) with h = (m' - 1) q / 100 and f = floor(h), so x'[floor(h)] <= P_q <=
/// x'[ceil(h)]. An accepted event adds at most one confidence of the canary (the window keeps
/// its first prediction of an event) and removes at most one (the oldest event's), so after k
/// events m' lies in [m - k, m + k], and the i-th smallest x'_i in [x_{i-k}, x_{i+k}] (k
/// insertions move a value's rank up by at most k, k removals down by at most k). Hence
///     P90' >= x'[floor(0.9 (m' - 1))] >= x[floor(0.9 (m - k - 1)) - k]
///     P10' <= x'[ceil(0.1 (m' - 1))]  <= x[ceil(0.1 (m + k - 1)) + k],
/// with one more rank each way for a host whose h is rounded across an integer (the ranks are
/// computed here in integers, exactly). The bound only falls as k grows.
inline double range_floor_after(const RankedConfidences& ranks, std::uint64_t m, std::uint64_t k) {
  if (k + 1 >= m) return std::numeric_limits<double>::quiet_NaN();
  const std::uint64_t p90_rank = 9 * (m - k - 1) / 10;  // floor(0.9 (m - k - 1))
  const std::uint64_t p10_rank = (m + k - 1 + 9) / 10;  // ceil(0.1 (m + k - 1))
  if (p90_rank < k + 1 || p10_rank + k + 1 >= m) return std::numeric_limits<double>::quiet_NaN();
  return ranks.kth(p90_rank - k - 1) - ranks.kth(p10_rank + k + 1);
}

/// The horizon of a pass of "P90 - P10 >= min_range" (narrow_range, constant_output): the
/// largest k whose range_floor_after is at least min_range + 1e-12 (the host's P90 - P10 is a
/// difference of two interpolations of values in [0, 1], within a few 1e-16 of the exact one;
/// P10 and P90 themselves are exact in both of its paths, canary_window.hpp), found by
/// bisection (the bound falls with k: O(log^2 n)), less one event of margin, and at most
/// floor(m / 2) - 1 (so more than m / 2 > 0 usable confidences remain: no "no usable
/// confidence" violation) and predictions - min_events (still judged). None without the host's
/// ranks (the gate, the scoreboard, an interval check, a host older than ABI 2.2) or when they
/// are not the m confidences the figures were read from.
inline std::uint64_t range_floor_horizon(const CheckInput& input, double min_range) {
  const ModelStats& m = *input.canary;
  const RankedConfidences& ranks = input.canary_ranks;
  if (!ranks.available() || ranks.count != m.confidence_samples || m.confidence_samples < 4 ||
      !(m.range >= min_range)) {
    return 0;
  }
  const std::uint64_t samples = m.confidence_samples;
  const double floor_needed = min_range + 1e-12;
  // The largest k in [0, most] whose bound holds (lo), bisected: bound(lo) holds, bound(hi + 1)
  // does not or is past `most`.
  const std::uint64_t most = std::min<std::uint64_t>(samples / 2 - 1, kMostHorizonSearched);
  if (!(range_floor_after(ranks, samples, 1) >= floor_needed)) return 0;
  std::uint64_t lo = 1;
  std::uint64_t hi = most;
  while (lo < hi) {
    const std::uint64_t mid = lo + (hi - lo + 1) / 2;
    if (range_floor_after(ranks, samples, mid) >= floor_needed) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return std::min(lo - 1, horizon_above_minimum(m.predictions, input.min_events));
}

/// A detector judging the canary with one SDK check and one threshold; `Horizon`, when given,
/// is the verdict horizon of its pass (an insufficient verdict's is horizon_below_minimum).
template <const ThresholdSpec& Spec, ModelCheck Check, PassHorizon Horizon = nullptr>
class CanaryThresholdDetector final
    : public IntoDetector<CanaryThresholdDetector<Spec, Check, Horizon>> {
 public:
  static constexpr const char* kConfigSchema = Spec.schema;

  explicit CanaryThresholdDetector(double threshold) : threshold_(threshold) {}

  /// Reads the one key of the section; anything else in it is refused.
  static Result<std::unique_ptr<CanaryThresholdDetector>> create(const nlohmann::json& section,
                                                                 const nlohmann::json& /*host*/) {
    ConfigSection config(section, std::string("plugins.config.") + Spec.plugin);
    const double threshold = config.number(Spec.key, Spec.fallback, Spec.min, Spec.min_end,
                                           Spec.max, Spec.max_end, Spec.why);
    if (auto status = config.finish(); !status) return status.error();
    return std::make_unique<CanaryThresholdDetector>(threshold);
  }

  /// check() over the previous result (qsc/plugin.hpp): no allocation per check.
  void check_into(const CheckInput& input, CheckResult& out) {
    if (insufficient_canary(input, Spec.title, out)) {
      out.horizon_events = insufficient_canary_horizon(input);
      return;
    }
    Check(*input.canary, threshold_, out);
    if constexpr (Horizon != nullptr) {
      if (out.verdict == Verdict::kPass) out.horizon_events = Horizon(input, threshold_);
    }
  }

  std::string effective_config() const override {
    return nlohmann::json{{Spec.key, threshold_}}.dump();
  }

 private:
  double threshold_;
};

}  // namespace qsc::detectors
