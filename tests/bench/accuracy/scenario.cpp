// The scenario generator. Every constant below is part of the benchmark's definition: changing
// one changes the table (docs/ACCURACY.md lists them).
#include "scenario.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <utility>

namespace qsc::accuracy {
namespace {

// The common market signal: drift (times the trend's direction) plus an AR(1) part with this
// stationary standard deviation and per-event persistence. Every model sees it; their own noise
// comes on top, so the regime drives agreement (a trend: many agree) and hard disagreement (a
// quiet or volatile market: each model's noise dominates).
struct RegimeParams {
  double drift;
  double sd;
  double persistence;
};
constexpr RegimeParams kRegimes[] = {
    {0.55, 0.35, 0.995},  // trending
    {0.0, 0.75, 0.99},    // ranging
    {0.0, 0.20, 0.995},   // quiet
    {0.0, 1.20, 0.95},    // volatile
};
// A regime lasts at least 60 s and then an exponential time (mean 3 min more): "switching at
// random every few minutes". The next regime is one of the other three, uniformly.
constexpr double kRegimeMinEvents = 120;
constexpr double kRegimeExtraMeanEvents = 360;

// Each model: score = market + own AR(1) noise; BUY above +threshold, SELL below -threshold.
constexpr double kModelNoiseSd = 0.55;
constexpr double kModelNoisePersistence = 0.90;
constexpr double kActionThreshold = 0.50;
// Confidence: a centre rising with the score's distance from the threshold, plus an AR(1)
// calibration wobble (autocorrelated over ~25 s), clipped into (0, 1).
constexpr double kConfidenceCentre = 0.55;
constexpr double kConfidenceGain = 0.25;
constexpr double kConfidenceNoiseSd = 0.06;
constexpr double kConfidenceNoisePersistence = 0.98;

// The healthy canary's long-run HOLD share and confidence mean and std over the healthy corpus
// (measured with `qsc_accuracy_gen --describe`): the gradual collapse and the flattening are
// defined relative to them.
constexpr double kHealthyHoldShare = 0.42;
constexpr double kHealthyConfidenceMean = 0.60;
constexpr double kHealthyConfidenceSd = 0.146;

constexpr double kHoldCollapseShare = 0.95;
constexpr double kGradualCollapseHours = 2.0;
constexpr double kGradualCollapseHoldShare = 0.90;
constexpr double kFlatteningHours = 2.0;
constexpr double kFlatteningSd = 0.02;
constexpr double kDriftHours = 1.0;
constexpr double kDriftShift = 0.15;
constexpr double kInvertedShare = 0.25;
constexpr double kNaNBurstGapMeanEvents = 1200;  // 10 min at 2 events/s
constexpr std::uint64_t kNaNBurstMinEvents = 10;
constexpr std::uint64_t kNaNBurstMaxEvents = 60;

constexpr std::pair<std::string_view, Degradation> kDegradationNames[] = {
    {"healthy", Degradation::kNone},
    {"hold_collapse", Degradation::kHoldCollapse},
    {"gradual_collapse", Degradation::kGradualCollapse},
    {"flattening", Degradation::kFlattening},
    {"confidence_drift", Degradation::kConfidenceDrift},
    {"inverted", Degradation::kInverted},
    {"stuck", Degradation::kStuck},
    {"nan_bursts", Degradation::kNaNBursts},
    {"silence", Degradation::kSilence},
};

double ar1_step(double value, double persistence, double sd, Prng& rng) noexcept {
  return persistence * value + std::sqrt(1.0 - persistence * persistence) * sd * rng.normal();
}

qsc::Vote opposite(qsc::Vote v, Prng& rng) noexcept {
  switch (v) {
    case qsc::Vote::kBuy:
      return qsc::Vote::kSell;
    case qsc::Vote::kSell:
      return qsc::Vote::kBuy;
    case qsc::Vote::kHold:
      break;
  }
  return rng.bernoulli(0.5) ? qsc::Vote::kBuy : qsc::Vote::kSell;
}

}  // namespace

std::string_view degradation_name(Degradation d) noexcept {
  for (auto [name, value] : kDegradationNames) {
    if (value == d) return name;
  }
  return "?";
}

std::optional<Degradation> parse_degradation(std::string_view name) noexcept {
  for (auto [n, value] : kDegradationNames) {
    if (n == name) return value;
  }
  return std::nullopt;
}

std::string_view regime_name(Regime r) noexcept {
  static constexpr std::string_view kNames[] = {"trending", "ranging", "quiet", "volatile"};
  return kNames[static_cast<int>(r)];
}

std::uint64_t scenario_seed(Degradation d, std::uint64_t seed) noexcept {
  std::uint64_t state = 0x5153432d41434355ULL ^ (static_cast<std::uint64_t>(d) << 48);
  state ^= splitmix64(state) + seed;
  return splitmix64(state);
}

ScenarioGenerator::ScenarioGenerator(const ScenarioSpec& spec)
    : spec_(spec), rng_(scenario_seed(spec.degradation, spec.seed)) {
  // Drawn for every kind (healthy included), so the market of seed N does not depend on the
  // kind's other draws before the onset.
  const auto onset_ms = spec_.onset_min_ms + rng_.below(std::max<std::uint64_t>(
                                                 1, spec_.onset_max_ms - spec_.onset_min_ms));
  onset_index_ = spec_.degradation == Degradation::kNone ? 0 : onset_ms / spec_.spacing_ms;
  regime_ = static_cast<Regime>(rng_.below(4));
  trend_direction_ = rng_.bernoulli(0.5) ? 1.0 : -1.0;
  regime_ends_ =
      static_cast<std::uint64_t>(kRegimeMinEvents + rng_.exponential(kRegimeExtraMeanEvents));
  market_ = kRegimes[static_cast<int>(regime_)].sd * rng_.normal();
  for (auto& m : models_) {
    m.score_noise = kModelNoiseSd * rng_.normal();
    m.confidence_noise = kConfidenceNoiseSd * rng_.normal();
  }
  next_nan_burst_ = onset_index_;
}

double ScenarioGenerator::hours_since_onset() const noexcept {
  return (static_cast<double>(index_) - static_cast<double>(onset_index_)) *
         static_cast<double>(spec_.spacing_ms) / 3.6e6;
}

void ScenarioGenerator::advance_market() {
  if (index_ >= regime_ends_) {
    regime_ = static_cast<Regime>((static_cast<int>(regime_) + 1 + rng_.below(3)) % 4);
    trend_direction_ = rng_.bernoulli(0.5) ? 1.0 : -1.0;
    regime_ends_ = index_ + static_cast<std::uint64_t>(kRegimeMinEvents +
                                                       rng_.exponential(kRegimeExtraMeanEvents));
  }
  const auto& p = kRegimes[static_cast<int>(regime_)];
  market_ = ar1_step(market_, p.persistence, p.sd, rng_);
}

qsc::Prediction ScenarioGenerator::healthy_prediction(std::size_t model) {
  auto& m = models_[model];
  m.score_noise = ar1_step(m.score_noise, kModelNoisePersistence, kModelNoiseSd, rng_);
  m.confidence_noise =
      ar1_step(m.confidence_noise, kConfidenceNoisePersistence, kConfidenceNoiseSd, rng_);
  const auto& p = kRegimes[static_cast<int>(regime_)];
  const double score = p.drift * trend_direction_ + market_ + m.score_noise;
  qsc::Prediction out;
  out.model = kModelNames[model];
  out.model_string = kModelStrings[model];
  out.action = score > kActionThreshold    ? qsc::Vote::kBuy
               : score < -kActionThreshold ? qsc::Vote::kSell
                                           : qsc::Vote::kHold;
  const double confidence =
      kConfidenceCentre + kConfidenceGain * std::tanh(1.5 * (std::fabs(score) - kActionThreshold)) +
      m.confidence_noise;
  out.confidence = out.raw_confidence = std::clamp(confidence, 0.01, 0.99);
  return out;
}

void ScenarioGenerator::degrade(qsc::Prediction& canary, const qsc::Vote peers_majority) {
  const double hours = hours_since_onset();
  switch (spec_.degradation) {
    case Degradation::kNone:
    case Degradation::kSilence:  // handled by next()
    case Degradation::kStuck:    // handled by next()
      return;
    case Degradation::kHoldCollapse:
      if (rng_.bernoulli(kHoldCollapseShare)) canary.action = qsc::Vote::kHold;
      return;
    case Degradation::kGradualCollapse: {
      // Forcing HOLD with probability q moves the share from h0 to h0 + (1 - h0) q: q rises
      // linearly to the value that gives 90%.
      const double q_max =
          (kGradualCollapseHoldShare - kHealthyHoldShare) / (1.0 - kHealthyHoldShare);
      const double q = q_max * std::min(1.0, hours / kGradualCollapseHours);
      if (rng_.bernoulli(q)) canary.action = qsc::Vote::kHold;
      return;
    }
    case Degradation::kFlattening: {
      const double progress = std::min(1.0, hours / kFlatteningHours);
      const double scale = 1.0 - progress * (1.0 - kFlatteningSd / kHealthyConfidenceSd);
      canary.confidence = canary.raw_confidence =
          kHealthyConfidenceMean + (canary.confidence - kHealthyConfidenceMean) * scale;
      return;
    }
    case Degradation::kConfidenceDrift: {
      const double shift = kDriftShift * std::min(1.0, hours / kDriftHours);
      canary.confidence = canary.raw_confidence = std::min(1.0, canary.confidence + shift);
      return;
    }
    case Degradation::kInverted:
      if (rng_.bernoulli(kInvertedShare)) canary.action = opposite(peers_majority, rng_);
      return;
    case Degradation::kNaNBursts:
      if (index_ >= next_nan_burst_ && nan_burst_ends_ == 0) {
        nan_burst_ends_ =
            index_ + kNaNBurstMinEvents + rng_.below(kNaNBurstMaxEvents - kNaNBurstMinEvents + 1);
      }
      if (nan_burst_ends_ != 0) {
        canary.confidence = canary.raw_confidence = std::numeric_limits<double>::quiet_NaN();
        canary.confidence_status = qsc::ConfidenceStatus::kNaN;
        if (index_ + 1 >= nan_burst_ends_) {
          nan_burst_ends_ = 0;
          next_nan_burst_ =
              index_ + 1 + static_cast<std::uint64_t>(rng_.exponential(kNaNBurstGapMeanEvents));
        }
      }
      return;
  }
}

qsc::TradeIntent ScenarioGenerator::next() {
  advance_market();
  qsc::TradeIntent event;
  event.time_ms = spec_.start_ms + index_ * spec_.spacing_ms;
  event.symbol = "BTCUSDT";
  std::array<int, qsc::kVoteKinds> peer_votes{};
  for (std::size_t m = 0; m < kModels; ++m) {
    event.predictions.push_back(healthy_prediction(m));
    if (m != kCanary) ++peer_votes[static_cast<std::size_t>(event.predictions.back().action)];
  }
  const auto majority = static_cast<qsc::Vote>(
      std::max_element(peer_votes.begin(), peer_votes.end()) - peer_votes.begin());
  const bool degraded = spec_.degradation != Degradation::kNone && index_ >= onset_index_;
  auto& canary = event.predictions[kCanary];
  if (degraded) {
    if (spec_.degradation == Degradation::kStuck && last_canary_) canary = *last_canary_;
    degrade(canary, majority);
  }
  if (!(degraded && spec_.degradation == Degradation::kStuck)) last_canary_ = canary;
  if (degraded && spec_.degradation == Degradation::kSilence) event.predictions.pop_back();
  // The ensemble's own decision: the majority of the votes, the mean finite confidence.
  std::array<int, qsc::kVoteKinds> votes{};
  double confidence_sum = 0.0;
  int finite = 0;
  for (const auto& p : event.predictions) {
    ++votes[static_cast<std::size_t>(p.action)];
    if (std::isfinite(p.confidence)) {
      confidence_sum += p.confidence;
      ++finite;
    }
  }
  event.side = static_cast<qsc::Vote>(std::max_element(votes.begin(), votes.end()) - votes.begin());
  event.confidence = finite > 0 ? confidence_sum / finite : 0.0;
  ++index_;
  return event;
}

}  // namespace qsc::accuracy
