// A synthetic AI engine for `qsc demo`, the end-to-end tests and the benchmarks: four models
// voting on a market signal with realistic spread, and a canary that can be made to fail in
// each of the ways docs/design.md's detectors look for.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "qsc/event.hpp"

namespace qsc::agent {

/// What the canary model (or, for the ensemble kinds, the ensemble) does. Each kind other than
/// kHealthy and kLogit violates docs/design.md's thresholds by a clear margin.
enum class CanaryBehaviour {
  kHealthy,         ///< like the others
  kHoldCollapse,    ///< always HOLD with nearly constant confidence (a dead model)
  kActionCollapse,  ///< BUY 80%, confidence spread normal: action_collapse
  kDeadZone,        ///< HOLD 90%, confidence spread normal: dead_zone (and action_collapse)
  kFlat,            ///< confidence 0.70 with 12% at 0.60 and 12% at 0.75: std ~0.04, P10-P90 0.15
  kNarrow,          ///< 90% within 0.68-0.72, 5% at 0.20, 5% at 0.98: std ~0.13, P10-P90 ~0.04
  kConstant,        ///< confidence exactly 0.60: constant (and flat, narrow)
  kAgreementHigh,   ///< every model always follows the signal: agreement 100%
  kHardDisagree,    ///< the canary votes against a BUY/SELL signal half the time: > 20%
  kLogit,           ///< the canary sends logits (1.05 to 4.0): normalized, healthy
  kNaNConfidence,   ///< the canary's confidence is NaN: a confidence violation
  kFallback,        ///< the canary reports model "<canary>_fallback": inactive
  kCanarySilent,    ///< the events go on without the canary's prediction (its peers publish)
};

/// Parses "healthy", "hold_collapse", "action_collapse", "dead_zone", "flat", "narrow",
/// "constant", "agreement_high", "hard_disagree", "logit", "nan_confidence", "fallback",
/// "canary_silent".
std::optional<CanaryBehaviour> parse_behaviour(std::string_view name);

/// Generates trade intents. Deterministic for a seed.
class SyntheticEngine {
 public:
  SyntheticEngine(std::string canary_model, std::uint64_t seed);

  /// The next intent at `time_ms`. The four models follow a shared market signal 70% of the
  /// time and otherwise mostly fall back to HOLD, which gives agreement near 74% and hard
  /// disagreement near 12% (inside docs/design.md's 55-80% and < 20%); confidences spread over
  /// [0.45, 0.95] (std about 0.14, P10-P90 about 0.4).
  TradeIntent next(std::uint64_t time_ms, CanaryBehaviour canary);

 private:
  Vote follow(Vote signal);
  Prediction canary_prediction(Vote signal, CanaryBehaviour behaviour, const char* model_string);
  std::string canary_;
  std::mt19937_64 rng_;
  std::uint64_t seq_ = 0;
};

}  // namespace qsc::agent
