// Simulated ensembles for the distribution_shift tests: four models (the canary and three
// peers) whose events are correlated through a shared market regime (trending up or down,
// ranging, quiet; switching at random), each model following the event's common signal most of
// the time, with confidences around the regime's level plus the model's own noise (optionally
// autocorrelated). A healthy canary is drawn from the same process as its peers; a degraded one
// bends one of its outputs from an onset event on.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

#include "qsc/event.hpp"

namespace qsc::shift_test {

/// How the canary departs from its peers from the onset on.
enum class Degradation {
  kNone,
  kHoldCollapse,  ///< P(HOLD instead of its own vote) rises linearly to 0.9 over the ramp
  kFlattening,    ///< its confidence std shrinks linearly to 0.02 over the ramp
  kDrift,         ///< its confidence mean rises linearly by 0.15 over the ramp, spread kept
  kInversion,     ///< on 25% of events it votes the opposite of the peers' majority
};

struct ScenarioSpec {
  Degradation degradation = Degradation::kNone;
  std::uint64_t onset_event = 0;  ///< the first degraded event (0-based)
  std::uint64_t ramp_events = 1;  ///< events from the onset to the full effect
  /// Autocorrelation of each model's confidence noise (AR(1) coefficient; 0: independent).
  double noise_autocorrelation = 0.0;
  double noise_std = 0.1;
};

/// Generates the events of one simulated period, deterministically for a seed.
class EnsembleSimulator {
 public:
  EnsembleSimulator(std::string canary_model, const ScenarioSpec& spec, std::uint64_t seed);

  /// Writes the next event into `event` (reusing its storage).
  void next(TradeIntent& event);
  /// Events generated so far.
  std::uint64_t events() const noexcept { return events_; }

  static constexpr std::size_t kModels = 4;  ///< index 0 is the canary

 private:
  double uniform() { return unit_(rng_); }
  Vote draw_vote(const std::array<double, kVoteKinds>& shares);
  double progress() const;  ///< 0 before the onset, rising to 1 at onset + ramp

  ScenarioSpec spec_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> unit_{0.0, 1.0};
  std::normal_distribution<double> normal_{0.0, 1.0};
  std::array<std::string, kModels> names_;
  std::array<double, kModels> noise_{};
  std::size_t regime_ = 0;
  std::uint64_t events_ = 0;
};

}  // namespace qsc::shift_test
