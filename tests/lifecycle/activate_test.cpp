// `qsc activate` end to end: dry run, gate failure, the activation's files and printed block,
// the runbook's weights, the audit entry, refusals, and an action failing part-way.
#include <cmath>
#include <fstream>

#include "lifecycle/lifecycle_harness.hpp"

namespace qsc::test {
namespace {

using nlohmann::json;

const std::vector<std::string> kActivationFiles{
    "data/baseline_model_weights.json", "data/qsc_canary_weights.json",
    "data/systemd_overrides/qsc_canary.conf", "data/qsc_state.json"};

class Activate : public LifecycleTest {
 protected:
  QscRun activate(const std::string& model, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"activate", "--model", model, "--cutover", kRecentCutoverIso};
    args.insert(args.end(), extra.begin(), extra.end());
    return ws.run(args);
  }
  void expect_no_activation() {
    for (const auto& f : kActivationFiles) EXPECT_FALSE(ws.exists(f)) << f;
    EXPECT_FALSE(fs::exists(ws.installed_dropin()));
    EXPECT_TRUE(ws.audit("canary_activated").empty());
    EXPECT_TRUE(ws.systemctl_calls().empty());
  }
  static void expect_weights(const json& w, const std::map<std::string, double>& want) {
    ASSERT_TRUE(w.is_object()) << w.dump();
    EXPECT_EQ(w.size(), want.size()) << w.dump();
    double sum = 0;
    for (const auto& [m, v] : want) {
      ASSERT_TRUE(w.contains(m)) << m << " in " << w.dump();
      EXPECT_NEAR(w[m].get<double>(), v, 1e-12) << m;
      sum += w[m].get<double>();
    }
    EXPECT_NEAR(sum, 1.0, 1e-12);
  }
};

// The runbook's example: the default live weights with a patchtst canary at 10%.
const std::map<std::string, double> kRunbookWeights{
    {"patchtst", 0.10}, {"xgb", 0.28125}, {"lgbm", 0.28125}, {"nhits", 0.3375}};

TEST_F(Activate, DryRunPassesTheGateAndActivatesNothing) {
  ws.publish(0, 342, kRecentCutoverMs + 500, 1000, Flaw::kHealthy);
  auto r = activate("patchtst", {"--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(r.has("✅ QUALITY GATE PASSED\n   342 post-cutover events analyzed")) << r.all();
  EXPECT_FALSE(r.has("CANARY ACTIVATED")) << r.all();
  expect_no_activation();
}

TEST_F(Activate, GateFailureRefusesWithExitOneAndWritesNoCanary) {
  ws.publish(0, 300, kRecentCutoverMs + 500, 1000, Flaw::kDeadZone);
  for (const bool dry : {true, false}) {
    auto r = activate("patchtst",
                      dry ? std::vector<std::string>{"--dry-run"} : std::vector<std::string>{});
    EXPECT_EQ(r.exit_code, 1) << r.all();
    EXPECT_TRUE(r.has("❌ QUALITY GATE FAILED")) << r.all();
    EXPECT_TRUE(r.has("Dead zone: HOLD=90.0% (>85%)")) << r.all();
    EXPECT_FALSE(r.has("QUALITY GATE PASSED")) << r.all();
  }
  expect_no_activation();
}

// Issue 13 item 11: the other models pass, but the canary never predicted (or only in shadow
// mode). Before the fix activate PASSed the gate on the other three and activated patchtst.
TEST_F(Activate, UnseenCanaryIsRefusedNamingTheModelAndItsCount) {
  for (const auto flaw : {Flaw::kAbsent, Flaw::kShadow}) {
    SCOPED_TRACE(flaw == Flaw::kAbsent ? "absent" : "shadow");
    ASSERT_EQ(ws.writer().run({"DEL", kStream}), "");
    ws.publish(0, 300, kRecentCutoverMs + 500, 1000, flaw);
    auto g = ws.run({"gate", "--after", kRecentCutoverIso});
    EXPECT_EQ(g.exit_code, 0) << "the gate alone judges the models it saw: " << g.all();
    auto r = activate("patchtst");
    EXPECT_EQ(r.exit_code, 1) << r.all();
    EXPECT_TRUE(r.has("❌ QUALITY GATE FAILED")) << r.all();
    EXPECT_TRUE(
        r.has("unseen canary: patchtst has 0 active predictions after the cutover < 200 "
              "(telemetry.min_events)"))
        << r.all();
    EXPECT_TRUE(r.has("NO ACTIVATION")) << r.all();
    const auto logged = ws.audit("gate_evaluated");
    ASSERT_FALSE(logged.empty());
    EXPECT_EQ(logged.back()["result"], "FAIL");
    EXPECT_EQ(logged.back()["for"], "activate patchtst");
    expect_no_activation();
  }
  // Another model, judged on its 300 predictions, may still be activated.
  auto xgb = activate("xgb", {"--dry-run"});
  EXPECT_EQ(xgb.exit_code, 0) << xgb.all();
}

// Exactly min_events active canary predictions are enough; one fewer is not.
TEST_F(Activate, CanaryNeedsMinEventsActivePredictions) {
  // 250 events, patchtst in shadow mode in the first 51: 199 active predictions.
  for (int i = 0; i < 250; ++i) {
    ws.publish_at(i, kRecentCutoverMs + 500 + i * 1000, i < 51 ? Flaw::kShadow : Flaw::kHealthy);
  }
  auto r = activate("patchtst", {"--dry-run"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(r.has("unseen canary: patchtst has 199 active predictions")) << r.all();
  ASSERT_EQ(ws.writer().run({"DEL", kStream}), "");
  for (int i = 0; i < 250; ++i) {
    ws.publish_at(i, kRecentCutoverMs + 500 + i * 1000, i < 50 ? Flaw::kShadow : Flaw::kHealthy);
  }
  auto ok = activate("patchtst", {"--dry-run"});
  EXPECT_EQ(ok.exit_code, 0) << ok.all();
}

TEST_F(Activate, TooFewEventsOrNoTelemetryRefuses) {
  ws.publish(0, 199, kRecentCutoverMs, 1000, Flaw::kHealthy);
  auto few = activate("patchtst");
  EXPECT_EQ(few.exit_code, 1) << few.all();
  EXPECT_TRUE(few.has("too few post-cutover events: 199 < 200")) << few.all();
  ws.redis().kill9();
  auto none = activate("patchtst");
  EXPECT_EQ(none.exit_code, 1) << none.all();
  EXPECT_TRUE(none.has("systemctl start redis")) << none.all();
  expect_no_activation();
}

TEST_F(Activate, WritesTheRunbooksFilesWeightsAndAuditEntry) {
  ws.publish(0, 300, kRecentCutoverMs + 500, 1000, Flaw::kHealthy);
  auto r = activate("patchtst");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(r.has("[ACTIVATED] CANARY ACTIVATED")) << r.all();
  EXPECT_TRUE(r.has("  Model:         patchtst\n  Weight:        10.0%\n")) << r.all();
  EXPECT_TRUE(r.has("  Monitor For:   6 hours")) << r.all();
  // The weights block, in the runbook's order, [*] on the canary only.
  EXPECT_TRUE(
      r.has("Weights:\n"
            "  [*] patchtst     10.0%  (canary)\n"
            "  [ ] xgb          28.1%\n"
            "  [ ] lgbm         28.1%\n"
            "  [ ] nhits        33.8%\n"))
      << r.all();
  EXPECT_TRUE(r.has("Rollback Command:\n  qsc rollback")) << r.all();

  // The baseline backup: the live weights (the defaults here); the canary weights.
  const auto baseline = json::parse(ws.read("data/baseline_model_weights.json"));
  expect_weights(baseline, {{"xgb", 0.25}, {"lgbm", 0.25}, {"nhits", 0.30}, {"patchtst", 0.20}});
  const auto canary_text = ws.read("data/qsc_canary_weights.json");
  EXPECT_EQ(canary_text.back(), '\n');
  expect_weights(json::parse(canary_text), kRunbookWeights);

  // The drop-in, line for line (comments aside), and its installed copy.
  const auto dropin = ws.read("data/systemd_overrides/qsc_canary.conf");
  std::vector<std::string> directives;
  for (const auto& l : lines(dropin)) {
    if (!l.empty() && l[0] != '#') directives.push_back(l);
  }
  const std::vector<std::string> want{
      "[Service]",
      "Environment=QSC_CANARY_WEIGHTS=" + ws.path("data/qsc_canary_weights.json").string(),
      "Environment=QSC_CANARY_MODEL=patchtst", "Environment=QSC_CANARY_TRAFFIC=0.10"};
  EXPECT_EQ(directives, want) << dropin;
  EXPECT_EQ(slurp(ws.installed_dropin()), dropin);
  EXPECT_EQ(ws.systemctl_calls(),
            (std::vector<std::string>{"daemon-reload", std::string("restart ") + kUnit,
                                      std::string("is-active ") + kUnit}));

  // The state: the commit point.
  auto st = ws.state();
  ASSERT_TRUE(st);
  EXPECT_EQ((*st)["phase"], "canary_active");
  EXPECT_EQ((*st)["canary_model"], "patchtst");
  EXPECT_DOUBLE_EQ((*st)["canary_weight"].get<double>(), 0.10);
  expect_weights((*st)["weights"], kRunbookWeights);
  EXPECT_EQ((*st)["cutover_ts"], kRecentCutoverIso);

  // The audit entry, as `jq 'select(.action=="canary_activated")'` finds it.
  const auto entries = ws.audit("canary_activated");
  ASSERT_EQ(entries.size(), 1u);
  const auto& e = entries[0];
  EXPECT_EQ(e["canary_model"], "patchtst");
  EXPECT_DOUBLE_EQ(e["canary_weight"].get<double>(), 0.10);
  expect_weights(e["weights"], kRunbookWeights);
  EXPECT_EQ(e["cutover_ts"], kRecentCutoverIso);
  EXPECT_EQ(e["quality_gate_events"], 300);
  EXPECT_DOUBLE_EQ(e["monitoring_duration_hours"].get<double>(), 6.0);
  EXPECT_EQ(e["rollback_cmd"], "qsc rollback");
  EXPECT_EQ(e["files"]["baseline_weights"], "data/baseline_model_weights.json");
  EXPECT_EQ(e["files"]["canary_weights"], "data/qsc_canary_weights.json");
  EXPECT_EQ(e["files"]["dropin"], "data/systemd_overrides/qsc_canary.conf");
  EXPECT_EQ(e["dropin_installed"], true);
  EXPECT_EQ(e["timestamp"].get<std::string>().back(), 'Z');
  // The gate ran first, in-process, and was logged before the activation.
  const auto all = ws.audit();
  // The activation was logged before it wrote anything, and again when complete.
  ASSERT_GE(all.size(), 3u);
  EXPECT_EQ(all[all.size() - 3]["action"], "gate_evaluated");
  EXPECT_EQ(all[all.size() - 2]["action"], "canary_activation_started");
  EXPECT_EQ(all[all.size() - 2]["canary_model"], "patchtst");
  EXPECT_EQ(all[all.size() - 2]["baseline_weights"], e["baseline_weights"]);
  EXPECT_EQ(all.back()["action"], "canary_activated");
}

TEST_F(Activate, BaselineIsAByteCopyOfTheLiveWeightsAndOthersScaleInProportion) {
  const std::string live = "{\"xgb\": 0.40,  \"lgbm\": 0.40,\n \"nhits\": 0.20}\n";
  const auto live_path = ws.use_live_weights(live);
  ws.publish(0, 250, kRecentCutoverMs, 1000, Flaw::kHealthy);
  auto r = activate("patchtst", {"--weight", "0.2"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(ws.read("data/baseline_model_weights.json"), live);
  EXPECT_EQ(slurp(live_path), live) << "activation must not touch the live weights";
  expect_weights(json::parse(ws.read("data/qsc_canary_weights.json")),
                 {{"patchtst", 0.2}, {"xgb", 0.32}, {"lgbm", 0.32}, {"nhits", 0.16}});
  EXPECT_TRUE(r.has("  [*] patchtst     20.0%  (canary)")) << r.all();
  EXPECT_NE(ws.read("data/systemd_overrides/qsc_canary.conf").find("QSC_CANARY_TRAFFIC=0.20\n"),
            std::string::npos);
}

TEST_F(Activate, UnknownModelExitsTwo) {
  ws.publish(0, 250, kRecentCutoverMs, 1000, Flaw::kHealthy);
  auto r = activate("gpt5");
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_TRUE(r.has("unknown model \"gpt5\": choose one of xgb, lgbm, nhits, patchtst")) << r.all();
  expect_no_activation();
}

TEST_F(Activate, AZeroOrTooLargeWeightIsRefusedNotDefaulted) {
  ws.publish(0, 250, kRecentCutoverMs, 1000, Flaw::kHealthy);
  for (const std::string w : {"0", "-0.1", "0.51", "ten"}) {
    auto r = activate("patchtst", {"--weight", w});
    EXPECT_EQ(r.exit_code, 2) << w << ": " << r.all();
    EXPECT_TRUE(r.has("--weight " + w + " is out of range: give a share of traffic above 0"))
        << w << ": " << r.all();
    expect_no_activation();
  }
  auto r = activate("patchtst", {"--weight", "0.05"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_DOUBLE_EQ(json::parse(ws.read("data/qsc_canary_weights.json")).value("patchtst", 0.0),
                   0.05);
}

TEST_F(Activate, NoActivationWithoutItsGateReport) {
  ws.publish(0, 250, kRecentCutoverMs, 1000, Flaw::kHealthy);
  // A file where the reports directory should be: the report cannot be written.
  fs::create_directories(ws.path("reports"));
  std::ofstream(ws.path("reports/safety")) << "not a directory";
  for (const bool dry : {true, false}) {
    auto r = activate("patchtst",
                      dry ? std::vector<std::string>{"--dry-run"} : std::vector<std::string>{});
    EXPECT_EQ(r.exit_code, 2) << r.all();
    EXPECT_TRUE(r.has("the gate report could not be written")) << r.all();
    EXPECT_TRUE(r.has("nothing was activated")) << r.all();
    expect_no_activation();
  }
}

TEST_F(Activate, RefusedWhileACanaryIsActive) {
  ws.publish(0, 250, kRecentCutoverMs, 1000, Flaw::kHealthy);
  ASSERT_EQ(activate("patchtst").exit_code, 0);
  const auto canary = ws.read("data/qsc_canary_weights.json");
  const auto baseline = ws.read("data/baseline_model_weights.json");
  const auto dropin = ws.read("data/systemd_overrides/qsc_canary.conf");
  const auto calls = ws.systemctl_calls().size();
  auto again = activate("xgb");
  EXPECT_EQ(again.exit_code, 2) << again.all();
  EXPECT_TRUE(again.has("a canary is already active: patchtst at 10.0%")) << again.all();
  EXPECT_TRUE(again.has("qsc rollback")) << again.all();
  EXPECT_EQ(ws.read("data/qsc_canary_weights.json"), canary);
  EXPECT_EQ(ws.read("data/baseline_model_weights.json"), baseline);
  EXPECT_EQ(ws.read("data/systemd_overrides/qsc_canary.conf"), dropin);
  EXPECT_EQ(ws.systemctl_calls().size(), calls);
  EXPECT_EQ(ws.audit("canary_activated").size(), 1u);
  EXPECT_EQ((*ws.state())["canary_model"], "patchtst");
}

TEST_F(Activate, AFailingRestartUndoesTheActivationWithExitTwo) {
  const std::string live = "{\"xgb\":0.25,\"lgbm\":0.25,\"nhits\":0.30,\"patchtst\":0.20}";
  const auto live_path = ws.use_live_weights(live);
  ws.publish(0, 250, kRecentCutoverMs, 1000, Flaw::kHealthy);
  ws.fail_systemctl_once("restart");
  auto r = activate("patchtst");
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_TRUE(r.has("activation failed in an action")) << r.all();
  EXPECT_TRUE(r.has("rolled back: yes")) << r.all();
  EXPECT_FALSE(r.has("CANARY ACTIVATED")) << r.all();
  EXPECT_FALSE(ws.exists("data/qsc_canary_weights.json"));
  EXPECT_FALSE(ws.exists("data/systemd_overrides/qsc_canary.conf"));
  EXPECT_FALSE(fs::exists(ws.installed_dropin()));
  EXPECT_EQ(slurp(live_path), live);
  auto st = ws.state();
  ASSERT_TRUE(st);
  EXPECT_NE((*st)["phase"], "canary_active");
  const auto rb = ws.audit("rollback_executed");
  ASSERT_EQ(rb.size(), 1u);
  EXPECT_EQ(rb[0]["trigger"], "activation_failed");
  EXPECT_TRUE(ws.audit("canary_activated").empty());
  // The way is clear for the next attempt.
  auto retry = activate("patchtst");
  EXPECT_EQ(retry.exit_code, 0) << retry.all();
}

}  // namespace
}  // namespace qsc::test
