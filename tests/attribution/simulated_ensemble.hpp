// The simulated ensembles of the attribution tests: a canary and its peers voting on a common
// market signal, deterministic for a seed.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "qsc/event.hpp"

namespace qsc::attribution_test {

inline constexpr const char* kCanary = "patchtst";

/// The markets of the simulation. Every model sees the event's common signal.
enum class Market {
  kTrend,     ///< the signal is BUY or SELL for 500 events at a time; models follow it 93%
  kQuiet,     ///< no signal: each model votes BUY 35%, SELL 35%, HOLD 30% on its own
  kRange,     ///< the signal is BUY, SELL or HOLD at random; models follow it 90% of events
  kBuyTrend,  ///< a trend longer than the window: the signal is BUY; models follow it 85%
  kNoEdge,    ///< no edge for longer than the window: the signal is HOLD; models follow it 93%
};

/// What the canary does.
enum class Canary {
  kHealthy,   ///< one more model like its peers
  kInverted,  ///< on half of the events it votes the opposite of its peers' BUY or SELL majority
  kHoldCollapse,  ///< HOLD on 95% of events, whatever the market
  kStuck,         ///< repeats its first vote forever
  kFlat,          ///< votes as its peers do, with the confidence 0.6 on every event
};

/// Generates the events of one period, deterministically for a seed: the canary (first) and
/// `peers` peers (at most three).
class Ensemble {
 public:
  Ensemble(Market market, Canary canary, std::uint64_t seed, std::size_t peers = 3)
      : market_(market), canary_(canary), peers_(peers), rng_(seed) {}

  TradeIntent next();

 private:
  double uniform() { return unit_(rng_); }
  Vote signal_for(std::uint64_t event);
  Prediction vote(const char* model, Vote signal);

  Market market_;
  Canary canary_;
  std::size_t peers_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> unit_{0.0, 1.0};
  std::uint64_t events_ = 0;
  std::optional<Vote> stuck_vote_;
};

}  // namespace qsc::attribution_test
