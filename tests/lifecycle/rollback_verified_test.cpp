// Issue 13, items 1-4, end to end with the built qsc: a rollback is judged by its
// postconditions on disk (never by the actions' word), `qsc rollback` works without the plugins
// (built-in path), the required plugins stop monitor/gate/activate/promote when one is missing,
// and a required plugin lost on SIGHUP rolls back.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "lifecycle/lifecycle_harness.hpp"

namespace qsc::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Odd spacing and number forms: only a byte copy of the baseline restores them.
const std::string kVerifiedLive =
    "{ \"xgb\": 0.250, \"lgbm\":0.25,\n  \"nhits\": 3.0e-1, \"patchtst\": 0.20 }\n";

// Where the build puts the plugins the built qsc loads by default.
fs::path built_plugin_dir() {
  return fs::path(QSC_BINARY).parent_path().parent_path() / "lib" / "qsc" / "plugins";
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class RollbackVerified : public LifecycleTest {
 protected:
  void SetUp() override {
    LifecycleTest::SetUp();
    if (IsSkipped()) return;
    live_ = ws.use_live_weights(kVerifiedLive);
    ws.publish(0, 250, kRecentCutoverMs, 1000, Flaw::kHealthy);
    auto r = ws.run({"activate", "--model", "patchtst", "--cutover", kRecentCutoverIso});
    ASSERT_EQ(r.exit_code, 0) << r.all();
    ASSERT_TRUE(fs::exists(ws.installed_dropin()));
    // The engine adopted the canary: only a real restore brings the baseline back.
    spit(live_, ws.read("data/qsc_canary_weights.json"));
  }

  // A copy of the built plugin directory (mode 0755, files 0755) without `omit`, configured as
  // plugins.dir.
  fs::path use_plugin_copy(const std::vector<std::string>& omit) {
    const auto dir = ws.side() / "plugins";
    fs::create_directories(dir);
    ::chmod(dir.c_str(), 0755);
    for (const auto& e : fs::directory_iterator(built_plugin_dir())) {
      if (e.path().extension() != ".so") continue;
      if (std::find(omit.begin(), omit.end(), e.path().stem().string()) != omit.end()) continue;
      fs::copy_file(e.path(), dir / e.path().filename(), fs::copy_options::overwrite_existing);
      ::chmod((dir / e.path().filename()).c_str(), 0755);
    }
    ws.config["plugins"]["dir"] = dir.string();
    return dir;
  }

  // Everything of the canary is gone and the live weights are the baseline's bytes.
  void expect_rolled_back() {
    EXPECT_EQ(slurp(live_), kVerifiedLive);
    EXPECT_FALSE(ws.exists("data/qsc_canary_weights.json"));
    EXPECT_FALSE(ws.exists("data/systemd_overrides/qsc_canary.conf"));
    EXPECT_FALSE(fs::exists(ws.installed_dropin()));
    EXPECT_EQ((*ws.state())["phase"], "rolled_back");
  }

  // The built-in path ran: it says so and why, and the postconditions hold.
  void expect_builtin_rollback(const QscRun& r, const std::string& why) {
    EXPECT_EQ(r.exit_code, 0) << r.all();
    EXPECT_TRUE(r.has("Plugins bypassed (built-in rollback used)")) << r.all();
    EXPECT_TRUE(r.has(why)) << r.all();
    EXPECT_TRUE(r.has("✅ Rollback completed successfully")) << r.all();
    expect_rolled_back();
    const auto calls = ws.systemctl_calls();
    ASSERT_GE(calls.size(), 5u);
    EXPECT_EQ(calls[calls.size() - 2], "daemon-reload");
    EXPECT_EQ(calls.back(), std::string("restart ") + kUnit);
    const auto rb = ws.audit("rollback_executed");
    ASSERT_EQ(rb.size(), 1u);
    EXPECT_EQ(rb[0]["result"], "ok");
    EXPECT_TRUE(ws.audit("rollback_failed").empty());
  }

  fs::path live_;
};

// Item 1: a configuration without the rollback action, or with the required set shrunk, is
// refused by qsc config and by every command, with the key named.
TEST_F(RollbackVerified, ActionsWithoutRollbackAndAShrunkRequiredListAreRefused) {
  const auto canary = ws.read("data/qsc_canary_weights.json");
  for (const json& actions : {json::array(), json{"systemd", "notify"}}) {
    SCOPED_TRACE(actions.dump());
    ws.config["plugins"]["actions"] = actions;
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"config"}, {"rollback"}, {"monitor"}, {"state"}}) {
      auto r = ws.run(args);
      EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.all();
      EXPECT_TRUE(r.has("plugins.actions: must contain \"rollback\"")) << args[0] << r.all();
    }
  }
  ws.config["plugins"]["actions"] = {"rollback", "systemd", "notify"};
  ws.config["plugins"]["required"] = {"rollback", "dead_zone"};
  auto r = ws.run({"config"});
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_TRUE(r.has("plugins.required: may extend the built-in required set but not shrink it"))
      << r.all();
  EXPECT_TRUE(r.has("telemetry_stale")) << r.all();
  // Extending is allowed.
  ws.config["plugins"]["required"] = {
      "action_collapse", "dead_zone",          "flat_predictions",
      "narrow_range",    "quality_gate",       "ensemble_dysfunction",
      "model_chaos",     "constant_output",    "telemetry_stale",
      "inactive_canary", "distribution_shift", "rollback",
      "notify"};
  r = ws.run({"config"});
  EXPECT_EQ(r.exit_code, 0) << r.all();
  // Nothing was touched by the refused commands.
  EXPECT_EQ(ws.read("data/qsc_canary_weights.json"), canary);
  EXPECT_EQ((*ws.state())["phase"], "canary_active");
}

// Item 1: the actions leave the installed drop-in (no systemd action configured): the check
// after the actions finds it; ROLLBACK INCOMPLETE, exit 1, rollback_failed, critical notify,
// state rollback_incomplete which every other command refuses and qsc rollback retries.
TEST_F(RollbackVerified, ADropinLeftBehindIsIncompleteNeverSuccess) {
  const auto incidents = ws.side() / "incidents.jsonl";
  const auto hook = ws.side() / "bin/incident_hook";
  spit(hook,
       "#!/bin/sh\ncat >> '" + incidents.string() + "'\necho >> '" + incidents.string() + "'\n");
  ::chmod(hook.c_str(), 0755);
  ws.config["plugins"]["actions"] = {"rollback", "notify"};
  ws.config["plugins"]["config"]["notify"] = {
      {"channels", json::array({{{"type", "exec"}, {"argv", {hook.string()}}}})}};
  auto r = ws.run({"rollback"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(r.has("❌ ROLLBACK INCOMPLETE")) << r.all();
  EXPECT_FALSE(r.has("Rollback completed")) << r.all();
  EXPECT_TRUE(r.has("installed drop-in " + ws.installed_dropin().string() + " is still there"))
      << r.all();
  EXPECT_TRUE(r.has("run as root: rm -f " + ws.installed_dropin().string() +
                    " && systemctl daemon-reload && systemctl restart " + kUnit))
      << r.all();
  // What the rollback action could do, it did.
  EXPECT_EQ(slurp(live_), kVerifiedLive);
  EXPECT_FALSE(ws.exists("data/qsc_canary_weights.json"));
  EXPECT_TRUE(ws.audit("rollback_executed").empty());
  const auto failed = ws.audit("rollback_failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0]["result"], "incomplete");
  EXPECT_EQ(failed[0]["canary_model"], "patchtst");
  ASSERT_EQ(failed[0]["still_live"].size(), 1u) << failed[0].dump();
  EXPECT_EQ((*ws.state())["phase"], "rollback_incomplete");
  // The pager hears it once, after the check, as critical with the failed postconditions: a
  // first "rolled back" page before the check would have been false.
  std::vector<json> pages;
  for (const auto& line : lines(slurp(incidents))) {
    auto doc = json::parse(line, nullptr, false);
    if (doc.is_object()) pages.push_back(doc);
  }
  ASSERT_EQ(pages.size(), 1u) << slurp(incidents);
  EXPECT_EQ(pages[0].value("severity", ""), "critical") << pages[0].dump();
  EXPECT_NE(pages[0].dump().find("postconditions"), std::string::npos) << pages[0].dump();

  auto st = ws.run({"state"});
  EXPECT_EQ(st.exit_code, 0) << st.all();
  EXPECT_TRUE(st.has("Phase:         rollback_incomplete")) << st.all();
  EXPECT_TRUE(st.has("INCOMPLETE")) << st.all();

  // Nothing goes on from here but the rollback.
  auto m = ws.run({"monitor", "--duration", "2s", "--interval", "1s"});
  EXPECT_EQ(m.exit_code, 2) << m.all();
  EXPECT_TRUE(m.has("rollback_incomplete")) << m.all();
  EXPECT_TRUE(m.has("qsc rollback")) << m.all();
  auto a = ws.run({"activate", "--model", "xgb", "--cutover", kRecentCutoverIso});
  EXPECT_EQ(a.exit_code, 2) << a.all();
  EXPECT_TRUE(a.has("rollback_incomplete")) << a.all();
  auto p = ws.run({"promote", "--weight", "0.25"});
  EXPECT_EQ(p.exit_code, 1) << p.all();
  EXPECT_TRUE(p.has("rollback_incomplete")) << p.all();

  // With the systemd action back, the retry finishes the job and verifies it.
  ws.config["plugins"]["actions"] = {"rollback", "systemd", "notify"};
  auto again = ws.run({"rollback"});
  EXPECT_EQ(again.exit_code, 0) << again.all();
  EXPECT_TRUE(again.has("✅ Rollback completed successfully")) << again.all();
  expect_rolled_back();
  EXPECT_EQ(ws.audit("rollback_executed").size(), 1u);
}

// Session 11: the rollback checked its postconditions where today's configuration puts the
// canary's files, not where the activation put them. After plugins.config.systemd.dropin_dir
// was edited while the canary was live, qsc rollback removed nothing from the old unit
// directory, found nothing in the new one and said "✅ Rollback completed successfully", exit 0,
// with the drop-in still installed (the engine runs the canary again at its next restart). The
// activation records its places in the state; the rollback checks them too.
TEST_F(RollbackVerified, ADropinLeftWhereTheActivationPutItIsIncompleteAfterAConfigEdit) {
  const auto activation_dropin = ws.installed_dropin();
  ws.config["plugins"]["config"]["systemd"]["dropin_dir"] = (ws.side() / "moved.d").string();
  auto r = ws.run({"rollback"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(r.has("❌ ROLLBACK INCOMPLETE")) << r.all();
  EXPECT_FALSE(r.has("Rollback completed")) << r.all();
  EXPECT_TRUE(
      r.has("where the activation put the canary (the configuration has moved it since): "
            "installed drop-in " +
            activation_dropin.string() + " is still there"))
      << r.all();
  EXPECT_TRUE(r.has("run as root: rm -f " + activation_dropin.string() +
                    " && systemctl daemon-reload && systemctl restart " + kUnit))
      << r.all();
  EXPECT_TRUE(fs::exists(activation_dropin));
  EXPECT_EQ((*ws.state())["phase"], "rollback_incomplete");
  ASSERT_EQ(ws.audit("rollback_failed").size(), 1u);
  EXPECT_TRUE(ws.audit("rollback_executed").empty());
  // Finished by hand as the message says, the retry verifies it.
  fs::remove(activation_dropin);
  auto again = ws.run({"rollback"});
  EXPECT_EQ(again.exit_code, 0) << again.all();
  EXPECT_TRUE(again.has("✅ Rollback completed successfully")) << again.all();
  EXPECT_EQ(slurp(live_), kVerifiedLive);
  EXPECT_EQ((*ws.state())["phase"], "rolled_back");
}

// Item 2: the unit directory is not writable for the user running the rollback. The systemd
// action is no longer dropped in silence: it fails, the check finds the installed drop-in, and
// the message says which commands, as which user, finish the job. Under root a directory's
// permissions do not stop root, so qsc is run as the unprivileged user nobody (setpriv), which
// owns the working directory but not the unit directory, as on a real host.
TEST_F(RollbackVerified, AnUnwritableUnitDirectoryIsIncompleteWithTheCommandsToFinish) {
  const auto unit_dir = ws.installed_dropin().parent_path();
  const std::string user = drop_unit_directory_permission(ws);
  const auto calls = ws.systemctl_calls().size();
  auto r = ws.run({"rollback"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(r.has("❌ ROLLBACK INCOMPLETE")) << r.all();
  EXPECT_FALSE(r.has("Rollback completed")) << r.all();
  EXPECT_TRUE(r.has("this rollback ran as user " + user)) << r.all();
  EXPECT_TRUE(r.has("run as root: rm -f " + ws.installed_dropin().string() +
                    " && systemctl daemon-reload && systemctl restart " + kUnit))
      << r.all();
  // The systemd action was run (and failed), not skipped: its outcome is in the log.
  const auto failed = ws.audit("rollback_failed");
  ASSERT_EQ(failed.size(), 1u);
  bool systemd_ran = false;
  for (const auto& a : failed[0]["actions"]) {
    if (a["action"] == "systemd") systemd_ran = a["result"] == "failed";
  }
  EXPECT_TRUE(systemd_ran) << failed[0].dump();
  EXPECT_TRUE(fs::exists(ws.installed_dropin()));
  EXPECT_EQ(ws.systemctl_calls().size(), calls) << "no restart while the drop-in is installed";
  EXPECT_EQ((*ws.state())["phase"], "rollback_incomplete");

  // Run by a user who may write the unit directory, the retry completes and verifies.
  ws.command_prefix.clear();
  ::chmod(unit_dir.c_str(), 0755);
  auto again = ws.run({"rollback"});
  EXPECT_EQ(again.exit_code, 0) << again.all();
  expect_rolled_back();
}

// Item 3: without the rollback plugin the built-in path rolls back, says why, and verifies.
TEST_F(RollbackVerified, WithoutTheRollbackPluginTheBuiltInPathRollsBack) {
  use_plugin_copy({"rollback"});
  auto r = ws.run({"rollback", "--reason", "plugin gone"});
  expect_builtin_rollback(r, "rollback (no rollback.so in the plugin directory)");
}

// Item 3: a plugin directory group members may write (an install under umask 002) makes the
// host refuse to load anything; the rollback still happens.
TEST_F(RollbackVerified, AGroupWritablePluginDirectoryStillRollsBack) {
  const auto dir = use_plugin_copy({});
  ::chmod(dir.c_str(), 0775);
  auto r = ws.run({"rollback"});
  expect_builtin_rollback(r, "writable");
}

// Item 3: a misspelt plugin section stops the host; not the rollback.
TEST_F(RollbackVerified, AMisspeltPluginSectionStillRollsBack) {
  ws.config["plugins"]["config"]["dead_zon"] = {{"max_hold_pct", 90}};
  auto r = ws.run({"rollback"});
  expect_builtin_rollback(r, "dead_zon");
}

// Item 3: an unreadable state file is not a reason to refuse: the files on disk and the
// baseline backup say what to undo.
TEST_F(RollbackVerified, AnUnreadableStateFileStillRollsBack) {
  spit(ws.path("data/qsc_state.json"), "{ not json");
  auto r = ws.run({"rollback"});
  EXPECT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(r.has("✅ Rollback completed successfully")) << r.all();
  EXPECT_TRUE(r.has("The state file could not be read")) << r.all();
  EXPECT_TRUE(r.has("Canary Model: patchtst")) << r.all();
  expect_rolled_back();
  EXPECT_EQ(ws.read("data/qsc_state.json.unreadable"), "{ not json");
  const auto rb = ws.audit("rollback_executed");
  ASSERT_EQ(rb.size(), 1u);
  EXPECT_EQ(rb[0]["result"], "ok");
  EXPECT_FALSE(rb[0].value("state_unreadable", "").empty());
}

// Item 4: telemetry_stale.so missing, or rejected (group-writable), stops monitor, gate,
// activate and promote (exit 2, named with the reason) and makes plugins list exit 2.
TEST_F(RollbackVerified, AMissingOrRejectedRequiredDetectorStopsEveryCommand) {
  const auto dir = use_plugin_copy({"telemetry_stale"});
  const auto canary = ws.read("data/qsc_canary_weights.json");
  for (const bool rejected : {false, true}) {
    SCOPED_TRACE(rejected ? "rejected" : "missing");
    std::string why = "telemetry_stale (no telemetry_stale.so in the plugin directory)";
    if (rejected) {
      fs::copy_file(built_plugin_dir() / "telemetry_stale.so", dir / "telemetry_stale.so");
      ::chmod((dir / "telemetry_stale.so").c_str(), 0775);
      why = "telemetry_stale (" + (dir / "telemetry_stale.so").string() + " rejected: ";
    }
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"monitor", "--duration", "2s", "--interval", "1s"},
          {"gate", "--after", kRecentCutoverIso},
          {"activate", "--model", "xgb", "--cutover", kRecentCutoverIso},
          {"promote", "--weight", "0.25"},
          {"plugins", "list"}}) {
      auto r = ws.run(args);
      EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.all();
      EXPECT_TRUE(r.has("required plugins not loaded")) << args[0] << ": " << r.all();
      EXPECT_TRUE(r.has(why)) << args[0] << ": " << r.all();
    }
  }
  EXPECT_EQ(ws.read("data/qsc_canary_weights.json"), canary);
  EXPECT_EQ((*ws.state())["phase"], "canary_active");
  EXPECT_EQ(ws.audit("canary_activated").size(), 1u);
}

// Item 4: a required plugin lost on a reload (SIGHUP) is a violation: rolled back at once.
TEST_F(RollbackVerified, ARequiredPluginLostOnReloadRollsBack) {
  const auto dir = use_plugin_copy({});
  auto child = ws.spawn({"monitor", "--duration", "120s", "--interval", "1s"});
  ASSERT_TRUE(wait_for_text(child.out, "QSC MONITOR")) << slurp(child.out) << slurp(child.err);
  fs::remove(dir / "telemetry_stale.so");
  ASSERT_EQ(::kill(child.pid, SIGHUP), 0);
  auto r = ws.wait(child, 90s);
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(r.has("🚨 VIOLATION DETECTED - EXECUTING ROLLBACK")) << r.all();
  EXPECT_TRUE(r.has("❌ Required plugin lost on reload: telemetry_stale")) << r.all();
  EXPECT_TRUE(r.has("✅ Rollback completed successfully")) << r.all();
  expect_rolled_back();
  const auto rb = ws.audit("rollback_executed");
  ASSERT_EQ(rb.size(), 1u);
  EXPECT_EQ(rb[0]["trigger"], "qsc_monitor_violation");
}

// Item 1 in the monitor: the automatic rollback leaves the installed drop-in (no systemd
// action): ❌ ROLLBACK INCOMPLETE and exit 2, never the success line.
TEST_F(RollbackVerified, TheMonitorsIncompleteRollbackIsNotReportedAsDone) {
  ws.config["plugins"]["actions"] = {"rollback", "notify"};
  // The share checks' literal rule: 300 events are fewer than the default attribution needs to
  // blame a canary collapsed from its first event (tests/attribution).
  ws.config["plugins"]["config"]["action_collapse"] = {{"attribution", "model"}};
  ws.config["plugins"]["config"]["quality_gate"] = {{"attribution", "model"}};
  // A collapsed canary, stamped after the activation so the monitor's window holds it.
  ws.publish(1000, 300, wall_ms(), 1, Flaw::kCollapse);
  auto m = ws.run({"monitor", "--duration", "30s", "--interval", "1s"});
  EXPECT_EQ(m.exit_code, 2) << m.all();
  EXPECT_TRUE(m.has("🚨 VIOLATION DETECTED - EXECUTING ROLLBACK")) << m.all();
  EXPECT_TRUE(m.has("❌ ROLLBACK INCOMPLETE")) << m.all();
  EXPECT_FALSE(m.has("Rollback completed successfully")) << m.all();
  EXPECT_TRUE(m.has("installed drop-in " + ws.installed_dropin().string())) << m.all();
  EXPECT_EQ((*ws.state())["phase"], "rollback_incomplete");
  EXPECT_EQ(ws.audit("rollback_failed").size(), 1u);
  EXPECT_TRUE(ws.audit("rollback_executed").empty());
}

class RollbackWithoutUnitPermission : public LifecycleTest {};

// Item 2's other side: an activation that could not install the drop-in (it printed the manual
// install) has nothing installed to undo, so its rollback completes, verified, without a
// systemctl call the user may not make.
TEST_F(RollbackWithoutUnitPermission, AManualInstallActivationRollsBackWithoutTheUnit) {
  const auto live = ws.use_live_weights(kVerifiedLive);
  ws.publish(0, 250, kRecentCutoverMs, 1000, Flaw::kHealthy);
  drop_unit_directory_permission(ws);
  auto a = ws.run({"activate", "--model", "patchtst", "--cutover", kRecentCutoverIso});
  ASSERT_EQ(a.exit_code, 0) << a.all();
  EXPECT_TRUE(a.has("Systemd override not installed")) << a.all();
  EXPECT_FALSE(fs::exists(ws.installed_dropin()));
  spit(live, ws.read("data/qsc_canary_weights.json"));
  auto r = ws.run({"rollback"});
  EXPECT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(r.has("✅ Rollback completed successfully")) << r.all();
  EXPECT_EQ(slurp(live), kVerifiedLive);
  EXPECT_FALSE(ws.exists("data/qsc_canary_weights.json"));
  EXPECT_FALSE(ws.exists("data/systemd_overrides/qsc_canary.conf"));
  EXPECT_EQ((*ws.state())["phase"], "rolled_back");
  EXPECT_TRUE(ws.systemctl_calls().empty());
}

}  // namespace
}  // namespace qsc::test
