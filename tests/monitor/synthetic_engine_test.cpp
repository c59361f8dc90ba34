// The synthetic engine keeps its promises with a margin: over every 400-event window (the e2e
// tests' window) the healthy and logit streams stay inside every docs/design.md threshold, and each
// failing behaviour violates its own threshold in every window. A stream too close to a
// threshold would make the e2e tests (and the demo) flaky, or raise false alarms.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "demo/synthetic_engine.hpp"
#include "qsc/checks.hpp"
#include "qsc/stats.hpp"
#include "support/sanitizer_scale.hpp"

namespace qsc::agent {
namespace {

constexpr std::size_t kWindow = 400;
// 20 s at 2,000 events/s (about 2,000 windows). A sanitized build runs the first tenth of the
// same streams (support/sanitizer_scale.hpp): 40,000 events took 124 s of ASan -O0 time; the
// margins are the plain build's claims.
constexpr std::size_t kEvents = qsc::test::repetitions(40'000);
constexpr std::size_t kStep = 20;

std::vector<TradeIntent> stream(CanaryBehaviour b, std::uint64_t seed) {
  SyntheticEngine engine("patchtst", seed);
  std::vector<TradeIntent> out;
  out.reserve(kEvents);
  for (std::size_t i = 0; i < kEvents; ++i) out.push_back(engine.next(1'000'000 + i, b));
  return out;
}

template <typename F>
void for_each_window(const std::vector<TradeIntent>& events, F&& f) {
  for (std::size_t start = 0; start + kWindow <= events.size(); start += kStep) {
    f(compute_window_stats(std::span(events).subspan(start, kWindow)));
  }
}

TEST(SyntheticEngine, HealthyAndLogitStreamsStayInsideEveryThresholdInEveryWindow) {
  for (auto b : {CanaryBehaviour::kHealthy, CanaryBehaviour::kLogit}) {
    for (std::uint64_t seed : {1u, 20260110u}) {
      double min_std = 1, min_range = 1, max_share = 0, min_agree = 100, max_agree = 0,
             max_chaos = 0;
      std::size_t normalized = 0;
      for_each_window(stream(b, seed), [&](const WindowStats& w) {
        ASSERT_EQ(w.models.size(), 4u);
        for (const auto& m : w.models) {
          min_std = std::min(min_std, m.conf_std);
          min_range = std::min(min_range, m.range);
          for (double s : m.share_pct) max_share = std::max(max_share, s);
          EXPECT_EQ(m.confidence_violations, 0u);
          EXPECT_EQ(m.inactive, 0u);
          if (m.model == "patchtst") normalized += m.normalized;
        }
        min_agree = std::min(min_agree, w.ensemble.agreement_pct);
        max_agree = std::max(max_agree, w.ensemble.agreement_pct);
        max_chaos = std::max(max_chaos, w.ensemble.hard_disagree_pct);
      });
      SCOPED_TRACE(b == CanaryBehaviour::kLogit ? "logit" : "healthy");
      // Thresholds: std >= 0.05, P10-P90 >= 0.12, every share <= 70% (HOLD <= 85%),
      // agreement 55-80%, hard disagree <= 20%; each with room to spare.
      EXPECT_GT(min_std, 0.055);
      EXPECT_GT(min_range, 0.13);
      EXPECT_LT(max_share, 65.0);
      EXPECT_GT(min_agree, 58.0);
      EXPECT_LT(max_agree, 78.0);
      EXPECT_LT(max_chaos, 19.5);
      if (b == CanaryBehaviour::kLogit) {
        EXPECT_GT(normalized, 0u) << "the logit stream sent no logit";
      }
    }
  }
}

struct Bad {
  const char* name;
  // True when the window violates the behaviour's own threshold.
  bool (*violates)(const WindowStats&);
};

const ModelStats& canary(const WindowStats& w) {
  return *w.find("patchtst");
}

TEST(SyntheticEngine, EveryFailingBehaviourViolatesItsThresholdInNearlyEveryWindow) {
  // docs/design.md's default thresholds.
  const Bad bad[] = {
      {"hold_collapse", [](const WindowStats& w) { return canary(w).share_pct[2] > 70.0; }},
      {"action_collapse", [](const WindowStats& w) { return canary(w).share_pct[0] > 70.0; }},
      {"dead_zone", [](const WindowStats& w) { return canary(w).share_pct[2] > 85.0; }},
      {"flat", [](const WindowStats& w) { return canary(w).conf_std < 0.05; }},
      {"narrow", [](const WindowStats& w) { return canary(w).range < 0.12; }},
      {"constant", [](const WindowStats& w) { return canary(w).conf_std < 0.01; }},
      {"agreement_high", [](const WindowStats& w) { return w.ensemble.agreement_pct > 80.0; }},
      {"hard_disagree", [](const WindowStats& w) { return w.ensemble.hard_disagree_pct > 20.0; }},
      {"nan_confidence",
       [](const WindowStats& w) { return canary(w).confidence_violations == kWindow; }},
      {"fallback", [](const WindowStats& w) { return canary(w).inactive == kWindow; }},
  };
  for (const auto& b : bad) {
    const auto behaviour = parse_behaviour(b.name);
    ASSERT_TRUE(behaviour) << b.name;
    std::size_t windows = 0, violating = 0;
    for_each_window(stream(*behaviour, 7), [&](const WindowStats& w) {
      ++windows;
      if (b.violates(w)) ++violating;
    });
    // A monitor acts on the first violating window; nearly all must violate, or detection
    // would depend on luck.
    EXPECT_GE(violating * 100, windows * 99) << b.name << ": " << violating << " of " << windows;
  }
  EXPECT_FALSE(parse_behaviour("no_such_behaviour"));
}

}  // namespace
}  // namespace qsc::agent
