// The gate judges with the loaded detector plugins (issue 15 section 1): a threshold changed in
// one detector's own section changes the gate and the monitor alike, and an out-of-tree detector
// dropped into the plugin directory can fail the gate with its own message. The built `qsc`,
// a real redis-server, the real plugin files through the real loader.
#include <sys/stat.h>

#include <algorithm>
#include <regex>

#include "lifecycle/lifecycle_harness.hpp"

namespace qsc::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

fs::path detector_plugin_dir() {
  return fs::path(QSC_BINARY).parent_path().parent_path() / "lib" / "qsc" / "plugins";
}

// The report named on the `Report:` line, relative to the working directory.
std::string detectors_report_path(const QscRun& r) {
  std::smatch m;
  static const std::regex re(R"(Report: (reports/safety/quality_gate_\d{8}_\d{6}_\w+\.md))");
  return std::regex_search(r.out, m, re) ? m[1].str() : "";
}

class GateDetectors : public LifecycleTest {
 protected:
  // A copy of the built plugin directory (mode 0755, files 0755) plus `extra` files, configured
  // as plugins.dir: a plugin "dropped into the directory".
  void use_plugin_copy(const std::vector<fs::path>& extra) {
    const auto dir = ws.side() / "plugins";
    fs::create_directories(dir);
    ::chmod(dir.c_str(), 0755);
    std::vector<fs::path> files = extra;
    for (const auto& e : fs::directory_iterator(detector_plugin_dir())) {
      if (e.path().extension() == ".so") files.push_back(e.path());
    }
    for (const auto& f : files) {
      fs::copy_file(f, dir / f.filename(), fs::copy_options::overwrite_existing);
      ::chmod((dir / f.filename()).c_str(), 0755);
    }
    ws.config["plugins"]["dir"] = dir.string();
  }
  json report_json(const QscRun& r) {
    const auto md = detectors_report_path(r);
    EXPECT_FALSE(md.empty()) << r.all();
    if (md.empty()) return json::object();
    const auto j = json::parse(ws.read(md.substr(0, md.size() - 3) + ".json"), nullptr, false);
    EXPECT_FALSE(j.is_discarded());
    return j;
  }
  static const json* model(const json& report, const std::string& name) {
    for (const auto& m : report["models"]) {
      if (m["model"] == name) return &m;
    }
    return nullptr;
  }
};

// The harness's healthy models vote HOLD in about 41.7% of events (docs: lifecycle_harness.cpp),
// under action_collapse's default 70% and over 40%. Before the fix the gate read quality_gate's
// section only and PASSed at 40 while the monitor rolled back.
TEST_F(GateDetectors, AThresholdInOneDetectorsSectionChangesTheGateAndTheMonitorAlike) {
  const std::string kLive =
      "{\"xgb\": 0.25, \"lgbm\": 0.25, \"nhits\": 0.30, \"patchtst\": 0.20}\n";
  const auto live = ws.use_live_weights(kLive);
  ws.publish(0, 250, kRecentCutoverMs, 1000, Flaw::kHealthy);
  auto g = ws.run({"gate", "--after", kRecentCutoverIso});
  ASSERT_EQ(g.exit_code, 0) << "healthy at the default 70%: " << g.all();
  auto a = ws.run({"activate", "--model", "patchtst", "--cutover", kRecentCutoverIso});
  ASSERT_EQ(a.exit_code, 0) << a.all();
  spit(live, ws.read("data/qsc_canary_weights.json"));  // the engine adopted the canary

  // The literal rule ("model"): under the default attribution the monitor spares a healthy
  // canary whose share every peer matches, which the gate (no canary) cannot tell.
  ws.config["plugins"]["config"]["action_collapse"] = {{"max_share_pct", 40},
                                                       {"attribution", "model"}};
  // The gate: every model fails action_collapse with the detector's own message.
  auto gate = ws.run({"gate", "--after", kRecentCutoverIso});
  EXPECT_EQ(gate.exit_code, 2) << gate.all();
  EXPECT_TRUE(gate.has("❌ QUALITY GATE: FAIL (BLOCKER)")) << gate.all();
  for (const auto& m : kModels) {
    EXPECT_TRUE(std::regex_search(
        gate.out, std::regex("❌ " + m + R"(: Action collapse: HOLD=4[12]\.\d% \(>40%\))")))
        << m << "\n"
        << gate.all();
  }
  const auto j = report_json(gate);
  EXPECT_EQ(j["verdict"], "FAIL");
  EXPECT_EQ(j["detectors"]["action_collapse"]["config"]["max_share_pct"], 40) << j["detectors"];
  EXPECT_EQ(j["detectors"]["action_collapse"]["scope"], "each_model");
  const auto* patchtst = model(j, "patchtst");
  ASSERT_NE(patchtst, nullptr);
  EXPECT_EQ((*patchtst)["checks"]["action_collapse"]["verdict"], "violation") << *patchtst;
  // quality_gate keeps its own section's 70%: it passes, as it does in the monitor.
  EXPECT_EQ((*patchtst)["checks"]["quality_gate"]["verdict"], "pass") << *patchtst;

  // The monitor, on the same kind of events, fires the same detector at the same threshold.
  std::optional<Engine> engine;
  engine.emplace(ws.redis().port(), Flaw::kHealthy);
  auto m = ws.run({"monitor", "--duration", "30s", "--interval", "1s"}, {}, 90s);
  engine.reset();
  EXPECT_EQ(m.exit_code, 1) << m.all();
  EXPECT_TRUE(m.has("🚨 VIOLATION DETECTED - EXECUTING ROLLBACK")) << m.all();
  EXPECT_TRUE(
      std::regex_search(m.out, std::regex(R"(❌ Action collapse: HOLD=4[12]\.\d% \(>40%\))")))
      << m.all();
  const auto rb = ws.audit("rollback_executed");
  ASSERT_EQ(rb.size(), 1u);
  EXPECT_EQ(rb[0]["trigger"], "qsc_monitor_violation");
}

// A third party's detector (tests/lifecycle/test_plugins/sell_floor.cpp), dropped into the
// directory, joins the gate: its threshold fails every model with its own message. Before the
// fix the gate never ran it and PASSed.
TEST_F(GateDetectors, AnOutOfTreeDetectorDroppedInCanFailTheGateWithItsOwnMessage) {
  use_plugin_copy({QSC_SELL_FLOOR_PLUGIN});
  ws.publish(0, 300, kRecentCutoverMs + 1000, 1000, Flaw::kHealthy);

  // At its default 10% the healthy models (SELL 25%) pass it, and the report shows it ran.
  auto pass = ws.run({"gate", "--after", kRecentCutoverIso});
  ASSERT_EQ(pass.exit_code, 0) << pass.all();
  auto j = report_json(pass);
  EXPECT_EQ(j["detectors"]["sell_floor"]["scope"], "each_model") << j["detectors"];
  for (const auto& name : kModels) {
    const auto* m = model(j, name);
    ASSERT_NE(m, nullptr) << name;
    EXPECT_EQ((*m)["checks"]["sell_floor"]["verdict"], "pass") << *m;
    EXPECT_EQ((*m)["checks"]["sell_floor"]["message"], "Sell floor: SELL=25.0% (<10%)") << *m;
  }

  ws.config["plugins"]["config"]["sell_floor"] = {{"min_sell_pct", 30}};
  auto fail = ws.run({"gate", "--after", kRecentCutoverIso});
  EXPECT_EQ(fail.exit_code, 2) << fail.all();
  EXPECT_TRUE(fail.has("❌ QUALITY GATE: FAIL (BLOCKER)")) << fail.all();
  for (const auto& name : kModels) {
    EXPECT_TRUE(fail.has("❌ " + name + ": Sell floor: SELL=25.0% (<30%)")) << fail.all();
  }
  const auto md = ws.read(detectors_report_path(fail));
  EXPECT_NE(md.find("- ❌ patchtst: Sell floor: SELL=25.0% (<30%)"), std::string::npos) << md;
  EXPECT_NE(md.find("| sell_floor | each_model | `{\"min_sell_pct\":30.0}` |"), std::string::npos)
      << md;
  j = report_json(fail);
  EXPECT_EQ(j["verdict"], "FAIL");
  const auto* xgb = model(j, "xgb");
  ASSERT_NE(xgb, nullptr);
  EXPECT_EQ((*xgb)["verdict"], "FAIL");
  EXPECT_EQ((*xgb)["checks"]["sell_floor"]["verdict"], "violation");
  const auto logged = ws.audit("gate_evaluated");
  ASSERT_EQ(logged.size(), 2u);
  EXPECT_EQ(logged[1]["result"], "FAIL");
  EXPECT_NE(logged[1]["blockers"].dump().find("Sell floor: SELL=25.0% (<30%)"), std::string::npos)
      << logged[1].dump();
}

// The required-plugins rule still holds: the gate does not judge without a required detector.
TEST_F(GateDetectors, ARequiredDetectorMissingStopsTheGate) {
  const auto dir = ws.side() / "plugins";
  fs::create_directories(dir);
  ::chmod(dir.c_str(), 0755);
  for (const auto& e : fs::directory_iterator(detector_plugin_dir())) {
    if (e.path().extension() != ".so" || e.path().stem() == "action_collapse") continue;
    fs::copy_file(e.path(), dir / e.path().filename());
    ::chmod((dir / e.path().filename()).c_str(), 0755);
  }
  ws.config["plugins"]["dir"] = dir.string();
  ws.publish(0, 300, kRecentCutoverMs + 1000, 1000, Flaw::kHealthy);
  auto r = ws.run({"gate", "--after", kRecentCutoverIso});
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_TRUE(r.has("required plugins not loaded")) << r.all();
  EXPECT_TRUE(r.has("action_collapse (no action_collapse.so in the plugin directory)")) << r.all();
  EXPECT_FALSE(r.has("QUALITY GATE: PASS")) << r.all();
}

}  // namespace
}  // namespace qsc::test
