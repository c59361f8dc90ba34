// Promotion after monitoring, the scoreboard and the state, end to end. The monitoring periods
// are short (qsc monitor --duration 3s --interval 1s) with events XADDed while they run.
#include <csignal>

#include "lifecycle/lifecycle_harness.hpp"

namespace qsc::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class Promote : public LifecycleTest {
 protected:
  void SetUp() override {
    LifecycleTest::SetUp();
    if (IsSkipped()) return;
    // min_events stays at the harness's 200 (the floor a configuration may set): 250 events
    // for the gate, and an engine fast enough to give the canary 200 in a monitoring period.
    live_ = ws.use_live_weights(kLive);
    ws.publish(0, 250, kRecentCutoverMs, 1000, Flaw::kHealthy);
    auto r = ws.run({"activate", "--model", "patchtst", "--cutover", kRecentCutoverIso});
    ASSERT_EQ(r.exit_code, 0) << r.all();
    // The periods here are short; promotion needs a clean one of at least canary.duration,
    // which must be at least telemetry.stale_after + canary.interval (a shorter period cannot
    // see a silence). The gate above judged events stamped minutes ago under the harness's 1h;
    // from here on the engine publishes live, and 15 s is far more than it stays descheduled.
    ws.config["telemetry"]["stale_after"] = "15s";
    ws.config["canary"]["duration"] = "16s";
    ws.config["canary"]["interval"] = "1s";
  }
  // A monitoring period with an engine publishing `flaw` events throughout.
  QscRun monitor(std::optional<Flaw> flaw, const std::string& duration = "16s") {
    std::optional<Engine> engine;
    if (flaw) engine.emplace(ws.redis().port(), *flaw);
    return ws.run({"monitor", "--duration", duration, "--interval", "1s"}, {}, 60s);
  }
  // A clean period at the activation's 10%; the installed drop-in's bytes (which run the canary
  // at 10%).
  std::string clean_period_at_ten_percent() {
    auto m = monitor(Flaw::kHealthy);
    EXPECT_EQ(m.exit_code, 0) << m.all();
    const auto installed = slurp(ws.installed_dropin());
    EXPECT_NE(installed.find("Environment=QSC_CANARY_TRAFFIC=0.10\n"), std::string::npos)
        << installed;
    return installed;
  }
  QscRun promote(const std::vector<std::string>& args) {
    std::vector<std::string> a{"promote"};
    a.insert(a.end(), args.begin(), args.end());
    return ws.run(a);
  }
  // The refusal's run, for further checks of its text without running qsc promote again (each
  // run costs seconds under a sanitizer, and a period vouches for canary.duration only).
  QscRun expect_refused(const std::vector<std::string>& args, const std::string& why) {
    const auto canary = ws.read("data/qsc_canary_weights.json");
    const auto before = ws.audit().size();
    auto r = promote(args);
    EXPECT_EQ(r.exit_code, 1) << r.all();
    EXPECT_TRUE(r.has(why)) << r.all();
    EXPECT_EQ(ws.read("data/qsc_canary_weights.json"), canary);
    EXPECT_EQ(ws.audit().size(), before);
    return r;
  }
  static void expect_weights(const json& w, const std::map<std::string, double>& want) {
    ASSERT_EQ(w.size(), want.size()) << w.dump();
    for (const auto& [m, v] : want) EXPECT_NEAR(w.value(m, -1.0), v, 1e-12) << m;
  }
  const std::string kLive =
      "{\"xgb\": 0.25, \"lgbm\": 0.25, \"nhits\": 0.30, \"patchtst\": 0.20}\n";
  fs::path live_;
};

TEST_F(Promote, StepByStepAfterCleanPeriodsThenFinalize) {
  expect_refused({"--weight", "0.25"}, "has no clean monitoring period");
  expect_refused({"--finalize"}, "has no clean monitoring period");

  auto m1 = monitor(Flaw::kHealthy);
  ASSERT_EQ(m1.exit_code, 0) << m1.all();
  EXPECT_TRUE(m1.has("✅ MONITORING COMPLETED - NO VIOLATIONS")) << m1.all();
  EXPECT_TRUE(m1.has("Canary is safe to promote to full production.")) << m1.all();
  const auto done = ws.audit("monitoring_completed");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0]["result"], "safe");
  EXPECT_EQ((*ws.state())["phase"], "completed");

  // Not downwards, not to 100% (that is --finalize).
  expect_refused({"--weight", "0.05"}, "must be above the current 10.0%");
  auto p = promote({"--weight", "0.25"});
  ASSERT_EQ(p.exit_code, 0) << p.all();
  EXPECT_TRUE(p.has("  [*] patchtst     25.0%  (canary)")) << p.all();
  const std::map<std::string, double> promoted{
      {"patchtst", 0.25}, {"xgb", 0.234375}, {"lgbm", 0.234375}, {"nhits", 0.28125}};
  expect_weights(json::parse(ws.read("data/qsc_canary_weights.json")), promoted);
  const auto dropin = ws.read("data/systemd_overrides/qsc_canary.conf");
  EXPECT_NE(dropin.find("Environment=QSC_CANARY_TRAFFIC=0.25\n"), std::string::npos) << dropin;
  EXPECT_EQ(slurp(ws.installed_dropin()), dropin);
  auto st = ws.state();
  EXPECT_EQ((*st)["phase"], "promoted");
  EXPECT_DOUBLE_EQ((*st)["canary_weight"].get<double>(), 0.25);
  const auto promoted_entries = ws.audit("canary_promoted");
  ASSERT_EQ(promoted_entries.size(), 1u);
  EXPECT_DOUBLE_EQ(promoted_entries[0]["from_weight"].get<double>(), 0.10);
  EXPECT_DOUBLE_EQ(promoted_entries[0]["canary_weight"].get<double>(), 0.25);
  expect_weights(promoted_entries[0]["weights"], promoted);
  EXPECT_EQ(ws.systemctl_calls().size(), 6u) << "activation and promotion each restart";
  EXPECT_EQ(slurp(live_), kLive) << "promotion leaves the live weights alone";
  // The scoreboard judges the new weight on its own events: none yet, so WAIT, not GO.
  auto sb = ws.run({"scoreboard"});
  ASSERT_EQ(sb.exit_code, 0) << sb.all();
  const auto board = json::parse(ws.read("reports/safety/scoreboard_latest.json"));
  EXPECT_EQ(board["events"], 0) << board.dump();
  EXPECT_EQ(board["overall"], "WAIT");

  // The clean period was at 10%: the new weight needs its own.
  expect_refused({"--finalize"}, "patchtst at 25.0% has no clean monitoring period");
  expect_refused({"--weight", "0.5"}, "has no clean monitoring period");

  auto m2 = monitor(Flaw::kHealthy);
  ASSERT_EQ(m2.exit_code, 0) << m2.all();
  auto f = promote({"--finalize"});
  ASSERT_EQ(f.exit_code, 0) << f.all();
  expect_weights(json::parse(slurp(live_)), promoted);
  EXPECT_FALSE(ws.exists("data/qsc_canary_weights.json"));
  EXPECT_FALSE(ws.exists("data/systemd_overrides/qsc_canary.conf"));
  EXPECT_FALSE(fs::exists(ws.installed_dropin()));
  EXPECT_EQ((*ws.state())["phase"], "finalized");
  ASSERT_EQ(ws.audit("canary_finalized").size(), 1u);
  EXPECT_EQ(ws.audit("canary_finalized")[0]["live_weights"], live_.string());

  // The canary is over: nothing to roll back, the adopted weights stay.
  const auto adopted = slurp(live_);
  auto rb = ws.run({"rollback"});
  EXPECT_EQ(rb.exit_code, 0) << rb.all();
  EXPECT_TRUE(rb.has("Nothing to roll back")) << rb.all();
  EXPECT_EQ(slurp(live_), adopted);
}

// Session 11 (audit11b): qsc promote --finalize checked nothing after its actions. Without
// permission to write the unit directory the systemd action was left out in silence and
// "✅ Finalized: ..." printed, exit 0, with the canary's drop-in still installed: the engine's
// unit would start the canary again at its next restart. The finalization now checks on disk
// what it promised, as the rollback does, and names what is left with the commands.
TEST_F(Promote, AFinalizationThatLeavesTheInstalledDropinIsIncomplete) {
  auto m = monitor(Flaw::kHealthy);
  ASSERT_EQ(m.exit_code, 0) << m.all();
  const auto installed = ws.installed_dropin();
  ASSERT_TRUE(fs::exists(installed));
  const auto canary_weights = (*ws.state())["weights"].get<std::map<std::string, double>>();
  drop_unit_directory_permission(ws);
  auto f = promote({"--finalize"});
  EXPECT_EQ(f.exit_code, 1) << f.all();
  EXPECT_TRUE(f.has("❌ FINALIZATION INCOMPLETE")) << f.all();
  EXPECT_FALSE(f.has("Finalized:")) << f.all();
  EXPECT_TRUE(f.has("installed drop-in " + installed.string() + " is still there")) << f.all();
  EXPECT_TRUE(f.has("run as root: rm -f " + installed.string() +
                    " && systemctl daemon-reload && systemctl restart " + kUnit))
      << f.all();
  EXPECT_TRUE(fs::exists(installed));
  // What could be done was: the live weights are the canary's, its local files are gone.
  expect_weights(json::parse(slurp(live_)), canary_weights);
  EXPECT_FALSE(ws.exists("data/qsc_canary_weights.json"));
  EXPECT_FALSE(ws.exists("data/systemd_overrides/qsc_canary.conf"));
  EXPECT_EQ((*ws.state())["phase"], "finalized");
  const auto finalized = ws.audit("canary_finalized");
  ASSERT_EQ(finalized.size(), 1u);
  EXPECT_EQ(finalized[0].value("result", ""), "incomplete") << finalized[0].dump();
  EXPECT_FALSE(finalized[0].value("still_live", json::array()).empty()) << finalized[0].dump();
  // qsc state says so too (session 13: it said "Phase: finalized" and nothing else).
  const auto still = (*ws.state())["finalize_still_live"];
  ASSERT_TRUE(still.is_array() && !still.empty()) << ws.state()->dump();
  EXPECT_EQ(still, finalized[0]["still_live"]);
  auto st = ws.run({"state"});
  EXPECT_EQ(st.exit_code, 0) << st.all();
  EXPECT_TRUE(st.has("❌ the finalization is INCOMPLETE")) << st.all();
  EXPECT_TRUE(st.has("installed drop-in " + installed.string() + " is still there")) << st.all();

  // Run again, it only checks: nothing restarted, still incomplete.
  const auto calls = ws.systemctl_calls().size();
  auto again = promote({"--finalize"});
  EXPECT_EQ(again.exit_code, 1) << again.all();
  EXPECT_TRUE(again.has("❌ FINALIZATION INCOMPLETE")) << again.all();
  EXPECT_EQ(ws.systemctl_calls().size(), calls);

  // The printed fix done as root, the check holds.
  ws.command_prefix.clear();
  fs::remove(installed);
  auto done = promote({"--finalize"});
  EXPECT_EQ(done.exit_code, 0) << done.all();
  EXPECT_TRUE(done.has("✅ Finalized: patchtst")) << done.all();
  expect_weights(json::parse(slurp(live_)), canary_weights);
  const auto verified = ws.audit("finalization_verified");
  ASSERT_EQ(verified.size(), 2u);
  EXPECT_EQ(verified[0].value("result", ""), "incomplete");
  EXPECT_EQ(verified[1].value("result", ""), "ok");
  EXPECT_EQ((*ws.state())["finalize_still_live"], json::array()) << ws.state()->dump();
  auto after = ws.run({"state"});
  EXPECT_FALSE(after.has("INCOMPLETE")) << after.all();
}

// Session 12: a promotion run without permission to write the unit directory left the systemd
// action out in silence and printed "✅ Promoted patchtst from 10.0% to 25.0%": the engine's
// unit still ran the drop-in installed at activation, at 10%. It now says the promotion is in
// the files only, with the manual install (as activation does), and the audit entry records it.
TEST_F(Promote, AStepUpWithoutTheDropinInstalledSaysSoWithTheManualInstall) {
  const auto before = clean_period_at_ten_percent();
  ASSERT_FALSE(HasFailure());
  const auto installed = ws.installed_dropin();
  drop_unit_directory_permission(ws);
  auto p = promote({"--weight", "0.25"});
  EXPECT_EQ(p.exit_code, 0) << p.all();
  EXPECT_FALSE(p.has("✅ Promoted")) << p.all();
  EXPECT_TRUE(
      p.has("⚠️  Promoted patchtst from 10.0% to 25.0% in the canary weights and the local "
            "drop-in only (not yet in the engine's unit)"))
      << p.all();
  EXPECT_TRUE(p.has("Systemd override not updated (no permission to write")) << p.all();
  EXPECT_TRUE(p.has("the engine still runs patchtst at 10.0% until the new drop-in is installed"))
      << p.all();
  EXPECT_TRUE(p.has("qsc_canary.conf " + installed.parent_path().string() + "/\n")) << p.all();
  EXPECT_TRUE(p.has("  sudo systemctl restart " + std::string(kUnit))) << p.all();
  EXPECT_EQ(slurp(installed), before) << "the installed drop-in could not be replaced";
  EXPECT_NE(ws.read("data/systemd_overrides/qsc_canary.conf")
                .find("Environment=QSC_CANARY_TRAFFIC=0.25\n"),
            std::string::npos);
  const auto entries = ws.audit("canary_promoted");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].value("dropin_installed", true), false) << entries[0].dump();
}

// Session 14 (audit14): a promotion killed after it saved its state and before its actions
// (the systemd action installs the new drop-in and restarts the engine) left `qsc state` saying
// "Phase: promoted", "Canary: patchtst at 25.0%" and nothing else, while the engine's unit still
// ran the drop-in installed at 10% and the audit log had no canary_promoted entry. No verdict
// follows from it (the next period is CANARY NOT DEPLOYED, and promote wants a clean period at
// 25%), but the state claimed a step the engine never took. `qsc state` now looks at the
// installed drop-in as the monitor does.
TEST_F(Promote, APromotionKilledBeforeItsActionsIsNeverShownAsDeployed) {
  const auto before = clean_period_at_ten_percent();
  ASSERT_FALSE(HasFailure());
  const auto installed = ws.installed_dropin();
  auto killed = ws.run({"promote", "--weight", "0.25"}, {"QSC_FAULT_INJECT=promote:after_state"});
  ASSERT_EQ(killed.signal, SIGKILL) << "exit " << killed.exit_code << ": " << killed.all();
  EXPECT_FALSE(killed.has("Promoted")) << killed.all();
  EXPECT_EQ((*ws.state())["phase"], "promoted");
  EXPECT_TRUE(ws.audit("canary_promoted").empty());
  EXPECT_EQ(slurp(installed), before) << "the systemd action never ran";

  auto st = ws.run({"state"});
  EXPECT_EQ(st.exit_code, 0) << st.all();
  EXPECT_TRUE(st.has("Canary:        patchtst at 25.0%")) << st.all();
  EXPECT_TRUE(st.has("❌ NOT DEPLOYED at this weight: the drop-in installed at " +
                     installed.string() + " does not run patchtst at 0.25"))
      << st.all();
  auto js = ws.run({"state", "--json"});
  ASSERT_EQ(js.exit_code, 0) << js.all();
  const auto doc = json::parse(js.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << js.all();
  EXPECT_TRUE(doc["deployment_problem"].is_string()) << doc.dump();

  // Installed as the manual install does, the state is deployed again.
  spit(installed, ws.read("data/systemd_overrides/qsc_canary.conf"));
  auto fixed = ws.run({"state"});
  EXPECT_FALSE(fixed.has("NOT DEPLOYED")) << fixed.all();
}

TEST_F(Promote, RefusedAfterACleanPeriodShorterThanCanaryDuration) {
  // qsc monitor --duration 6s watched cleanly, but canary.duration asks for 6 hours.
  ws.config["canary"]["duration"] = "6h";
  ws.config["canary"]["interval"] = "30s";
  auto m = monitor(Flaw::kHealthy, "6s");
  ASSERT_EQ(m.exit_code, 0) << m.all();
  EXPECT_TRUE(m.has("shorter than canary.duration (6h)")) << m.all();
  // Session 10: it also said "Canary is safe to promote to full production." above the note.
  EXPECT_TRUE(m.has("Not yet promotable: this period (6s)")) << m.all();
  EXPECT_FALSE(m.has("safe to promote")) << m.all();
  EXPECT_EQ((*ws.state())["last_result"], "safe");
  EXPECT_EQ((*ws.state())["last_result_period_ms"], 6000);
  for (const auto& args :
       {std::vector<std::string>{"--weight", "0.25"}, std::vector<std::string>{"--finalize"}}) {
    expect_refused(args, "lasted 6s, less than canary.duration 6h");
    auto r = promote(args);
    EXPECT_TRUE(r.has("promotion needs a clean period of at least canary.duration")) << r.all();
  }
  EXPECT_EQ((*ws.state())["phase"], "completed");
  EXPECT_DOUBLE_EQ((*ws.state())["canary_weight"].get<double>(), 0.10);
}

TEST_F(Promote, RefusedAfterAnInconclusivePeriod) {
  // No engine publishing: too little telemetry to call the canary safe.
  auto m = monitor(std::nullopt, "2s");
  EXPECT_EQ(m.exit_code, 3) << m.all();
  EXPECT_EQ((*ws.state())["last_result"], "inconclusive");
  expect_refused({"--weight", "0.25"}, "has no clean monitoring period");
  expect_refused({"--finalize"}, "has no clean monitoring period");
}

TEST_F(Promote, AViolationWhileMonitoringRollsBackAndPromotionIsRefused) {
  // The share checks' literal rule, so the collapse is what rolls back: under the default
  // attribution the canary's BUY share is blamed a few hundred events in, and model_chaos
  // (the hard disagreement its 10% SELL adds) may come first (tests/attribution).
  ws.config["plugins"]["config"]["action_collapse"] = {{"attribution", "model"}};
  ws.config["plugins"]["config"]["quality_gate"] = {{"attribution", "model"}};
  spit(live_, ws.read("data/qsc_canary_weights.json"));  // the engine adopted the canary
  auto m = monitor(Flaw::kCollapse);
  EXPECT_EQ(m.exit_code, 1) << m.all();
  EXPECT_TRUE(m.has("🚨 VIOLATION DETECTED - EXECUTING ROLLBACK")) << m.all();
  EXPECT_TRUE(m.has("  ❌ Action collapse: BUY=")) << m.all();
  EXPECT_EQ(slurp(live_), kLive);
  EXPECT_FALSE(ws.exists("data/qsc_canary_weights.json"));
  const auto rb = ws.audit("rollback_executed");
  ASSERT_EQ(rb.size(), 1u);
  EXPECT_EQ(rb[0]["trigger"], "qsc_monitor_violation");
  ASSERT_FALSE(rb[0]["violations"].empty());
  EXPECT_EQ((*ws.state())["phase"], "rolled_back");
  auto p = promote({"--weight", "0.25"});
  EXPECT_EQ(p.exit_code, 1) << p.all();
  EXPECT_TRUE(p.has("no canary is active")) << p.all();
}

// Session 10: a clean period vouched for the canary for ever: one that ended two days ago (no
// monitor running since; the canary, its engine and the market may all have changed) still let
// qsc promote raise it. A period vouches for at most canary.duration after its end.
TEST_F(Promote, RefusedWhenTheCleanPeriodEndedLongerAgoThanCanaryDuration) {
  auto m = monitor(Flaw::kHealthy);
  ASSERT_EQ(m.exit_code, 0) << m.all();
  // The period as it would read two days on (the state file is what promote judges by).
  auto st = *ws.state();
  const std::int64_t two_days_ms = 2 * 86'400'000LL;
  st["period_start_ms"] = st["period_start_ms"].get<std::int64_t>() - two_days_ms;
  st["period_end_ms"] = st["period_end_ms"].get<std::int64_t>() - two_days_ms;
  spit(ws.dir() / "data/qsc_state.json", st.dump(2));
  for (const auto& args :
       {std::vector<std::string>{"--weight", "0.25"}, std::vector<std::string>{"--finalize"}}) {
    expect_refused(args,
                   "longer ago than canary.duration 16s: no monitor has watched the canary "
                   "since");
    auto r = promote(args);
    EXPECT_TRUE(r.has("ended 2d")) << r.all();
    EXPECT_TRUE(r.has("Run qsc monitor for a new period")) << r.all();
    EXPECT_FALSE(r.has("✅")) << r.all();
  }
  // A period whose end lies ahead of this host's clock (the clock was stepped back): its age is
  // unknown, so it vouches for nothing either.
  st["period_start_ms"] = st["period_start_ms"].get<std::int64_t>() + 2 * two_days_ms;
  st["period_end_ms"] = st["period_end_ms"].get<std::int64_t>() + 2 * two_days_ms;
  spit(ws.dir() / "data/qsc_state.json", st.dump(2));
  expect_refused({"--weight", "0.25"}, "after this host's clock (");
  EXPECT_EQ((*ws.state())["phase"], "completed");
  EXPECT_DOUBLE_EQ((*ws.state())["canary_weight"].get<double>(), 0.10);
  EXPECT_EQ(slurp(live_), kLive);
}

// Session 10: promotion judged the clean period by today's configuration: a period run under
// one telemetry.stale_after (a silence that long was no violation then) qualified under another.
// A period vouches only under the configuration its monitoring_completed entry carries.
TEST_F(Promote, RefusedWhenTheConfigurationChangedSinceTheCleanPeriod) {
  auto m = monitor(Flaw::kHealthy);
  ASSERT_EQ(m.exit_code, 0) << m.all();
  const auto period_sha = ws.audit("monitoring_completed").at(0)["config_sha256"];
  ws.config["telemetry"]["stale_after"] = "14s";
  expect_refused({"--weight", "0.25"},
                 "the configuration changed since the clean period of "
                 "patchtst at 10.0% (it ran under config_sha256 " +
                     period_sha.get<std::string>());
  auto r = promote({"--finalize"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(r.has("Run qsc monitor for a new period under this configuration")) << r.all();
  EXPECT_EQ((*ws.state())["phase"], "completed");
  EXPECT_EQ(slurp(live_), kLive);
}

// Session 11: a period was called clean whatever the engine's unit ran. An activation without
// permission to write the unit directory prints the manual install; never done (here: the
// drop-in removed from the unit directory), the engine never ran the canary at 10%, yet the
// period ended "✅ MONITORING COMPLETED - NO VIOLATIONS", "Canary is safe to promote", and
// qsc promote went ahead. The same held for a drop-in installed at another weight (what a
// promotion without that permission leaves). The monitor looks at the installed drop-in at the
// period's start, at every check and at its end.
TEST_F(Promote, APeriodWithoutTheCanaryDeployedIsInconclusiveNeverSafe) {
  const auto installed = ws.installed_dropin();
  const auto written = ws.read("data/systemd_overrides/qsc_canary.conf");
  ASSERT_EQ(slurp(installed), written);
  fs::remove(installed);
  auto m = monitor(Flaw::kHealthy);
  EXPECT_EQ(m.exit_code, 3) << m.all();
  EXPECT_TRUE(m.has("⚠️  MONITORING INCONCLUSIVE - CANARY NOT DEPLOYED")) << m.all();
  EXPECT_TRUE(m.has("no drop-in is installed at " + installed.string())) << m.all();
  EXPECT_FALSE(m.has("NO VIOLATIONS")) << m.all();
  EXPECT_FALSE(m.has("safe to promote")) << m.all();
  EXPECT_EQ((*ws.state())["last_result"], "inconclusive");
  const auto inconclusive = ws.audit("monitoring_inconclusive");
  ASSERT_EQ(inconclusive.size(), 1u);
  EXPECT_EQ(inconclusive[0]["reason"], "canary_not_deployed") << inconclusive[0].dump();
  expect_refused({"--weight", "0.25"}, "has no clean monitoring period");

  // Installed, but at another weight than the canary's.
  const auto at = written.find("QSC_CANARY_TRAFFIC=0.10");
  ASSERT_NE(at, std::string::npos) << written;
  spit(installed, std::string(written).replace(at, 23, "QSC_CANARY_TRAFFIC=0.05"));
  auto m2 = monitor(Flaw::kHealthy);
  EXPECT_EQ(m2.exit_code, 3) << m2.all();
  EXPECT_TRUE(m2.has("does not run patchtst at 0.10")) << m2.all();
  EXPECT_FALSE(m2.has("NO VIOLATIONS")) << m2.all();
  expect_refused({"--finalize"}, "has no clean monitoring period");
}

// Session 11: promotion writes the canary's files where today's configuration puts them. With
// plugins.config.systemd.dropin_dir edited after the activation, the drop-in the activation
// installed would stay behind (at the old weight) beside the promoted one; and the rollback
// checks the activation's places too, so they must not drift from the files. Refused, before
// anything else is said (main's qsc refused this edit only as a changed configuration digest, and
// a period monitored after the edit would have let it through; with the monitor's look at the
// installed drop-in such a period is inconclusive now, so this is a second line, not a finding).
TEST_F(Promote, RefusedWhenTheConfigurationMovedTheCanarysFiles) {
  auto m = monitor(Flaw::kHealthy);
  ASSERT_EQ(m.exit_code, 0) << m.all();
  // Checked before the period's configuration digest (which this edit changes too).
  ws.config["plugins"]["config"]["systemd"]["dropin_dir"] = (ws.side() / "moved.d").string();
  for (const auto& args :
       {std::vector<std::string>{"--weight", "0.25"}, std::vector<std::string>{"--finalize"}}) {
    expect_refused(args, "the configuration has moved the canary's files");
  }
  EXPECT_FALSE(fs::exists(ws.side() / "moved.d/qsc_canary.conf"));
  EXPECT_EQ((*ws.state())["phase"], "completed");
  EXPECT_EQ(slurp(live_), kLive);
}

// Session 10: after a clean period the canary collapsed (BUY in 80% of its votes), with no
// monitor running: qsc promote raised it on the period's word. The canary's current window must
// be GO as qsc scoreboard judges it.
TEST_F(Promote, RefusedWhenTheCanaryFailsItsChecksAfterItsCleanPeriod) {
  ws.config["plugins"]["config"]["action_collapse"] = {{"attribution", "model"}};
  ws.config["plugins"]["config"]["quality_gate"] = {{"attribution", "model"}};
  // Two refusals come after the period: a 30 s period vouches long enough for both under a
  // sanitizer on a loaded machine (with 16 s, the ASan suite of session 11 once ran past it,
  // and the age refusal came first).
  ws.config["canary"]["duration"] = "30s";
  auto m = monitor(Flaw::kHealthy, "30s");
  ASSERT_EQ(m.exit_code, 0) << m.all();
  ASSERT_EQ((*ws.state())["last_result"], "safe");
  // A whole window (telemetry.window_events 2000) of the collapse, stamped from now on (the
  // engine of the period has stopped; within telemetry.max_clock_skew of the agent's clock).
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  ws.publish(0, 2000, now + 1, 1, Flaw::kCollapse);
  for (const auto& args :
       {std::vector<std::string>{"--weight", "0.25"}, std::vector<std::string>{"--finalize"}}) {
    const auto r = expect_refused(args, "patchtst's current window (since ");
    EXPECT_TRUE(r.has(") is NO-GO: ")) << r.all();
    EXPECT_TRUE(r.has("Action collapse: BUY=")) << r.all();
    EXPECT_TRUE(r.has("run qsc monitor for a new period")) << r.all();
  }
  EXPECT_EQ((*ws.state())["phase"], "completed");
  EXPECT_EQ(slurp(live_), kLive);
}

// Session 10: as above for telemetry that became unreadable after the clean period: 100
// trade.intent entries whose payload is not JSON (over telemetry.max_rejected_pct 1% of the
// window) did not stop the promotion.
TEST_F(Promote, RefusedWhenTheCanarysTelemetryIsUnreadableAfterItsCleanPeriod) {
  auto m = monitor(Flaw::kHealthy);
  ASSERT_EQ(m.exit_code, 0) << m.all();
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(ws.writer().xadd(kStream, sid(now + 1 + i),
                               {{"event_type", "trade.intent"}, {"payload", "not json {"}}),
              "");
  }
  const auto r = expect_refused({"--weight", "0.25"}, "patchtst's current window (since ");
  EXPECT_TRUE(r.has(") is WAIT: ")) << r.all();
  EXPECT_TRUE(r.has("unreadable telemetry: 100 rejected entries")) << r.all();
  EXPECT_EQ((*ws.state())["phase"], "completed");
}

class Scoreboard : public LifecycleTest {
 protected:
  json board() {
    auto r = ws.run({"scoreboard"});
    EXPECT_EQ(r.exit_code, 0) << r.all();
    EXPECT_TRUE(r.has("Written: reports/safety/scoreboard_latest.md")) << r.all();
    const auto md = ws.read("reports/safety/scoreboard_latest.md");
    EXPECT_NE(r.out.find(md), std::string::npos) << "the printed board is the file";
    auto j = json::parse(ws.read("reports/safety/scoreboard_latest.json"), nullptr, false);
    EXPECT_FALSE(j.is_discarded());
    EXPECT_NE(md.find("- Overall: **" + j.value("overall", std::string("?")) + "**"),
              std::string::npos)
        << md;
    return j;
  }
  static const json& row(const json& j, const std::string& model) {
    for (const auto& r : j["models"]) {
      if (r["model"] == model) return r;
    }
    static const json none;
    ADD_FAILURE() << "no row for " << model << " in " << j.dump();
    return none;
  }
};

TEST_F(Scoreboard, HealthyModelsAreAllGo) {
  ws.publish(0, 300, kRecentCutoverMs, 1000, Flaw::kHealthy);
  const auto j = board();
  EXPECT_EQ(j["overall"], "ALL-GO");
  EXPECT_EQ(j["events"], 300);
  ASSERT_EQ(j["models"].size(), 4u);
  for (const auto& m : kModels) {
    EXPECT_EQ(row(j, m)["status"], "GO") << m;
    EXPECT_EQ(row(j, m)["stats"]["predictions"], 300);
  }
  EXPECT_NEAR(j["ensemble"]["agreement_pct"].get<double>(), 75.0, 1e-9);
  EXPECT_NEAR(j["ensemble"]["hard_disagree_pct"].get<double>(), 0.0, 1e-9);
}

TEST_F(Scoreboard, TooFewPredictionsAreWaitNeverGo) {
  ws.publish(0, 150, kRecentCutoverMs, 1000, Flaw::kHealthy);
  const auto j = board();
  EXPECT_EQ(j["overall"], "WAIT");
  for (const auto& m : kModels) {
    EXPECT_EQ(row(j, m)["status"], "WAIT") << m;
    EXPECT_EQ(row(j, m)["reasons"], json::array({"only 150 predictions (< 200)"}));
  }
}

TEST_F(Scoreboard, AFailingModelIsNoGo) {
  ws.publish(0, 300, kRecentCutoverMs, 1000, Flaw::kCollapse);
  const auto j = board();
  EXPECT_EQ(j["overall"], "NO-GO");
  EXPECT_EQ(row(j, "patchtst")["status"], "NO-GO");
  // The loaded detectors' messages, as the monitor would report them: action_collapse and the
  // quality_gate detector, whose combined verdict includes the collapse.
  EXPECT_EQ(row(j, "patchtst")["reasons"],
            json::array({"Action collapse: BUY=80.0% (>70%)",
                         "Quality gate: NO-GO (Action collapse: BUY=80.0% (>70%))"}));
  EXPECT_NE(row(j, "xgb")["status"], "NO-GO");
}

TEST_F(Scoreboard, EnsembleOutOfRangeIsWait) {
  ws.publish(0, 300, kRecentCutoverMs, 1000, Flaw::kUnanimous);
  const auto j = board();
  EXPECT_EQ(j["overall"], "WAIT");
  for (const auto& m : kModels) {
    EXPECT_EQ(row(j, m)["status"], "WAIT") << m;
    EXPECT_EQ(row(j, m)["reasons"],
              json::array({"Ensemble dysfunction: agreement=100.0% (target 55-80%)"}));
  }
}

TEST_F(Scoreboard, AnActiveCanaryIsJudgedOnItsOwnWindowOnly) {
  ws.publish(0, 300, kRecentCutoverMs, 1000, Flaw::kHealthy);
  ASSERT_EQ(ws.run({"activate", "--model", "patchtst", "--cutover", kRecentCutoverIso}).exit_code,
            0);
  // No event since the activation: nothing to call healthy.
  const auto j = board();
  EXPECT_EQ(j["canary_model"], "patchtst");
  EXPECT_EQ(j["events"], 0);
  EXPECT_EQ(j["overall"], "WAIT");
}

TEST_F(Scoreboard, StateFollowsTheLifecycle) {
  ws.publish(0, 300, kRecentCutoverMs, 1000, Flaw::kHealthy);
  auto idle = ws.run({"state", "--json"});
  ASSERT_EQ(idle.exit_code, 0) << idle.all();
  auto j = json::parse(idle.out);
  EXPECT_EQ(j["phase"], "idle");
  EXPECT_EQ(j["telemetry"]["ok"], true);
  EXPECT_EQ(j["telemetry"]["events"], 300);

  ASSERT_EQ(ws.run({"activate", "--model", "nhits", "--cutover", kRecentCutoverIso}).exit_code, 0);
  j = json::parse(ws.run({"state", "--json"}).out);
  EXPECT_EQ(j["phase"], "canary_active");
  EXPECT_EQ(j["canary_model"], "nhits");
  EXPECT_DOUBLE_EQ(j["canary_weight"].get<double>(), 0.10);
  EXPECT_NEAR(j["weights"]["nhits"].get<double>(), 0.10, 1e-12);
  EXPECT_NEAR(j["weights"]["patchtst"].get<double>(), 0.20 * 0.9 / 0.7, 1e-12);
  EXPECT_EQ(j["cutover_ts"], kRecentCutoverIso);
  auto text = ws.run({"state"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_TRUE(text.has("Phase:         canary_active\nCanary:        nhits at 10.0%"))
      << text.all();
  EXPECT_TRUE(text.has("  [*] nhits        10.0%  (canary)")) << text.all();

  ASSERT_EQ(ws.run({"rollback"}).exit_code, 0);
  // Telemetry gone: the state still answers, and says so.
  ws.redis().kill9();
  auto down = ws.run({"state", "--json"});
  EXPECT_EQ(down.exit_code, 0) << down.all();
  j = json::parse(down.out);
  EXPECT_EQ(j["phase"], "rolled_back");
  EXPECT_EQ(j["telemetry"]["ok"], false);
  EXPECT_NE(j["telemetry"]["error"].get<std::string>().find("127.0.0.1:" +
                                                            std::to_string(ws.redis().port())),
            std::string::npos)
      << j.dump();
}

// Session 9 (audit 2): `qsc state` called the telemetry "ok" whenever the source answered: 300
// healthy events from two days ago were `"ok": true`, where the gate and the scoreboard fail the
// same stream as stale. State judges the scoreboard's window by the gate's own conditions
// (telemetry_blockers) and names what fails.
TEST_F(Scoreboard, StateNeverCallsTwoDayOldTelemetryOk) {
  ws.publish(0, 300, kRecentCutoverMs - 2 * 86'400'000LL, 1000, Flaw::kHealthy);
  auto r = ws.run({"state", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const auto t = json::parse(r.out)["telemetry"];
  EXPECT_EQ(t["ok"], false) << t.dump();
  EXPECT_EQ(t["events"], 300) << t.dump();
  ASSERT_EQ(t["reasons"].size(), 1u) << t.dump();
  const auto reason = t["reasons"][0].get<std::string>();
  EXPECT_EQ(reason.rfind("stale telemetry: the newest event in the window (", 0), 0u) << reason;
  EXPECT_NE(reason.find("old (> telemetry.stale_after 1h)"), std::string::npos) << reason;
  auto text = ws.run({"state"});
  EXPECT_EQ(text.exit_code, 0) << text.all();
  EXPECT_TRUE(text.has("Telemetry:     ❌ NOT OK: redis ")) << text.all();
  // The age is read again by this run (it may be a second older): the reason up to it.
  EXPECT_TRUE(
      text.has(" 300 events in the window: " + reason.substr(0, reason.find(") is ")) + ") is 2d"))
      << text.all();
}

// As above for unreadable entries: 10 trade.intent entries whose payload is not JSON among 300
// healthy ones (3.2% > telemetry.max_rejected_pct 1%) were "ok".
TEST_F(Scoreboard, StateNeverCallsUnreadableTelemetryOk) {
  ws.publish(0, 300, kRecentCutoverMs, 1000, Flaw::kHealthy);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(ws.writer().xadd(kStream, sid(kRecentCutoverMs + 300'000 + i),
                               {{"event_type", "trade.intent"}, {"payload", "not json {"}}),
              "");
  }
  const auto t = json::parse(ws.run({"state", "--json"}).out)["telemetry"];
  EXPECT_EQ(t["ok"], false) << t.dump();
  EXPECT_EQ(t["events"], 300) << t.dump();
  EXPECT_EQ(t["rejected"], 10) << t.dump();
  EXPECT_NEAR(t["rejected_pct"].get<double>(), 100.0 * 10 / 310, 1e-9) << t.dump();
  EXPECT_EQ(t["reasons"], json::array({"unreadable telemetry: 10 rejected entries = 3.23% (> 1%)"}))
      << t.dump();
}

// An active canary with no event since its activation has nothing to call healthy.
TEST_F(Scoreboard, StateWithNoEventSinceTheActivationIsNotOk) {
  ws.publish(0, 300, kRecentCutoverMs, 1000, Flaw::kHealthy);
  ASSERT_EQ(ws.run({"activate", "--model", "patchtst", "--cutover", kRecentCutoverIso}).exit_code,
            0);
  const auto t = json::parse(ws.run({"state", "--json"}).out)["telemetry"];
  EXPECT_EQ(t["ok"], false) << t.dump();
  EXPECT_EQ(t["events"], 0) << t.dump();
  ASSERT_EQ(t["reasons"].size(), 1u) << t.dump();
  EXPECT_EQ(t["reasons"][0].get<std::string>().rfind("no trade.intent event since ", 0), 0u)
      << t.dump();
}

// Session 18 (audit18): `qsc state` read the phase "monitoring" from the state file, which a
// monitor stopped (SIGTERM: systemctl stop, Ctrl-C) or killed (SIGKILL, the OOM killer) leaves as
// it was: with no monitor left it said `Phase: monitoring`, the period's checks and time
// remaining, and nothing else, while the canary ran live and unwatched. A period is watched only
// while a `qsc monitor` holds the monitor lock (the kernel drops it with the process).
TEST_F(Scoreboard, StateNeverCallsAPeriodWatchedWhenNoMonitorRuns) {
  ws.publish(0, 300, kRecentCutoverMs, 1000, Flaw::kHealthy);
  ASSERT_EQ(ws.run({"activate", "--model", "patchtst", "--cutover", kRecentCutoverIso}).exit_code,
            0);
  const auto expect_watched = [this](const std::string& when) {
    const auto j = json::parse(ws.run({"state", "--json"}).out);
    EXPECT_EQ(j["phase"], "monitoring") << when << ": " << j.dump();
    EXPECT_EQ(j.value("monitor_watching", false), true) << when << ": " << j.dump();
    EXPECT_TRUE(j.contains("monitor_problem") && j["monitor_problem"].is_null())
        << when << ": " << j.dump();
    const auto text = ws.run({"state"});
    EXPECT_FALSE(text.has("NOT WATCHED")) << when << ": " << text.all();
  };
  const auto expect_unwatched = [this](const std::string& when) {
    const auto j = json::parse(ws.run({"state", "--json"}).out);
    EXPECT_EQ(j["phase"], "monitoring") << when << ": " << j.dump();
    EXPECT_EQ(j.value("monitor_watching", true), false) << when << ": " << j.dump();
    EXPECT_EQ(j.value("monitor_problem", std::string()).rfind("no qsc monitor is running", 0), 0u)
        << when << ": " << j.dump();
    const auto text = ws.run({"state"});
    EXPECT_EQ(text.exit_code, 0) << text.all();
    EXPECT_TRUE(text.has("❌ NOT WATCHED: no qsc monitor is running (none holds "))
        << when << ": " << text.all();
    EXPECT_TRUE(text.has("unwatched: resume the period with qsc monitor"))
        << when << ": " << text.all();
  };

  // Stopped as systemctl stop does: the monitor saves its state ("monitoring") and exits.
  auto first = ws.spawn({"monitor", "--duration", "600s", "--interval", "60s"});
  ASSERT_TRUE(wait_for_text(first.out, "QSC MONITOR")) << slurp(first.out) << slurp(first.err);
  expect_watched("while the first monitor runs");
  ASSERT_EQ(::kill(first.pid, SIGTERM), 0);
  auto stopped = ws.wait(first);
  EXPECT_TRUE(stopped.has("Monitoring interrupted")) << stopped.all();
  expect_unwatched("after SIGTERM");

  // Resumed, then killed with no chance to write anything.
  auto second = ws.spawn({"monitor", "--duration", "600s", "--interval", "60s"});
  ASSERT_TRUE(wait_for_text(second.out, "Resuming monitoring of patchtst"))
      << slurp(second.out) << slurp(second.err);
  expect_watched("while the resumed monitor runs");
  ASSERT_EQ(::kill(second.pid, SIGKILL), 0);
  auto killed = ws.wait(second);
  EXPECT_EQ(killed.signal, SIGKILL) << killed.all();
  expect_unwatched("after SIGKILL");
}

// Session 18 (audit18): the live canary reporting itself shadow is a violation (the monitor's
// inactive_canary), but that detector is canary-only and the scoreboard runs no canary scope: a
// canary whose every prediction since its activation said "shadow": true was `patchtst (canary)
// | GO` on figures that count its shadow predictions as votes. It is NO-GO, naming the count.
TEST_F(Scoreboard, AnActiveCanaryReportingItselfShadowIsNeverGo) {
  ws.publish(0, 300, kRecentCutoverMs, 1000, Flaw::kHealthy);
  ASSERT_EQ(ws.run({"activate", "--model", "patchtst", "--cutover", kRecentCutoverIso}).exit_code,
            0);
  const std::int64_t activated_ms = (*ws.state())["activated_ms"].get<std::int64_t>();
  // After the activation (the canary's window), at one event a millisecond: 300 of them reach
  // min_events 200, all stamped well within max_clock_skew of now.
  ws.publish(1000, 300, activated_ms + 1, 1, Flaw::kShadow);
  const auto j = board();
  EXPECT_EQ(j["canary_model"], "patchtst") << j.dump();
  EXPECT_EQ(j["events"], 300) << j.dump();
  EXPECT_EQ(j["overall"], "NO-GO") << j.dump();
  const auto& canary = row(j, "patchtst");
  EXPECT_EQ(canary["status"], "NO-GO") << canary.dump();
  EXPECT_NE(canary["reasons"].dump().find(
                "Canary inactive: patchtst reports shadow (300 of 300 predictions in the window)"),
            std::string::npos)
      << canary.dump();
}

// Session 18 (audit18): `qsc state` took the phase from the state file alone: with the file gone
// (deleted, lost with a disk, or paths.state pointing elsewhere) it said `Phase: idle` and the
// telemetry ok while the canary's weights and its installed drop-in still ran it at 10%.
TEST_F(Scoreboard, StateWithoutItsFileNeverHidesALiveCanary) {
  ws.publish(0, 300, kRecentCutoverMs, 1000, Flaw::kHealthy);
  ASSERT_EQ(ws.run({"activate", "--model", "patchtst", "--cutover", kRecentCutoverIso}).exit_code,
            0);
  ASSERT_TRUE(fs::exists(ws.installed_dropin()));
  fs::remove(ws.path("data/qsc_state.json"));
  auto j = json::parse(ws.run({"state", "--json"}).out);
  EXPECT_EQ(j["phase"], "idle") << j.dump();
  ASSERT_TRUE(j.contains("canary_files_left")) << j.dump();
  const auto left = j["canary_files_left"].dump();
  EXPECT_NE(left.find("canary weights data/qsc_canary_weights.json is still there"),
            std::string::npos)
      << left;
  EXPECT_NE(left.find("installed drop-in " + ws.installed_dropin().string() + " is still there"),
            std::string::npos)
      << left;
  auto text = ws.run({"state"});
  EXPECT_EQ(text.exit_code, 0) << text.all();
  EXPECT_TRUE(
      text.has("Phase:         idle\n               ❌ CANARY FILES PRESENT: the state "
               "file (data/qsc_state.json) says no canary is active, but:"))
      << text.all();
  // Rolled back (qsc rollback names the model from the drop-in), nothing is left to say.
  auto rollback = ws.run({"rollback"});
  ASSERT_EQ(rollback.exit_code, 0) << rollback.all();
  j = json::parse(ws.run({"state", "--json"}).out);
  EXPECT_EQ(j["canary_files_left"], json::array()) << j.dump();
  EXPECT_FALSE(ws.run({"state"}).has("CANARY FILES PRESENT"));
}

// Session 9: the scoreboard handed the detectors "no second since the last event" whatever the
// events' age: 300 healthy events from two days ago were ALL-GO, where the gate over the same
// stream fails as stale. The newest event's age stands in for the arrival clock, as in the gate.
TEST_F(Scoreboard, TwoDayOldTelemetryIsNeverGo) {
  ws.publish(0, 300, kRecentCutoverMs - 2 * 86'400'000LL, 1000, Flaw::kHealthy);
  const auto j = board();
  EXPECT_NE(j["overall"], "ALL-GO") << j.dump();
  for (const auto& m : kModels) {
    EXPECT_NE(row(j, m)["status"], "GO") << m;
    EXPECT_NE(row(j, m)["reasons"].dump().find("stale"), std::string::npos) << row(j, m).dump();
  }
}

// Session 9: with a canary active and none of its predictions since its activation (the engine
// dropped it from model_breakdown), the board had no row for it and called the three other
// models ALL-GO, under "Canary: patchtst".
TEST_F(Scoreboard, AnActiveCanaryWithoutPredictionsIsWaitNeverAllGo) {
  ws.publish(0, 300, kRecentCutoverMs, 1000, Flaw::kHealthy);
  ASSERT_EQ(ws.run({"activate", "--model", "patchtst", "--cutover", kRecentCutoverIso}).exit_code,
            0);
  const auto since = ws.state().value()["weight_since_ms"].get<std::int64_t>();
  ws.publish(300, 300, since + 1, 1, Flaw::kAbsent);
  const auto j = board();
  EXPECT_EQ(j["canary_model"], "patchtst");
  EXPECT_EQ(j["events"], 300);
  EXPECT_EQ(j["overall"], "WAIT");
  const auto& canary = row(j, "patchtst");
  EXPECT_EQ(canary["status"], "WAIT");
  EXPECT_EQ(canary["canary"], true);
  EXPECT_NE(canary["reasons"].dump().find("no predictions of the canary patchtst"),
            std::string::npos)
      << canary.dump();
  EXPECT_EQ(row(j, "xgb")["status"], "GO");
}

}  // namespace
}  // namespace qsc::test
