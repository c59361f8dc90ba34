// The synthetic engine.
#include "demo/synthetic_engine.hpp"

#include <array>
#include <cmath>
#include <limits>
#include <utility>

namespace qsc::agent {
namespace {

struct ModelInfo {
  const char* name;
  const char* model_string;
};
constexpr ModelInfo kModels[] = {
    {"xgb", "xgboost"}, {"lgbm", "lightgbm"}, {"nhits", "nhits"}, {"patchtst", "patchtst"}};

}  // namespace

std::optional<CanaryBehaviour> parse_behaviour(std::string_view name) {
  static constexpr std::pair<std::string_view, CanaryBehaviour> kNames[] = {
      {"healthy", CanaryBehaviour::kHealthy},
      {"hold_collapse", CanaryBehaviour::kHoldCollapse},
      {"action_collapse", CanaryBehaviour::kActionCollapse},
      {"dead_zone", CanaryBehaviour::kDeadZone},
      {"flat", CanaryBehaviour::kFlat},
      {"narrow", CanaryBehaviour::kNarrow},
      {"constant", CanaryBehaviour::kConstant},
      {"agreement_high", CanaryBehaviour::kAgreementHigh},
      {"hard_disagree", CanaryBehaviour::kHardDisagree},
      {"logit", CanaryBehaviour::kLogit},
      {"nan_confidence", CanaryBehaviour::kNaNConfidence},
      {"fallback", CanaryBehaviour::kFallback},
      {"canary_silent", CanaryBehaviour::kCanarySilent}};
  for (auto [n, b] : kNames) {
    if (n == name) return b;
  }
  return std::nullopt;
}

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

Prediction SyntheticEngine::canary_prediction(Vote signal, CanaryBehaviour behaviour,
                                              const char* model_string) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::uniform_real_distribution<double> conf(0.45, 0.95);
  Prediction p;
  p.model = canary_;
  p.model_string = model_string;
  p.action = follow(signal);
  p.confidence = conf(rng_);
  const double r = u(rng_);
  switch (behaviour) {
    case CanaryBehaviour::kHealthy:
      break;
    case CanaryBehaviour::kAgreementHigh:
      p.action = signal;
      break;
    case CanaryBehaviour::kHoldCollapse:
      p.action = Vote::kHold;
      p.confidence = 0.50 + 0.002 * u(rng_);
      break;
    case CanaryBehaviour::kActionCollapse:
      p.action = r < 0.80 ? Vote::kBuy : (r < 0.90 ? Vote::kSell : Vote::kHold);
      break;
    case CanaryBehaviour::kDeadZone:
      p.action = r < 0.90 ? Vote::kHold : (r < 0.95 ? Vote::kBuy : Vote::kSell);
      break;
    case CanaryBehaviour::kFlat:
      p.confidence = r < 0.12 ? 0.60 : (r < 0.24 ? 0.75 : 0.70);
      break;
    case CanaryBehaviour::kNarrow:
      // Tails of 5% each, well inside the 10% that P10 and P90 cut off: with 8% a 400-event
      // window often held 10% of them and its P10-P90 was wide again.
      p.confidence = r < 0.05 ? 0.20 : (r < 0.10 ? 0.98 : 0.68 + 0.04 * u(rng_));
      break;
    case CanaryBehaviour::kConstant:
      p.confidence = 0.60;
      break;
    case CanaryBehaviour::kHardDisagree:
      if (signal != Vote::kHold && r < 0.5) {
        p.action = signal == Vote::kBuy ? Vote::kSell : Vote::kBuy;
      }
      break;
    case CanaryBehaviour::kLogit:
      // Logits from 1.05 to 4.0: sigmoid 0.74-0.98, std about 0.068 and P10-P90 about 0.18, so
      // a 400-event window stays clear of the flat (0.05) and narrow (0.12) thresholds.
      p.raw_confidence = 1.05 + 2.95 * u(rng_);
      p.confidence = 1.0 / (1.0 + std::exp(-p.raw_confidence));
      p.confidence_status = ConfidenceStatus::kNormalized;
      return p;
    case CanaryBehaviour::kNaNConfidence:
      p.raw_confidence = p.confidence = std::numeric_limits<double>::quiet_NaN();
      p.confidence_status = ConfidenceStatus::kNaN;
      return p;
    case CanaryBehaviour::kFallback:
      p.model_string = canary_ + "_fallback";
      p.inactive = InactiveReason::kFallback;
      break;
    case CanaryBehaviour::kCanarySilent:  // next() leaves the prediction out
      break;
  }
  p.raw_confidence = p.confidence;
  return p;
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
    if (canary_ == m.name) {
      if (canary == CanaryBehaviour::kCanarySilent) continue;
      p = canary_prediction(signal, canary, m.model_string);
    } else {
      p.model = m.name;
      p.model_string = m.model_string;
      p.action = canary == CanaryBehaviour::kAgreementHigh ? signal : follow(signal);
      p.confidence = conf(rng_);
      p.raw_confidence = p.confidence;
    }
    if (!p.is_inactive()) ++votes[static_cast<std::size_t>(p.action)];
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
