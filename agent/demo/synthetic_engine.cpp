// The synthetic engine.
#include "demo/synthetic_engine.hpp"

#include <array>

namespace qsc::agent {
namespace {

struct ModelInfo {
  const char* name;
  const char* model_string;
};
constexpr ModelInfo kModels[] = {
    {"xgb", "xgboost"}, {"lgbm", "lightgbm"}, {"nhits", "nhits"}, {"patchtst", "patchtst"}};

}  // namespace

SyntheticEngine::SyntheticEngine(std::string canary_model, std::uint64_t seed)
    : canary_(std::move(canary_model)), rng_(seed) {}

Vote SyntheticEngine::follow(Vote signal) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  if (u(rng_) < 0.70) return signal;
  if (signal != Vote::kHold && u(rng_) < 0.85) return Vote::kHold;
  // The remaining deviations pick one of the two other actions at random.
  const Vote others[2] = {signal == Vote::kBuy ? Vote::kSell : Vote::kBuy,
                          signal == Vote::kHold ? Vote::kSell : Vote::kHold};
  return others[u(rng_) < 0.5 ? 0 : 1];
}

TradeIntent SyntheticEngine::next(std::uint64_t time_ms, CanaryBehaviour canary) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::uniform_real_distribution<double> conf(0.45, 0.95);
  const double r = u(rng_);
  const Vote signal = r < 0.35 ? Vote::kBuy : r < 0.65 ? Vote::kSell : Vote::kHold;
  TradeIntent e;
  e.time_ms = time_ms;
  e.seq = seq_++;
  e.symbol = (e.seq % 3 == 0) ? "BTCUSDT" : (e.seq % 3 == 1) ? "ETHUSDT" : "SOLUSDT";
  std::array<int, kVoteKinds> votes{};
  for (const auto& m : kModels) {
    Prediction p;
    p.model = m.name;
    p.model_string = m.model_string;
    if (canary == CanaryBehaviour::kHoldCollapse && canary_ == m.name) {
      p.action = Vote::kHold;
      p.confidence = 0.50 + 0.002 * u(rng_);
    } else {
      p.action = follow(signal);
      p.confidence = conf(rng_);
    }
    p.raw_confidence = p.confidence;
    ++votes[static_cast<std::size_t>(p.action)];
    e.predictions.push_back(std::move(p));
  }
  std::size_t best = 0;
  for (std::size_t i = 1; i < kVoteKinds; ++i) {
    if (votes[i] > votes[best]) best = i;
  }
  e.side = static_cast<Vote>(best);
  e.confidence = conf(rng_);
  return e;
}

}  // namespace qsc::agent
