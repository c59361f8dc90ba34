// Canary attribution for the ensemble checks (ensemble_dysfunction, model_chaos): whether the
// canary's own votes are what moves an ensemble figure, as opposed to the market or the peers
// (docs/ACCURACY.md, "Ensemble attribution"). Header-only, like detector_support.hpp, so each
// detector stays one library built against the SDK alone.
//
// Per event with an active canary vote and at least one active peer vote, the canary's excess
// effect on a per-event figure f (agreement, hard disagreement) is
//     x_t = mean over peers j of f(votes without peer j) - f(votes without the canary),
// the figure of an ensemble of the same size with the canary in it (in place of one peer) minus
// the figure of the peers alone. x_t is bounded: in [-1, 1] for both figures. When the canary
// is one more model like its peers, the two terms have the same expectation (the market and
// the peers cancel), so E x_t = 0: a trend that makes every model agree, or a quiet market that
// makes every model's noise split the votes, moves both terms alike.
//
// Evidence is a one-sided test by betting in each direction (Waudby-Smith and Ramdas):
//     K+_t = prod_s (1 + l+_s (x_s - d)),   K-_t = prod_s (1 + l-_s (-x_s - d)),
// predictable bets l in [0, 1 / (2 (1 + d))], so each is a nonnegative supermartingale with
// K_0 = 1 while the canary's excess in its direction is at most d, and Ville's inequality
// bounds the probability that it EVER reaches 1/alpha by alpha, however often it is read.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "betting_test.hpp"
#include "qsc/config_section.hpp"
#include "qsc/detector.hpp"
#include "qsc/result.hpp"

namespace qsc::detectors {

/// Whom the ensemble check blames for an out-of-band figure.
enum class Attribution {
  kCanary,    ///< only the canary, when its own excess effect is what moves the figure
  kEnsemble,  ///< the runbook's literal rule: the figure alone, whatever moved it
};

inline constexpr const char* kAttributionCanary = "canary";
inline constexpr const char* kAttributionEnsemble = "ensemble";

inline const char* attribution_name(Attribution a) noexcept {
  return a == Attribution::kCanary ? kAttributionCanary : kAttributionEnsemble;
}

/// The default: the accuracy benchmark's evidence (docs/ACCURACY.md, "Ensemble attribution").
inline constexpr Attribution kDefaultAttribution = Attribution::kCanary;

// The schema entry both ensemble detectors declare (qsc/plugin_abi.h's schema; the string's
// two values are checked by create, which names the key and the allowed values).
// clang-format off
#define QSC_ATTRIBUTION_SCHEMA_ENTRY R"json("attribution": {"type": "string", "values": ["canary", "ensemble"], "default": "canary", "description": "\"canary\": fire only when the figure is out of band and the canary's own votes, beyond what a peer's do, are what moves it there (a sequential test: a false alarm at most 0.001 over the period); \"ensemble\": the runbook's literal rule, the figure alone. The gate and the scoreboard judge a window without a canary and always use the literal rule"})json"
// clang-format on

/// A plugin section split into its attribution and the rest (the thresholds' keys).
struct AttributedSection {
  Attribution attribution = kDefaultAttribution;
  nlohmann::json thresholds = nlohmann::json::object();
};

/// Reads and removes "attribution" from `section`; the rest is left for the thresholds' reader
/// (which refuses unknown keys). A value other than the two is a named error.
inline Result<AttributedSection> read_attribution(const nlohmann::json& section,
                                                  const std::string& plugin) {
  AttributedSection out;
  if (!section.is_object()) {
    out.thresholds = section;  // the thresholds' reader names the problem
    return out;
  }
  out.thresholds = section;
  nlohmann::json own = nlohmann::json::object();
  if (auto it = out.thresholds.find("attribution"); it != out.thresholds.end()) {
    own["attribution"] = *it;
    out.thresholds.erase(it);
  }
  ConfigSection s(own, "plugins.config." + plugin);
  const std::string value = s.string("attribution", kAttributionCanary);
  if (value == kAttributionCanary) {
    out.attribution = Attribution::kCanary;
  } else if (value == kAttributionEnsemble) {
    out.attribution = Attribution::kEnsemble;
  } else if (own.contains("attribution") && own["attribution"].is_string()) {
    s.fail("attribution", "must be \"canary\" or \"ensemble\", got \"" + value + "\"");
  }
  if (auto status = s.finish(); !status) return status.error();
  return out;
}

/// The per-event figures whose attribution is tested.
enum class EnsembleFigure {
  kAgreement,     ///< largest vote count / votes
  kHardDisagree,  ///< 1 when there is a BUY and a SELL vote
};

/// One event's figure over vote counts (at least one vote).
inline double event_figure(EnsembleFigure figure,
                           const std::array<std::size_t, kVoteKinds>& votes) noexcept {
  if (figure == EnsembleFigure::kHardDisagree) {
    return votes[static_cast<std::size_t>(Vote::kBuy)] > 0 &&
                   votes[static_cast<std::size_t>(Vote::kSell)] > 0
               ? 1.0
               : 0.0;
  }
  const std::size_t total = votes[0] + votes[1] + votes[2];
  return static_cast<double>(std::max({votes[0], votes[1], votes[2]})) / static_cast<double>(total);
}

/// x_t for one event (see the top of this file), or nullopt when the event has no active
/// canary vote or no active peer vote. O(models).
inline std::optional<double> canary_excess(EnsembleFigure figure, const TradeIntent& event,
                                           std::string_view canary) noexcept {
  std::array<std::size_t, kVoteKinds> votes{};
  std::optional<std::size_t> canary_vote;
  for (const auto& p : event.predictions) {
    if (p.is_inactive()) continue;  // not voting: counted by neither figure
    const auto kind = static_cast<std::size_t>(p.action);
    if (!canary_vote && p.model == canary) canary_vote = kind;
    ++votes[kind];
  }
  const std::size_t total = votes[0] + votes[1] + votes[2];
  if (!canary_vote || total < 2) return std::nullopt;
  // The figure without one vote of each kind: without the canary, or without a peer that
  // voted that kind (every peer of a kind leaves the same counts).
  std::array<double, kVoteKinds> without{};
  for (std::size_t k = 0; k < kVoteKinds; ++k) {
    if (votes[k] == 0) continue;
    auto rest = votes;
    --rest[k];
    without[k] = event_figure(figure, rest);
  }
  auto peer_votes = votes;
  --peer_votes[*canary_vote];
  double with_canary = 0.0;
  for (std::size_t k = 0; k < kVoteKinds; ++k) {
    with_canary += static_cast<double>(peer_votes[k]) * without[k];
  }
  with_canary /= static_cast<double>(total - 1);
  return with_canary - without[*canary_vote];
}

/// The canary's excess effect on one ensemble figure since its activation, folded from
/// CheckInput::new_events; started again when the canary changes.
class CanaryAttribution {
 public:
  /// The excess per event the null allows, in the figure's own units (a share of events for
  /// hard disagreement, an agreement fraction): 0.03 is 3 points of the percentage. Not 0: the
  /// models have memory, so a healthy canary's excess is 0 on average but not event by event.
  static constexpr double kMinExcess = 0.03;
  /// The false-alarm probability of each direction over a period (Ville's inequality).
  static constexpr double kAlpha = 0.001;
  /// The bets follow the excess over about this many events: long against the models' own
  /// memory (the benchmark's noise persists about 10 events), so a healthy canary's passing
  /// quirk is not bet on; short against a 6-hour period, so a change hours in is bet on soon.
  static constexpr double kBetMemoryEvents = 1024.0;

  explicit CanaryAttribution(EnsembleFigure figure)
      : figure_(figure), test_(kMinExcess, kBetMemoryEvents), log_threshold_(-std::log(kAlpha)) {}

  /// Folds in the evaluation's new events for its canary. A call without a canary (the
  /// scoreboard the monitor and replay write at each interval check runs the same instance on
  /// the window alone) leaves the state as it is.
  void fold(const CheckInput& input) {
    if (input.canary_model.empty()) return;
    if (input.canary_model != canary_) {
      canary_ = std::string(input.canary_model);
      test_ = BettingTest(kMinExcess, kBetMemoryEvents);
    }
    for (const auto& event : input.new_events) {
      if (auto x = canary_excess(figure_, event, canary_)) test_.add(*x);
    }
  }

  /// True when the evidence that the canary pushes the figure up (or down) has reached 1/alpha.
  bool attributed(bool up) const noexcept { return log_wealth(up) >= log_threshold_; }

  /// The figures a verdict reports: the mean excess in percentage points, the evidence.
  void add_figures(std::vector<Figure>& figures, bool up) const {
    figures.push_back({"canary_excess_pct", 100.0 * test_.mean()});
    figures.push_back({"log10_e_value", log_wealth(up) / std::log(10.0)});
    figures.push_back({"log10_threshold", log_threshold_ / std::log(10.0)});
    figures.push_back({"paired_events", static_cast<double>(test_.events())});
  }

  /// "+4.1 points beyond a peer's over 380 events (e-value 1234 >= 1000)" and the like: the
  /// canary's mean excess since activation and the evidence in the verdict's direction.
  std::string explain(bool up) const {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "%+.1f points beyond a peer's over %llu events (e-value %s %s %s)",
                  100.0 * test_.mean(), static_cast<unsigned long long>(test_.events()),
                  e_value_text(log_wealth(up)).c_str(), attributed(up) ? ">=" : "<",
                  e_value_text(log_threshold_).c_str());
    return buf;
  }

  const std::string& canary() const noexcept { return canary_; }

 private:
  // log K: the evidence that the canary pushes the figure up (`up`) or down.
  double log_wealth(bool up) const noexcept {
    return up ? test_.log_wealth_above() : test_.log_wealth_below();
  }

  EnsembleFigure figure_;
  BettingTest test_;
  double log_threshold_;
  std::string canary_;
};

/// The verdict of an ensemble check under `attribution`: `literal` is the runbook rule's result
/// on the window; `up` whether its violation means the figure is too high. Where there is no
/// canary (the gate, the scoreboard) or the rule is "ensemble", the literal result stands.
inline CheckResult attribute(CheckResult literal, Attribution attribution, const CheckInput& input,
                             const CanaryAttribution& canary, bool up) {
  if (attribution == Attribution::kEnsemble || input.canary_model.empty()) return literal;
  canary.add_figures(literal.figures, up);
  if (literal.verdict != Verdict::kViolation) return literal;
  if (canary.attributed(up)) {
    literal.message += ", caused by " + canary.canary() + ": " + canary.explain(up);
    return literal;
  }
  // Out of band, but not by the canary's doing: the market or the peers moved the figure, and
  // rolling the canary back would not move it back (docs/ACCURACY.md, "Ensemble attribution").
  literal.verdict = Verdict::kPass;
  literal.message += ", not attributed to " + canary.canary() + ": " + canary.explain(up);
  return literal;
}

}  // namespace qsc::detectors
