// Events of many vote-count patterns, for the tests of the folds that remember each event's
// figures by its counts (plugins/detectors/common/vote_memo.hpp): one to `most_peers` peers, some
// inactive, votes skewed (HOLD half the time) so that patterns repeat and rare ones keep arriving;
// the canary absent, inactive, or predicting twice (its last active prediction is the one
// distribution_shift tests, its first the one the attribution counts). Confidences uniform in
// [0, 1].
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "qsc/event.hpp"

namespace qsc::test {

/// `count` events 1 ms apart; `shape_canary(p, i, rng)`, when given, reshapes each prediction of
/// the canary in event i (a degradation) after it is drawn.
inline std::vector<TradeIntent> vote_pattern_events(
    std::size_t count, std::uint64_t seed, const std::string& canary, std::size_t most_peers,
    const std::function<void(Prediction&, std::size_t, std::mt19937_64&)>& shape_canary = {}) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> confidence(0.0, 1.0);
  std::vector<TradeIntent> events(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto& e = events[i];
    e.time_ms = 1'768'000'000'000ULL + i;
    e.seq = i;
    const auto add = [&](const std::string& model) {
      Prediction p;
      p.model = model;
      const auto r = rng() % 10;
      p.action = r < 5 ? Vote::kHold : (r < 8 ? Vote::kBuy : Vote::kSell);
      p.confidence = p.raw_confidence = confidence(rng);
      if (model == canary && shape_canary) shape_canary(p, i, rng);
      p.inactive = rng() % 6 == 0 ? InactiveReason::kShadow : InactiveReason::kNone;
      e.predictions.push_back(p);
    };
    const auto canaries = rng() % 8;  // 0: absent; 1: twice; else once
    if (canaries == 1) add(canary);
    const auto peers = 1 + rng() % most_peers;
    for (std::size_t j = 0; j < peers; ++j) add("peer" + std::to_string(j));
    if (canaries != 0) add(canary);
  }
  return events;
}

}  // namespace qsc::test
