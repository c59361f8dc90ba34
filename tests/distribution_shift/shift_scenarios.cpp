// Simulated ensembles for the distribution_shift tests.
#include "distribution_shift/shift_scenarios.hpp"

#include <algorithm>
#include <cmath>

namespace qsc::shift_test {
namespace {

struct Regime {
  std::array<double, kVoteKinds> shares;  ///< BUY, SELL, HOLD of the common signal
  double confidence;                      ///< the models' confidence level in this regime
};

constexpr std::array<Regime, 4> kRegimes{{
    {{0.60, 0.10, 0.30}, 0.72},  // trending up
    {{0.10, 0.60, 0.30}, 0.72},  // trending down
    {{0.30, 0.30, 0.40}, 0.60},  // ranging
    {{0.15, 0.15, 0.70}, 0.55},  // quiet
}};
// The regimes' mean confidence level (each regime equally likely in the long run) and the
// variance of the level around it.
constexpr double kMeanLevel = (0.72 + 0.72 + 0.60 + 0.55) / 4.0;
constexpr double kRegimeLevelVariance =
    ((0.72 - kMeanLevel) * (0.72 - kMeanLevel) * 2.0 + (0.60 - kMeanLevel) * (0.60 - kMeanLevel) +
     (0.55 - kMeanLevel) * (0.55 - kMeanLevel)) /
    4.0;
// A regime lasts 600 events on average (5 minutes at 2 events/s).
constexpr double kRegimeSwitchProbability = 1.0 / 600.0;
// A model follows the event's common signal this often, else votes on its own (same shares).
constexpr double kFollowsSignal = 0.7;

Vote opposite(Vote v, double coin) {
  switch (v) {
    case Vote::kBuy:
      return Vote::kSell;
    case Vote::kSell:
      return Vote::kBuy;
    case Vote::kHold:
      break;
  }
  return coin < 0.5 ? Vote::kBuy : Vote::kSell;
}

}  // namespace

EnsembleSimulator::EnsembleSimulator(std::string canary_model, const ScenarioSpec& spec,
                                     std::uint64_t seed)
    : spec_(spec), rng_(seed), names_{std::move(canary_model), "peer_a", "peer_b", "peer_c"} {
  regime_ = static_cast<std::size_t>(uniform() * kRegimes.size()) % kRegimes.size();
  for (auto& n : noise_) n = spec_.noise_std * normal_(rng_);
}

Vote EnsembleSimulator::draw_vote(const std::array<double, kVoteKinds>& shares) {
  const double u = uniform();
  if (u < shares[0]) return Vote::kBuy;
  if (u < shares[0] + shares[1]) return Vote::kSell;
  return Vote::kHold;
}

double EnsembleSimulator::progress() const {
  if (spec_.degradation == Degradation::kNone || events_ < spec_.onset_event) return 0.0;
  return std::min(1.0, static_cast<double>(events_ - spec_.onset_event + 1) /
                           static_cast<double>(std::max<std::uint64_t>(spec_.ramp_events, 1)));
}

void EnsembleSimulator::next(TradeIntent& event) {
  if (uniform() < kRegimeSwitchProbability) {
    regime_ = static_cast<std::size_t>(uniform() * kRegimes.size()) % kRegimes.size();
  }
  const Regime& regime = kRegimes[regime_];
  const Vote signal = draw_vote(regime.shares);
  const double f = progress();
  event.time_ms = 1'000'000 + events_ * 500;
  event.seq = 0;
  event.side = signal;
  event.predictions.resize(kModels);
  // Peers first: the inverted canary answers their majority.
  std::array<std::size_t, kVoteKinds> peer_votes{};
  for (std::size_t m = kModels; m-- > 0;) {
    auto& p = event.predictions[m];
    p.model = names_[m];
    p.inactive = InactiveReason::kNone;
    p.confidence_status = ConfidenceStatus::kOk;
    p.action = uniform() < kFollowsSignal ? signal : draw_vote(regime.shares);
    const bool canary = m == 0;
    const double rho = spec_.noise_autocorrelation;
    noise_[m] = rho * noise_[m] + std::sqrt(1.0 - rho * rho) * spec_.noise_std * normal_(rng_);
    double confidence = regime.confidence + noise_[m];
    if (canary && spec_.degradation == Degradation::kDrift) confidence += 0.15 * f;
    if (canary && spec_.degradation == Degradation::kFlattening) {
      // The whole confidence (regime level and own noise) squeezed towards the long-run mean,
      // its standard deviation falling linearly from the healthy one to 0.02.
      const double healthy_std =
          std::sqrt(kRegimeLevelVariance + spec_.noise_std * spec_.noise_std);
      const double std_now = healthy_std + f * (0.02 - healthy_std);
      confidence = kMeanLevel + (confidence - kMeanLevel) * (std_now / healthy_std);
    }
    p.confidence = std::clamp(confidence, 0.0, 1.0);
    p.raw_confidence = p.confidence;
    if (!canary) {
      ++peer_votes[static_cast<std::size_t>(p.action)];
      continue;
    }
    if (spec_.degradation == Degradation::kHoldCollapse && uniform() < 0.9 * f) {
      p.action = Vote::kHold;
    }
    if (spec_.degradation == Degradation::kInversion && f > 0.0 && uniform() < 0.25) {
      const auto majority = static_cast<Vote>(
          std::max_element(peer_votes.begin(), peer_votes.end()) - peer_votes.begin());
      p.action = opposite(majority, uniform());
    }
  }
  ++events_;
}

}  // namespace qsc::shift_test
