// The accuracy benchmark's scenario generator (issue 17 section 3; docs/ACCURACY.md): engine
// telemetry for four models whose predictions are correlated through a shared market regime, a
// healthy canary drawn from the same process as its peers, or a canary that degrades in one of
// eight ways from a random onset.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "prng.hpp"
#include "qsc/event.hpp"

namespace qsc::accuracy {

/// What happens to the canary from the onset on.
enum class Degradation {
  kNone,             ///< healthy: the canary is drawn exactly as its peers
  kHoldCollapse,     ///< sudden: 95% of its votes become HOLD
  kGradualCollapse,  ///< its HOLD share rises linearly to 90% over 2 h
  kFlattening,       ///< its confidence std shrinks linearly to 0.02 over 2 h
  kConfidenceDrift,  ///< its confidence mean rises linearly by 0.15 over 1 h, spread unchanged
  kInverted,         ///< votes the opposite of its peers' majority on 25% of events
  kStuck,            ///< repeats its last output (action and confidence)
  kNaNBursts,        ///< intermittent bursts of NaN confidences
  kSilence,          ///< the engine stops publishing the canary's prediction
};

/// "healthy", "hold_collapse", "gradual_collapse", "flattening", "confidence_drift",
/// "inverted", "stuck", "nan_bursts", "silence".
std::string_view degradation_name(Degradation d) noexcept;
std::optional<Degradation> parse_degradation(std::string_view name) noexcept;

/// The market regimes.
enum class Regime { kTrending, kRanging, kQuiet, kVolatile };
std::string_view regime_name(Regime r) noexcept;

/// One scenario: which degradation, which seed, how long and how fast.
struct ScenarioSpec {
  Degradation degradation = Degradation::kNone;
  std::uint64_t seed = 0;               ///< the seed number (0, 1, ...) within its kind
  std::uint64_t start_ms = 0;           ///< the first event's time (the canary's activation)
  std::uint64_t events = 43200;         ///< 6 h at 2 events/s
  std::uint64_t spacing_ms = 500;       ///< between events
  std::uint64_t onset_min_ms = 900000;  ///< onset drawn uniformly in [min, max) after start
  std::uint64_t onset_max_ms = 12600000;
};

/// The scenario's 64-bit PRNG seed: SplitMix64 over (degradation, seed number), so every kind
/// and seed has its own stream and a healthy seed N never shares one with a degraded seed N.
std::uint64_t scenario_seed(Degradation d, std::uint64_t seed) noexcept;

/// Generates the events one by one.
class ScenarioGenerator {
 public:
  static constexpr std::size_t kModels = 4;
  static constexpr std::size_t kCanary = 3;  ///< patchtst
  static constexpr const char* kModelNames[kModels] = {"xgb", "lgbm", "nhits", "patchtst"};
  static constexpr const char* kModelStrings[kModels] = {"xgboost", "lightgbm", "nhits",
                                                         "patchtst"};

  explicit ScenarioGenerator(const ScenarioSpec& spec);

  /// The next event (index() of them produced so far); the canary's prediction is missing
  /// during silence.
  qsc::TradeIntent next();

  std::uint64_t index() const noexcept { return index_; }
  /// The onset's event index and time (healthy: none, reported as 0).
  std::uint64_t onset_index() const noexcept { return onset_index_; }
  std::uint64_t onset_ms() const noexcept {
    return spec_.start_ms + onset_index_ * spec_.spacing_ms;
  }
  Regime regime() const noexcept { return regime_; }

 private:
  struct ModelState {
    double score_noise = 0.0;       ///< AR(1): the model's own view of the market
    double confidence_noise = 0.0;  ///< AR(1): its calibration wobble
  };

  void advance_market();
  qsc::Prediction healthy_prediction(std::size_t model);
  void degrade(qsc::Prediction& canary, const qsc::Vote peers_majority);
  /// Hours since the onset (negative before it).
  double hours_since_onset() const noexcept;

  ScenarioSpec spec_;
  Prng rng_;
  std::uint64_t index_ = 0;
  std::uint64_t onset_index_ = 0;
  Regime regime_ = Regime::kQuiet;
  double trend_direction_ = 1.0;
  std::uint64_t regime_ends_ = 0;  ///< event index of the next switch
  double market_ = 0.0;            ///< AR(1) part of the common signal
  ModelState models_[kModels];
  std::optional<qsc::Prediction> last_canary_;  ///< what a stuck canary repeats
  std::uint64_t nan_burst_ends_ = 0;            ///< event index; 0 outside a burst
  std::uint64_t next_nan_burst_ = 0;            ///< event index of the next burst
};

}  // namespace qsc::accuracy
