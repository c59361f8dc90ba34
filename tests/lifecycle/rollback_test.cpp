// `qsc rollback` end to end: byte-identical restore, idempotence, refusal without a usable
// baseline, the audit entry as the runbook's jq query reads it, the systemctl sequence.
#include "lifecycle/lifecycle_harness.hpp"

namespace qsc::test {
namespace {

using nlohmann::json;

// Odd spacing and number forms that no JSON writer reproduces: only a byte copy restores them.
const std::string kLive =
    "{ \"xgb\": 0.250, \"lgbm\":0.25,\n  \"nhits\": 3.0e-1, \"patchtst\": 0.20 }\n";

class Rollback : public LifecycleTest {
 protected:
  void SetUp() override {
    LifecycleTest::SetUp();
    if (IsSkipped()) return;
    live_ = ws.use_live_weights(kLive);
    ws.publish(0, 250, kRecentCutoverMs, 1000, Flaw::kHealthy);
    auto r = ws.run({"activate", "--model", "patchtst", "--cutover", kRecentCutoverIso});
    ASSERT_EQ(r.exit_code, 0) << r.all();
  }
  fs::path live_;
};

TEST_F(Rollback, RestoresTheLiveWeightsByteForByteAndRemovesTheCanary) {
  // The engine (or an operator following the old runbook) changed the live weights.
  spit(live_, ws.read("data/qsc_canary_weights.json"));
  auto r = ws.run({"rollback", "--reason", "operator: ticket 42"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(r.has("✅ Rollback completed successfully")) << r.all();
  EXPECT_TRUE(r.has("Canary Model: patchtst")) << r.all();
  EXPECT_EQ(slurp(live_), kLive);
  EXPECT_FALSE(ws.exists("data/qsc_canary_weights.json"));
  EXPECT_FALSE(ws.exists("data/systemd_overrides/qsc_canary.conf"));
  EXPECT_FALSE(fs::exists(ws.installed_dropin()));
  EXPECT_EQ(ws.read("data/baseline_model_weights.json"), kLive);
  EXPECT_EQ((*ws.state())["phase"], "rolled_back");

  // Activation, then rollback: each reloads, restarts and verifies the unit, in that order.
  const std::vector<std::string> cycle{"daemon-reload", std::string("restart ") + kUnit,
                                       std::string("is-active ") + kUnit};
  std::vector<std::string> want = cycle;
  want.insert(want.end(), cycle.begin(), cycle.end());
  EXPECT_EQ(ws.systemctl_calls(), want);

  // cat logs/qsc_canary.jsonl | jq 'select(.action=="rollback_executed")'
  const auto entries = ws.audit("rollback_executed");
  ASSERT_EQ(entries.size(), 1u);
  const auto& e = entries[0];
  EXPECT_EQ(e["canary_model"], "patchtst");
  EXPECT_EQ(e["trigger"], "manual");
  EXPECT_EQ(e["reason"], "operator: ticket 42");
  EXPECT_EQ(e["result"], "ok");
  EXPECT_EQ(e["violations"], json::array());
  ASSERT_TRUE(e["actions"].is_array());
  std::vector<std::string> actions;
  for (const auto& a : e["actions"]) {
    actions.push_back(a["action"]);
    EXPECT_EQ(a["result"], "ok") << a.dump();
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"rollback", "systemd", "notify"}));
}

TEST_F(Rollback, TwiceIsHarmless) {
  ASSERT_EQ(ws.run({"rollback"}).exit_code, 0);
  const auto calls = ws.systemctl_calls().size();
  auto again = ws.run({"rollback"});
  EXPECT_EQ(again.exit_code, 0) << again.all();
  EXPECT_TRUE(again.has("Nothing to roll back")) << again.all();
  EXPECT_EQ(slurp(live_), kLive);
  EXPECT_EQ(ws.systemctl_calls().size(), calls) << "nothing to restart";
  EXPECT_EQ(ws.audit("rollback_executed").size(), 1u);
  EXPECT_EQ((*ws.state())["phase"], "rolled_back");
  // And a new activation is allowed again afterwards.
  auto r = ws.run({"activate", "--model", "xgb", "--cutover", kRecentCutoverIso});
  EXPECT_EQ(r.exit_code, 0) << r.all();
}

TEST_F(Rollback, MissingBaselineRefusesWithExitOneNamingTheFile) {
  fs::remove(ws.path("data/baseline_model_weights.json"));
  const auto canary = ws.read("data/qsc_canary_weights.json");
  auto r = ws.run({"rollback"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(r.has("data/baseline_model_weights.json")) << r.all();
  EXPECT_FALSE(r.has("Rollback completed")) << r.all();
  // Nothing was touched: the canary stays as it was, for a retry once the baseline is back.
  EXPECT_EQ(ws.read("data/qsc_canary_weights.json"), canary);
  EXPECT_TRUE(fs::exists(ws.installed_dropin()));
  EXPECT_EQ((*ws.state())["phase"], "canary_active");
  EXPECT_EQ(ws.systemctl_calls().size(), 3u) << "no restart without a baseline";
}

TEST_F(Rollback, GarbageBaselineRefusesWithExitOneNamingTheFile) {
  for (const std::string garbage : {"not json {", "[0.25, 0.25]", "{\"xgb\": \"heavy\"}"}) {
    SCOPED_TRACE(garbage);
    spit(ws.path("data/baseline_model_weights.json"), garbage);
    auto r = ws.run({"rollback"});
    EXPECT_EQ(r.exit_code, 1) << r.all();
    EXPECT_TRUE(r.has("data/baseline_model_weights.json")) << r.all();
    EXPECT_TRUE(ws.exists("data/qsc_canary_weights.json"));
    EXPECT_EQ((*ws.state())["phase"], "canary_active");
  }
  // With the baseline restored by hand, the rollback goes through.
  spit(ws.path("data/baseline_model_weights.json"), kLive);
  EXPECT_EQ(ws.run({"rollback"}).exit_code, 0);
  EXPECT_EQ(slurp(live_), kLive);
}

}  // namespace
}  // namespace qsc::test
