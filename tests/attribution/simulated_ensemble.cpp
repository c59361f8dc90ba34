// The simulated ensembles of the attribution tests.
#include "simulated_ensemble.hpp"

namespace qsc::attribution_test {

TradeIntent Ensemble::next() {
  const Vote signal = signal_for(events_);
  TradeIntent e;
  e.time_ms = 1'700'000'000'000 + static_cast<std::int64_t>(events_) * 500;
  e.seq = events_;
  std::array<std::size_t, kVoteKinds> peer_votes{};
  std::vector<Prediction> peers;
  const char* const names[] = {"xgb", "lgbm", "nhits"};  // the synthetic engine's
  for (std::size_t i = 0; i < peers_ && i < std::size(names); ++i) {
    Prediction p = vote(names[i], signal);
    ++peer_votes[static_cast<std::size_t>(p.action)];
    peers.push_back(std::move(p));
  }
  Prediction c = vote(kCanary, signal);
  switch (canary_) {
    case Canary::kHealthy:
      break;
    case Canary::kInverted:
      if (uniform() < 0.5) {
        const auto buy = peer_votes[static_cast<std::size_t>(Vote::kBuy)];
        const auto sell = peer_votes[static_cast<std::size_t>(Vote::kSell)];
        if (buy >= 2) c.action = Vote::kSell;
        if (sell >= 2) c.action = Vote::kBuy;
      }
      break;
    case Canary::kHoldCollapse:
      if (uniform() < 0.95) c.action = Vote::kHold;
      break;
    case Canary::kStuck:
      if (!stuck_vote_) stuck_vote_ = c.action;
      c.action = *stuck_vote_;
      break;
    case Canary::kFlat:
      c.confidence = c.raw_confidence = 0.6;
      break;
  }
  e.predictions.push_back(std::move(c));
  for (auto& p : peers) e.predictions.push_back(std::move(p));
  ++events_;
  return e;
}

Vote Ensemble::signal_for(std::uint64_t event) {
  switch (market_) {
    case Market::kTrend:
      return (event / 500) % 2 == 0 ? Vote::kBuy : Vote::kSell;
    case Market::kQuiet:
      return Vote::kHold;  // unused: every model votes on its own
    case Market::kBuyTrend:
      return Vote::kBuy;
    case Market::kNoEdge:
      return Vote::kHold;
    case Market::kRange:
      break;
  }
  const double u = uniform();
  return u < 1.0 / 3 ? Vote::kBuy : (u < 2.0 / 3 ? Vote::kSell : Vote::kHold);
}

Prediction Ensemble::vote(const char* model, Vote signal) {
  Prediction p;
  p.model = model;
  p.model_string = model;
  p.confidence = p.raw_confidence = 0.3 + 0.6 * uniform();
  const double u = uniform();
  if (market_ == Market::kQuiet) {
    p.action = u < 0.35 ? Vote::kBuy : (u < 0.70 ? Vote::kSell : Vote::kHold);
    return p;
  }
  const double follow = market_ == Market::kTrend || market_ == Market::kNoEdge
                            ? 0.93
                            : (market_ == Market::kBuyTrend ? 0.85 : 0.90);
  if (u < follow) {
    p.action = signal;
  } else {
    // One of the two other votes, evenly.
    const auto other =
        (static_cast<std::size_t>(signal) + (u < (1.0 + follow) / 2 ? 1 : 2)) % kVoteKinds;
    p.action = static_cast<Vote>(other);
  }
  return p;
}

}  // namespace qsc::attribution_test
