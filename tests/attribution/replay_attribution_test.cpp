// Canary attribution through the built `qsc replay` with the built plugins, on recordings of
// the synthetic engine: an ensemble that agrees on everything (every model follows the signal)
// rolls the canary back only under the runbook's literal rule, and a canary that votes against
// the signal on half of the events rolls back under the default attribution, blamed by name.
// And on a recording of a long trend (simulated_ensemble.hpp), where every model votes BUY on
// about 85% of events: action_collapse rolls the healthy canary back only under "model".
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "monitor/e2e_harness.hpp"
#include "replay/recording.hpp"
#include "simulated_ensemble.hpp"
#include "telemetry/jsonl.hpp"

namespace qsc::attribution_test {
namespace {

using agent::CanaryBehaviour;
using monitor_test::Child;
using monitor_test::read_text;
namespace fs = std::filesystem;

class ReplayAttribution : public monitor_test::MonitorE2E {
 protected:
  fs::path recording() const { return dir_ / "rec.jsonl"; }
  fs::path json_out() const { return dir_ / "replay.json"; }

  // 70 s of `behaviour`, 100 ms apart, from one hour ago on a whole second.
  void record(CanaryBehaviour behaviour, std::uint64_t seed) {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    replay_test::RecordingWriter writer(recording(), seed);
    writer.append(behaviour, 700, (now / 1000) * 1000 - 3'600'000, 100);
  }

  Child replay() {
    return run_qsc({"replay", "--file", recording().string(), "--model", "patchtst", "--duration",
                    "60s", "--interval", "10s", "--json", json_out().string()});
  }

  nlohmann::json report() const { return nlohmann::json::parse(read_text(json_out())); }

  // 70 s of `ensemble`'s events, 100 ms apart, from one hour ago on a whole second.
  void record(attribution_test::Ensemble& ensemble) {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const auto first_ms = static_cast<std::uint64_t>((now / 1000) * 1000 - 3'600'000);
    std::ofstream out(recording(), std::ios::binary);
    for (std::uint64_t i = 0; i < 700; ++i) {
      auto event = ensemble.next();
      event.time_ms = first_ms + i * 100;
      event.seq = 0;
      const std::string id = std::to_string(event.time_ms) + "-0";
      out << agent::format_jsonl_entry(qsc::StreamEntry{id, agent::fields_for_event(event)})
          << "\n";
    }
  }
};

// Every model follows the signal: agreement near 100% is the whole ensemble's doing.
TEST_F(ReplayAttribution, WholeEnsembleAgreementRollsBackOnlyUnderTheLiteralRule) {
  record(CanaryBehaviour::kAgreementHigh, 41);
  write_config(
      {{"plugins", {{"config", {{"ensemble_dysfunction", {{"attribution", "ensemble"}}}}}}}});
  auto literal = replay();
  ASSERT_EQ(literal.exit_code, 1) << literal.stdout_text() << literal.stderr_text();
  EXPECT_EQ(report()["rollback"]["detectors"], nlohmann::json::array({"ensemble_dysfunction"}));

  write_config();  // the default attribution
  auto attributed = replay();
  ASSERT_EQ(attributed.exit_code, 0) << attributed.stdout_text() << attributed.stderr_text();
  const auto r = report();
  EXPECT_EQ(r["outcome"], "clean");
  const auto& figures = r["checks"].back()["figures"]["ensemble_dysfunction"];
  EXPECT_GT(figures["agreement_pct"]["value"].get<double>(), 80.0) << figures;
  EXPECT_LT(figures["log10_e_value"]["value"].get<double>(),
            figures["log10_threshold"]["value"].get<double>())
      << figures;
  // Every accepted event of the period reached the detector once (CheckInput::new_events).
  EXPECT_EQ(figures["paired_events"]["value"], r["counts"]["accepted"]) << figures;
}

// The canary votes against a BUY or SELL signal on half of the events: the hard disagreement
// is its doing, and the default attribution rolls it back naming it.
TEST_F(ReplayAttribution, CanaryMadeHardDisagreementRollsBackUnderTheDefault) {
  record(CanaryBehaviour::kHardDisagree, 43);
  auto c = replay();
  ASSERT_EQ(c.exit_code, 1) << c.stdout_text() << c.stderr_text();
  const auto r = report();
  const auto& rollback = r["rollback"];
  EXPECT_EQ(rollback["detectors"], nlohmann::json::array({"model_chaos"})) << rollback;
  ASSERT_FALSE(rollback["violations"].empty()) << rollback;
  const auto message = rollback["violations"][0].get<std::string>();
  EXPECT_EQ(message.rfind("Model chaos: hard_disagree=", 0), 0u) << message;
  EXPECT_NE(message.find(", caused by patchtst: +"), std::string::npos) << message;
}

// Every model, canary included, votes BUY on about 85% of events: the canary's BUY share is
// over 70% because the market trends. The literal rule ("model") rolls it back; the default
// spares it and says why.
TEST_F(ReplayAttribution, TrendingMarketRollsBackOnlyUnderTheLiteralShareRule) {
  attribution_test::Ensemble trend(attribution_test::Market::kBuyTrend,
                                   attribution_test::Canary::kHealthy, 53);
  record(trend);
  write_config({{"plugins",
                 {{"config",
                   {{"action_collapse", {{"attribution", "model"}}},
                    {"quality_gate", {{"attribution", "model"}}}}}}}});
  auto literal = replay();
  ASSERT_EQ(literal.exit_code, 1) << literal.stdout_text() << literal.stderr_text();
  EXPECT_EQ(report()["rollback"]["detectors"],
            nlohmann::json::array({"action_collapse", "quality_gate"}))
      << report()["rollback"];

  write_config();  // the default attribution
  auto attributed = replay();
  ASSERT_EQ(attributed.exit_code, 0) << attributed.stdout_text() << attributed.stderr_text();
  const auto r = report();
  EXPECT_EQ(r["outcome"], "clean");
  const auto& last = r["checks"].back();
  const auto& figures = last["figures"]["action_collapse"];
  EXPECT_GT(figures["max_share_pct"]["value"].get<double>(), 70.0) << figures;
  EXPECT_LT(figures["log10_e_value"]["value"].get<double>(),
            figures["log10_threshold"]["value"].get<double>())
      << figures;
  // Every accepted event of the period reached the detector once (CheckInput::new_events).
  EXPECT_EQ(figures["paired_events"]["value"], r["counts"]["accepted"]) << figures;
}

}  // namespace
}  // namespace qsc::attribution_test
