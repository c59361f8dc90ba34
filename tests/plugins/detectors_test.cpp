// Every in-tree detector, loaded as the agent loads it, at its boundaries: exactly at the
// threshold passes, just past it fires with docs/design.md's message, an empty window or one below
// min_events is insufficient (never a pass), and the measured figure comes with every result.
#include <gtest/gtest.h>

#include <cmath>

#include "plugin_test_support.hpp"

namespace qsc::test {
namespace {

/// The two "too little data" cases every canary detector must answer with kInsufficient.
void expect_insufficient_without_data(DetectorHost& h, const std::string& detector,
                                      const std::string& title) {
  Scenario empty;
  empty.canary_present = false;
  auto r = h.check(detector, empty);
  EXPECT_EQ(r.verdict, Verdict::kInsufficient) << r.message;
  EXPECT_EQ(r.message, title + ": 0 predictions of patchtst (200 needed)");
  EXPECT_EQ(figure(r, "predictions"), 0.0);

  Scenario few;
  few.canary().predictions = 199;
  r = h.check(detector, few);
  EXPECT_EQ(r.verdict, Verdict::kInsufficient) << r.message;
  EXPECT_EQ(r.message, title + ": 199 predictions of patchtst (200 needed)");
  EXPECT_EQ(figure(r, "predictions"), 199.0);
}

TEST(ActionCollapse, AtTheThresholdPassesJustPastFires) {
  DetectorHost h({"action_collapse"});
  Scenario s;
  s.set_shares(10.0, 20.0, 70.0);
  auto r = h.check("action_collapse", s);
  EXPECT_EQ(r.verdict, Verdict::kPass);
  EXPECT_EQ(r.message, "Action collapse: HOLD=70.0% (>70%)");
  EXPECT_EQ(figure(r, "max_share_pct"), 70.0);
  s.set_shares(10.0, 19.7, 70.3);
  s.set_shares(0.0, 21.7, 78.3);
  r = h.check("action_collapse", s);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.message, "Action collapse: HOLD=78.3% (>70%)");
  s.set_shares(70.1, 19.9, 10.0);
  r = h.check("action_collapse", s);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.message, "Action collapse: BUY=70.1% (>70%)");
  expect_insufficient_without_data(h, "action_collapse", "Action collapse");
}

TEST(ActionCollapse, ReadsItsThresholdAndRefusesUnknownKeys) {
  DetectorHost h({"action_collapse"}, {{"action_collapse", {{"max_share_pct", 60}}}});
  Scenario s;
  s.set_shares(20.0, 19.0, 61.0);
  EXPECT_EQ(h.check("action_collapse", s).message, "Action collapse: HOLD=61.0% (>60%)");
  DetectorHost refused({"action_collapse"}, {{"action_collapse", {{"max_share", 60}}}});
  EXPECT_EQ(record_named(refused.host, "action_collapse").reason,
            "configuration refused: plugins.config.action_collapse: unknown key \"max_share\" "
            "(allowed: max_share_pct)");
}

TEST(DeadZone, AtTheThresholdPassesJustPastFires) {
  DetectorHost h({"dead_zone"});
  Scenario s;
  s.set_shares(5.0, 10.0, 85.0);
  auto r = h.check("dead_zone", s);
  EXPECT_EQ(r.verdict, Verdict::kPass);
  EXPECT_EQ(figure(r, "hold_pct"), 85.0);
  s.set_shares(4.0, 10.0, 86.0);
  r = h.check("dead_zone", s);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.message, "Dead zone: HOLD=86.0% (>85%)");
  s.set_shares(4.9, 10.0, 85.1);
  EXPECT_EQ(h.check("dead_zone", s).verdict, Verdict::kViolation);
  expect_insufficient_without_data(h, "dead_zone", "Dead zone");
}

TEST(FlatPredictions, AtTheThresholdPassesJustPastFires) {
  DetectorHost h({"flat_predictions"});
  Scenario s;
  s.canary().conf_std = 0.05;
  auto r = h.check("flat_predictions", s);
  EXPECT_EQ(r.verdict, Verdict::kPass);
  EXPECT_EQ(figure(r, "conf_std"), 0.05);
  s.canary().conf_std = 0.0412;
  r = h.check("flat_predictions", s);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.message, "Flat predictions: conf_std=0.0412 (<0.05)");
  expect_insufficient_without_data(h, "flat_predictions", "Flat predictions");
}

TEST(FlatPredictions, NoUsableConfidenceIsAViolation) {
  DetectorHost h({"flat_predictions"});
  Scenario s;
  s.canary().confidence_samples = 0;
  s.canary().confidence_violations = 200;
  s.canary().conf_std = NAN;
  auto r = h.check("flat_predictions", s);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.message, "Flat predictions: no usable confidence among 200 predictions of patchtst");
}

TEST(NarrowRange, AtTheThresholdPassesJustPastFires) {
  DetectorHost h({"narrow_range"});
  Scenario s;
  s.canary().range = 0.12;
  auto r = h.check("narrow_range", s);
  EXPECT_EQ(r.verdict, Verdict::kPass);
  EXPECT_EQ(figure(r, "p10_p90"), 0.12);
  s.canary().range = 0.08;
  r = h.check("narrow_range", s);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.message, "Narrow range: p10_p90=0.0800 (<0.12)");
  s.canary().range = 0.1199;
  EXPECT_EQ(h.check("narrow_range", s).verdict, Verdict::kViolation);
  expect_insufficient_without_data(h, "narrow_range", "Narrow range");
}

TEST(ConstantOutput, AtTheThresholdsPassesJustPastFires) {
  DetectorHost h({"constant_output"});
  Scenario s;
  s.canary().conf_std = 0.01;
  s.canary().range = 0.001;
  auto r = h.check("constant_output", s);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
  EXPECT_EQ(figure(r, "conf_std"), 0.01);
  EXPECT_EQ(figure(r, "p10_p90"), 0.001);
  s.canary().conf_std = 0.0;
  r = h.check("constant_output", s);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.message, "Constant output: std=0.0000 (<0.01)");
  s.canary().conf_std = 0.02;
  s.canary().range = 0.0009;
  r = h.check("constant_output", s);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.message, "Constant output: p10_p90=0.0009 (<0.001)");
  expect_insufficient_without_data(h, "constant_output", "Constant output");
  EXPECT_EQ(record_named(h.host, "constant_output").effective_config,
            (nlohmann::json{{"constant_std", 0.01}, {"constant_range", 0.001}}));
}

TEST(QualityGate, GoAtEveryThresholdNoGoWithTheFailedChecks) {
  DetectorHost h({"quality_gate"});
  Scenario s;
  s.set_shares(15.0, 15.0, 70.0);
  s.canary().conf_std = 0.05;
  s.canary().range = 0.12;
  auto r = h.check("quality_gate", s);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
  EXPECT_EQ(r.message, "Quality gate: GO (6 checks passed)");
  EXPECT_EQ(figure(r, "failed_checks"), 0.0);

  s.set_shares(0.0, 21.7, 78.3);
  s.canary().conf_std = 0.0412;
  r = h.check("quality_gate", s);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.message,
            "Quality gate: NO-GO (Action collapse: HOLD=78.3% (>70%); Flat predictions: "
            "conf_std=0.0412 (<0.05))");
  EXPECT_EQ(figure(r, "failed_checks"), 2.0);
  expect_insufficient_without_data(h, "quality_gate", "Quality gate");
}

TEST(QualityGate, ConfidenceViolationsAreANoGo) {
  DetectorHost h({"quality_gate"});
  Scenario s;
  s.canary().confidence_violations = 3;
  s.canary().by_status[static_cast<std::size_t>(ConfidenceStatus::kNaN)] = 2;
  s.canary().by_status[static_cast<std::size_t>(ConfidenceStatus::kNegative)] = 1;
  auto r = h.check("quality_gate", s);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.message, "Quality gate: NO-GO (Confidence violations: 3 (negative=1, nan=2))");
  EXPECT_EQ(figure(r, "confidence_violations"), 3.0);
}

TEST(QualityGate, ReadsTheGateThresholdsFromItsSection) {
  DetectorHost h({"quality_gate"}, {{"quality_gate", {{"max_share_pct", 80}}}});
  Scenario s;
  s.set_shares(0.0, 21.7, 78.3);
  EXPECT_EQ(h.check("quality_gate", s).verdict, Verdict::kPass);
  EXPECT_EQ(record_named(h.host, "quality_gate").effective_config["max_share_pct"], 80.0);
  DetectorHost refused({"quality_gate"}, {{"quality_gate", {{"enabled", false}}}});
  EXPECT_EQ(
      record_named(refused.host, "quality_gate")
          .reason.rfind(
              "configuration refused: plugins.config.quality_gate: unknown key \"enabled\"", 0),
      0u);
}

// The runbook's literal rule (the gate's and the scoreboard's; tests/attribution covers
// "attribution": "canary", the monitor's default).
TEST(EnsembleDysfunction, BothBoundsPassJustOutsideFires) {
  DetectorHost h({"ensemble_dysfunction"},
                 {{"ensemble_dysfunction", {{"attribution", "ensemble"}}}});
  Scenario s;
  for (double at : {55.0, 80.0}) {
    s.window.ensemble.agreement_pct = at;
    auto r = h.check("ensemble_dysfunction", s);
    EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
    EXPECT_EQ(figure(r, "agreement_pct"), at);
  }
  s.window.ensemble.agreement_pct = 84.0;
  auto r = h.check("ensemble_dysfunction", s);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.message, "Ensemble dysfunction: agreement=84.0% (target 55-80%)");
  s.window.ensemble.agreement_pct = 54.9;
  r = h.check("ensemble_dysfunction", s);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.message, "Ensemble dysfunction: agreement=54.9% (target 55-80%)");

  Scenario none;
  none.window_present = false;
  r = h.check("ensemble_dysfunction", none);
  EXPECT_EQ(r.verdict, Verdict::kInsufficient);
  EXPECT_EQ(r.message, "Ensemble dysfunction: 0 events with an active vote (200 needed)");
  Scenario few;
  few.window.ensemble.events = 199;
  r = h.check("ensemble_dysfunction", few);
  EXPECT_EQ(r.verdict, Verdict::kInsufficient);
  EXPECT_EQ(figure(r, "events"), 199.0);
}

TEST(EnsembleDysfunction, RefusesCrossedBounds) {
  DetectorHost h({"ensemble_dysfunction"}, {{"ensemble_dysfunction", {{"min_agreement_pct", 90}}}});
  EXPECT_EQ(record_named(h.host, "ensemble_dysfunction").reason,
            "configuration refused: plugins.config.ensemble_dysfunction.min_agreement_pct: must "
            "not exceed max_agreement_pct");
}

TEST(ModelChaos, AtTheThresholdPassesJustPastFires) {
  DetectorHost h({"model_chaos"}, {{"model_chaos", {{"attribution", "ensemble"}}}});
  Scenario s;
  s.window.ensemble.hard_disagree_pct = 20.0;
  auto r = h.check("model_chaos", s);
  EXPECT_EQ(r.verdict, Verdict::kPass);
  EXPECT_EQ(figure(r, "hard_disagree_pct"), 20.0);
  s.window.ensemble.hard_disagree_pct = 23.5;
  r = h.check("model_chaos", s);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.message, "Model chaos: hard_disagree=23.5% (>20%)");
  Scenario none;
  none.window_present = false;
  EXPECT_EQ(h.check("model_chaos", none).verdict, Verdict::kInsufficient);
}

TEST(TelemetryStale, AtTheThresholdPassesJustPastFires) {
  DetectorHost h({"telemetry_stale"});
  Scenario s;
  s.telemetry.seconds_since_last_event = 300.0;
  auto r = h.check("telemetry_stale", s);
  EXPECT_EQ(r.verdict, Verdict::kPass);
  EXPECT_EQ(r.message, "Telemetry stale: last event 300 s ago (<=300 s)");
  EXPECT_EQ(figure(r, "seconds_since_last_event"), 300.0);
  s.telemetry.seconds_since_last_event = 300.4;
  r = h.check("telemetry_stale", s);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.message, "Telemetry stale: no events for 300.4 s (>300 s)");
  s.telemetry.seconds_since_last_event = 312.0;
  EXPECT_EQ(h.check("telemetry_stale", s).message, "Telemetry stale: no events for 312 s (>300 s)");
  s.telemetry.seconds_since_last_event = INFINITY;
  EXPECT_EQ(h.check("telemetry_stale", s).message, "Telemetry stale: no event time known (>300 s)");
}

TEST(TelemetryStale, LostRejectedOrUnreachableTelemetryIsAViolation) {
  DetectorHost h({"telemetry_stale"});
  Scenario s;
  s.telemetry.events_lost = 1;
  auto r = h.check("telemetry_stale", s);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.message, "Telemetry stale: events_lost=1 (>0)");
  EXPECT_EQ(figure(r, "events_lost"), 1.0);

  Scenario rejected;
  rejected.telemetry.rejected_pct = 1.0;
  EXPECT_EQ(h.check("telemetry_stale", rejected).verdict, Verdict::kPass);
  rejected.telemetry.rejected_pct = 2.5;
  EXPECT_EQ(h.check("telemetry_stale", rejected).message, "Telemetry stale: rejected=2.5% (>1%)");

  Scenario down;
  down.telemetry.source_ok = false;
  down.telemetry.source_error = "Redis refused at 127.0.0.1:6379";
  down.telemetry.seconds_since_last_event = 400;
  EXPECT_EQ(h.check("telemetry_stale", down).message,
            "Telemetry stale: source unavailable (Redis refused at 127.0.0.1:6379), no events "
            "for 400 s (>300 s)");
}

TEST(TelemetryStale, DefaultsFollowTheHostAndTheSectionOverrides) {
  auto config = host_config();
  config["telemetry"]["stale_after"] = "90s";
  config["telemetry"]["max_rejected_pct"] = 2.5;
  DetectorHost from_host({"telemetry_stale"}, {}, config);
  EXPECT_EQ(record_named(from_host.host, "telemetry_stale").effective_config,
            (nlohmann::json{{"stale_after", 90.0},
                            {"max_lost_events", 0.0},
                            {"max_rejected_pct", 2.5},
                            {"canary_silent_after", 90.0}}));
  DetectorHost from_section({"telemetry_stale"},
                            {{"telemetry_stale", {{"stale_after", "2m"}, {"max_lost_events", 5}}}});
  EXPECT_EQ(record_named(from_section.host, "telemetry_stale").effective_config,
            (nlohmann::json{{"stale_after", 120.0},
                            {"max_lost_events", 5.0},
                            {"max_rejected_pct", 1.0},
                            {"canary_silent_after", 120.0}}));
  Scenario s;
  s.telemetry.events_lost = 5;
  s.telemetry.seconds_since_last_event = 120;
  EXPECT_EQ(from_section.check("telemetry_stale", s).verdict, Verdict::kPass);
  DetectorHost refused({"telemetry_stale"}, {{"telemetry_stale", {{"stale_after", "soon"}}}});
  EXPECT_EQ(record_named(refused.host, "telemetry_stale").reason,
            "configuration refused: plugins.config.telemetry_stale.stale_after: must be seconds "
            "from 1 to 3600 (1h) or a duration such as \"300s\" or \"5m\", got \"soon\"");
  DetectorHost too_long({"telemetry_stale"}, {{"telemetry_stale", {{"stale_after", "2h"}}}});
  EXPECT_EQ(record_named(too_long.host, "telemetry_stale").reason,
            "configuration refused: plugins.config.telemetry_stale.stale_after: must be seconds "
            "from 1 to 3600 (1h) or a duration such as \"300s\" or \"5m\", got \"2h\"");
}

TEST(InactiveCanary, AnyInactivePredictionFiresEvenInASmallWindow) {
  DetectorHost h({"inactive_canary"});
  Scenario s;
  auto r = h.check("inactive_canary", s);
  EXPECT_EQ(r.verdict, Verdict::kPass);
  EXPECT_EQ(r.message, "Canary inactive: patchtst reports no inactive prediction (0 of 200)");
  EXPECT_EQ(figure(r, "inactive_predictions"), 0.0);
  s.canary().inactive = 1;
  s.canary().last_inactive_reason = InactiveReason::kFallback;
  r = h.check("inactive_canary", s);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.message, "Canary inactive: patchtst reports fallback");
  s.canary().predictions = 3;
  s.canary().last_inactive_reason = InactiveReason::kShadow;
  EXPECT_EQ(h.check("inactive_canary", s).message, "Canary inactive: patchtst reports shadow");
  expect_insufficient_without_data(h, "inactive_canary", "Canary inactive");
}

TEST(Detectors, StatisticsFromRealEventsReachTheDetectors) {
  // A HOLD collapse computed by the SDK from events, as the monitor computes it.
  std::vector<TradeIntent> events;
  for (int i = 0; i < 250; ++i) {
    TradeIntent e;
    e.time_ms = 1000 + static_cast<std::uint64_t>(i);
    Prediction p;
    p.model = "patchtst";
    p.action = i % 10 < 8 ? Vote::kHold : Vote::kBuy;
    p.confidence = 0.3 + 0.002 * i;
    p.raw_confidence = p.confidence;
    e.predictions.push_back(p);
    events.push_back(e);
  }
  Scenario s;
  s.window = compute_window_stats(events);
  DetectorHost h({"action_collapse", "dead_zone"});
  auto r = h.check("action_collapse", s);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.message, "Action collapse: HOLD=80.0% (>70%)");
  EXPECT_EQ(h.check("dead_zone", s).verdict, Verdict::kPass);
}

}  // namespace
}  // namespace qsc::test
