// Canary attribution of the ensemble checks (issue 17, section 5): ensemble_dysfunction and
// model_chaos, the built .so files loaded by the real plugin host and fed as the monitor feeds
// them (the 2,000-event window's figures and CheckInput::new_events), on simulated ensembles of
// the canary and three peers. Under "ensemble" (the runbook's literal rule) a figure out of band
// fires whatever moved it; under "canary" only when the canary's own votes did.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "detector_feed.hpp"

namespace qsc::attribution_test {
namespace {

const nlohmann::json kEnsembleRule = {{"attribution", "ensemble"}};

// A healthy canary in `market`, under which `detector`'s figure is out of band whoever votes:
// the runbook's literal rule fires, attribution never does over 20,000 events (kLongPeriodEvents:
// 5,000 in a sanitized build) and says at most checks that the figure is not the canary's doing.
void expect_blamed_by_the_literal_rule_only(const std::string& detector, Market market,
                                            std::uint64_t seed, const std::string& message) {
  OneDetector literal(detector, kEnsembleRule);
  Ensemble same_market(market, Canary::kHealthy, seed);
  const auto under_ensemble = run_period(literal, same_market, kLongPeriodEvents);
  EXPECT_GT(under_ensemble.violations, 0u) << detector;
  EXPECT_EQ(under_ensemble.first_violation.message.rfind(message, 0), 0u)
      << under_ensemble.first_violation.message;

  OneDetector attributed(detector, kCanaryRule);
  Ensemble market_again(market, Canary::kHealthy, seed);
  const auto under_canary = run_period(attributed, market_again, kLongPeriodEvents);
  EXPECT_EQ(under_canary.violations, 0u) << under_canary.first_violation.message;
  EXPECT_GT(under_canary.unattributed, under_canary.checks / 2) << detector;
}

// A strong common trend: every model agrees on ~93% of events, the canary no more than its
// peers.
TEST(Attribution, HealthyCanaryInATrendIsNotBlamedForHighAgreement) {
  expect_blamed_by_the_literal_rule_only("ensemble_dysfunction", Market::kTrend, 7,
                                         "Ensemble dysfunction: agreement=");
}

// A quiet market: each model's own noise splits the votes and hard disagreement is far above
// 20% with or without the canary.
TEST(Attribution, HealthyCanaryInAQuietMarketIsNotBlamedForHardDisagreement) {
  expect_blamed_by_the_literal_rule_only("model_chaos", Market::kQuiet, 11,
                                         "Model chaos: hard_disagree=");
}

// The peers alone rarely split BUY against SELL (about 10% of events); a canary that votes
// against their majority on half of the events makes it about 40%: the canary alone creates
// the hard disagreement, and attribution blames it, soon after the window has enough events.
TEST(Attribution, InvertedCanaryIsBlamedForTheHardDisagreementItCreates) {
  OneDetector attributed("model_chaos", kCanaryRule);
  Ensemble market(Market::kRange, Canary::kInverted, 3);
  const auto out = run_period(attributed, market, kPeriodEvents);
  ASSERT_GT(out.violations, 0u);
  EXPECT_EQ(out.first_violation.message.rfind("Model chaos: hard_disagree=", 0), 0u)
      << out.first_violation.message;
  EXPECT_NE(out.first_violation.message.find(", caused by patchtst: +"), std::string::npos)
      << out.first_violation.message;
  // Once blamed it stays blamed while the canary keeps it up.
  EXPECT_EQ(out.violations, out.checks - (out.first_violation_event / kCheckEvery - 1));
  std::cout << "inverted canary: model_chaos fired at event " << out.first_violation_event << ": "
            << out.first_violation.message << "\n";

  // The scoreboard's calls between the canary's checks (no canary, the literal rule) neither
  // reset nor feed the canary's evidence: the same verdict at the same event.
  OneDetector with_scoreboard("model_chaos", kCanaryRule);
  Ensemble same_market(Market::kRange, Canary::kInverted, 3);
  const auto interleaved = run_period(with_scoreboard, same_market, kPeriodEvents, true);
  EXPECT_EQ(interleaved.first_violation_event, out.first_violation_event);
  EXPECT_EQ(interleaved.first_violation.message, out.first_violation.message);
}

// A healthy canary in the market of the inverted one (agreement about 90%, out of band;
// hard disagreement about 13%): neither check blames it.
TEST(Attribution, HealthyCanaryInARangingMarketPassesBoth) {
  for (const char* detector : {"ensemble_dysfunction", "model_chaos"}) {
    OneDetector attributed(detector, kCanaryRule);
    Ensemble market(Market::kRange, Canary::kHealthy, 5);
    const auto out = run_period(attributed, market, kPeriodEvents);
    EXPECT_EQ(out.violations, 0u) << detector << ": " << out.first_violation.message;
  }
}

// The gate and the scoreboard judge a window with no canary (CheckInput::canary_model empty,
// no new events): the runbook's literal rule, whatever the attribution.
TEST(Attribution, WithoutACanaryTheLiteralRuleJudges) {
  Ensemble market(Market::kQuiet, Canary::kHealthy, 13);
  std::vector<TradeIntent> events;
  for (std::size_t i = 0; i < kWindowEvents; ++i) events.push_back(market.next());
  const auto stats = compute_window_stats(events);
  ASSERT_GT(stats.ensemble.hard_disagree_pct, 20.0);
  OneDetector attributed("model_chaos", kCanaryRule);
  const auto r = attributed.check(stats, "", {});
  EXPECT_EQ(r.verdict, Verdict::kViolation) << r.message;
  EXPECT_EQ(r.message.find("attributed"), std::string::npos) << r.message;
}

// Fail closed: without an active peer voting beside the canary there is nothing to attribute
// the figure to or away from, so "not attributed" would be a pass on no evidence. A canary
// alone in its ensemble (every event: agreement 100%, out of band) is judged by the literal rule,
// with the reason in the message. (Before, it passed: "not attributed to patchtst".)
TEST(Attribution, ACanaryWithoutPeersIsJudgedByTheLiteralRule) {
  OneDetector attributed("ensemble_dysfunction", kCanaryRule);
  Ensemble alone(Market::kBuyTrend, Canary::kHealthy, 53, /*peers=*/0);
  const auto out = run_period(attributed, alone, 3'000);
  ASSERT_GT(out.violations, 0u) << out.last.message;
  EXPECT_EQ(out.violations, out.checks - kChecksBeforeMinEvents) << out.last.message;
  EXPECT_EQ(out.first_violation.message.rfind("Ensemble dysfunction: agreement=100.0%", 0), 0u)
      << out.first_violation.message;
  EXPECT_NE(out.first_violation.message.find(
                ", judged by the literal rule: 0 of the window's 200 events had patchtst and an "
                "active peer voting (200 needed)"),
            std::string::npos)
      << out.first_violation.message;
}

TEST(Attribution, EffectiveConfigShowsTheAttributionAndCanaryIsTheDefault) {
  for (const char* detector : {"ensemble_dysfunction", "model_chaos"}) {
    expect_effective_attribution(detector, "ensemble");
  }
}

TEST(Attribution, ABadValueIsRefusedNamingTheKeyAndTheValues) {
  for (const char* detector : {"ensemble_dysfunction", "model_chaos"}) {
    expect_bad_attribution_refused(detector, "ensemble", "market");
  }
}

}  // namespace
}  // namespace qsc::attribution_test
