// `qsc gate --after TS` end to end: PASS and each kind of FAIL, the reports and the audit entry,
// the cutover boundary, the timestamp forms, an unreachable Redis.
#include <cstdio>
#include <regex>

#include "lifecycle/lifecycle_harness.hpp"

namespace qsc::test {
namespace {

using nlohmann::json;

constexpr const char* kPass = "✅ QUALITY GATE: PASS";
constexpr const char* kFail = "❌ QUALITY GATE: FAIL (BLOCKER)";

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// The report named on the `Report:` line, relative to the working directory.
std::string report_path(const QscRun& r) {
  std::smatch m;
  static const std::regex re(
      R"(Report: (reports/safety/quality_gate_\d{8}_\d{6}_post_cutover\.md))");
  return std::regex_search(r.out, m, re) ? m[1].str() : "";
}

class Gate : public LifecycleTest {
 protected:
  // 300 events after the cutover (one a second, the first 1 s after it), none before.
  void publish_post(Flaw flaw, int count = 300) {
    ws.publish(0, count, kRecentCutoverMs + 1000, 1000, flaw);
  }
  QscRun gate(const std::string& after = kRecentCutoverIso) {
    return ws.run({"gate", "--after", after});
  }
  // Runs the gate expecting FAIL and returns its output.
  QscRun expect_fail() {
    auto r = gate();
    EXPECT_EQ(r.exit_code, 2) << r.all();
    EXPECT_TRUE(r.has(kFail)) << r.all();
    EXPECT_FALSE(r.has(kPass)) << r.all();
    EXPECT_TRUE(r.has("Violations detected = NO ACTIVATION")) << r.all();
    const auto logged = ws.audit("gate_evaluated");
    EXPECT_EQ(logged.size(), 1u);
    if (!logged.empty()) {
      EXPECT_EQ(logged[0]["result"], "FAIL");
    }
    return r;
  }
  json report_json(const QscRun& r) {
    const auto md = report_path(r);
    EXPECT_FALSE(md.empty()) << r.all();
    const auto j = json::parse(ws.read(md.substr(0, md.size() - 3) + ".json"), nullptr, false);
    EXPECT_FALSE(j.is_discarded());
    return j;
  }
};

TEST_F(Gate, HealthyStreamPassesWithMatchingReportsAndAuditEntry) {
  publish_post(Flaw::kHealthy);
  auto r = gate();
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(r.has(kPass)) << r.all();
  EXPECT_TRUE(r.has("Safe to proceed with canary activation")) << r.all();
  EXPECT_TRUE(r.has("300 post-cutover events analyzed")) << r.all();

  const auto md_path = report_path(r);
  ASSERT_FALSE(md_path.empty()) << r.out;
  const auto md = ws.read(md_path);
  const auto j = report_json(r);
  EXPECT_EQ(j["verdict"], "PASS");
  EXPECT_EQ(j["cutover_ts"], kRecentCutoverIso);
  EXPECT_EQ(j["events_analysed"], 300);
  EXPECT_EQ(j["events_requested"], 2000);
  EXPECT_EQ(j["blockers"], json::array());
  EXPECT_NE(md.find("Verdict: **PASS**"), std::string::npos) << md;
  EXPECT_NE(md.find("Events analysed: 300"), std::string::npos) << md;

  // Every model's figures equal numpy's definitions, in the .json and, rounded, in the .md.
  std::vector<int> events(300);
  for (int i = 0; i < 300; ++i) events[i] = i;
  ASSERT_EQ(j["models"].size(), kModels.size());
  for (std::size_t k = 0; k < kModels.size(); ++k) {
    const auto want = expected_stats(events, k, Flaw::kHealthy);
    const json* m = nullptr;
    for (const auto& x : j["models"]) {
      if (x["model"] == kModels[k]) m = &x;
    }
    ASSERT_NE(m, nullptr) << kModels[k];
    SCOPED_TRACE(kModels[k]);
    EXPECT_EQ((*m)["verdict"], "PASS");
    EXPECT_EQ((*m)["predictions"], 300);
    EXPECT_NEAR((*m)["action_pct"]["BUY"].get<double>(), want.buy, 1e-9);
    EXPECT_NEAR((*m)["action_pct"]["SELL"].get<double>(), want.sell, 1e-9);
    EXPECT_NEAR((*m)["action_pct"]["HOLD"].get<double>(), want.hold, 1e-9);
    const auto& c = (*m)["confidence"];
    EXPECT_NEAR(c["mean"].get<double>(), want.mean, 1e-9);
    EXPECT_NEAR(c["std"].get<double>(), want.std, 1e-9);
    EXPECT_NEAR(c["p10"].get<double>(), want.p10, 1e-9);
    EXPECT_NEAR(c["p90"].get<double>(), want.p90, 1e-9);
    EXPECT_NEAR(c["p10_p90"].get<double>(), want.p90 - want.p10, 1e-9);
    const std::string row = "| " + kModels[k] + " | 300 | " + fixed((*m)["action_pct"]["BUY"], 1) +
                            " | " + fixed((*m)["action_pct"]["SELL"], 1) + " | " +
                            fixed((*m)["action_pct"]["HOLD"], 1) + " | " + fixed(c["mean"], 4) +
                            " | " + fixed(c["std"], 4) + " | " + fixed(c["p10"], 4) + " | " +
                            fixed(c["p90"], 4) + " | " + fixed(c["p10_p90"], 4) + " |";
    EXPECT_NE(md.find(row), std::string::npos) << row << "\n" << md;
  }
  // No events before the cutover: the comparison says so.
  EXPECT_EQ(j["pre_post_comparison"], json::array());
  EXPECT_NE(md.find("No events before the cutover were found."), std::string::npos);

  const auto logged = ws.audit("gate_evaluated");
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_EQ(logged[0]["result"], "PASS");
  EXPECT_EQ(logged[0]["cutover_ts"], kRecentCutoverIso);
  EXPECT_EQ(logged[0]["events_analysed"], 300);
  EXPECT_EQ(logged[0]["report"], md_path);
  EXPECT_TRUE(std::regex_match(logged[0]["timestamp"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)")))
      << logged[0].dump();
}

TEST_F(Gate, TooFewEventsFailsAndTheEventAtTheCutoverMillisecondCounts) {
  // One event a millisecond before the cutover (not counted), 199 after it.
  ws.publish_at(0, kRecentCutoverMs - 1, Flaw::kHealthy);
  ws.publish(1, 199, kRecentCutoverMs + 1, 1000, Flaw::kHealthy);
  auto r = expect_fail();
  EXPECT_TRUE(r.has("199 post-cutover events analyzed")) << r.all();
  EXPECT_TRUE(r.has("too few post-cutover events: 199 < 200")) << r.all();
  EXPECT_EQ(report_json(r)["events_analysed"], 199);

  // The same with one more event at exactly the cutover millisecond (stream IDs only grow, so
  // the stream is written anew): 200, enough.
  ASSERT_EQ(ws.writer().run({"DEL", kStream}), "");
  ws.publish_at(0, kRecentCutoverMs - 1, Flaw::kHealthy);
  ws.publish_at(200, kRecentCutoverMs, Flaw::kHealthy);
  ws.publish(1, 199, kRecentCutoverMs + 1, 1000, Flaw::kHealthy);
  auto ok = gate();
  EXPECT_EQ(ok.exit_code, 0) << ok.all();
  EXPECT_TRUE(ok.has(kPass)) << ok.all();
  EXPECT_TRUE(ok.has("200 post-cutover events analyzed")) << ok.all();
}

TEST_F(Gate, ActionCollapseFails) {
  publish_post(Flaw::kCollapse);
  auto r = expect_fail();
  EXPECT_TRUE(r.has("patchtst: Action collapse: BUY=80.0% (>70%)")) << r.all();
  // The healthy models are not blamed.
  EXPECT_FALSE(r.has("xgb: ")) << r.all();
  const auto j = report_json(r);
  for (const auto& m : j["models"]) {
    EXPECT_EQ(m["verdict"], m["model"] == "patchtst" ? "FAIL" : "PASS") << m.dump();
  }
}

TEST_F(Gate, DeadZoneFails) {
  publish_post(Flaw::kDeadZone);
  auto r = expect_fail();
  EXPECT_TRUE(r.has("patchtst: Dead zone: HOLD=90.0% (>85%)")) << r.all();
}

TEST_F(Gate, FlatPredictionsFail) {
  publish_post(Flaw::kFlat);
  auto r = expect_fail();
  EXPECT_TRUE(r.has("patchtst: Flat predictions: conf_std=0.0343 (<0.05)")) << r.all();
  EXPECT_FALSE(r.has("Narrow range")) << r.all();
  EXPECT_FALSE(r.has("Constant output")) << r.all();
}

TEST_F(Gate, NarrowRangeFails) {
  publish_post(Flaw::kNarrow);
  auto r = expect_fail();
  EXPECT_TRUE(r.has("patchtst: Narrow range: p10_p90=0.0800 (<0.12)")) << r.all();
  EXPECT_FALSE(r.has("Flat predictions")) << r.all();
}

TEST_F(Gate, ConstantOutputFails) {
  publish_post(Flaw::kConstant);
  auto r = expect_fail();
  EXPECT_TRUE(r.has("patchtst: Constant output: std=0.0000 (<0.01)")) << r.all();
}

TEST_F(Gate, PythonNaNConfidenceBlocks) {
  publish_post(Flaw::kNaN);
  auto r = expect_fail();
  // Events 7, 107 and 207 carry the bare NaN token: read as numbers, counted as violations,
  // not rejected as malformed payloads. The quality_gate detector judges confidence violations
  // (in the gate as in the monitor), so its message carries them.
  EXPECT_TRUE(r.has("patchtst: Quality gate: NO-GO (Confidence violations: 3 (nan=3))")) << r.all();
  const auto j = report_json(r);
  EXPECT_EQ(j["telemetry"]["rejected"], 0) << j["telemetry"].dump();
  EXPECT_EQ(j["normalization_audit"]["patchtst"]["nan"], 3);
  EXPECT_EQ(j["events_analysed"], 300);
}

TEST_F(Gate, LogitConfidencesAreNormalisedAndPass) {
  publish_post(Flaw::kLogit);
  auto r = gate();
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(r.has(kPass)) << r.all();
  const auto j = report_json(r);
  EXPECT_EQ(j["normalization_audit"]["patchtst"]["normalized"], 75);
  EXPECT_EQ(j["normalization_audit"]["xgb"]["normalized"], 0);
  std::vector<int> events(300);
  for (int i = 0; i < 300; ++i) events[i] = i;
  const auto want = expected_stats(events, 3, Flaw::kLogit);
  for (const auto& m : j["models"]) {
    if (m["model"] != "patchtst") continue;
    EXPECT_EQ(m["normalized"], 75);
    EXPECT_EQ(m["confidence_violations"], 0);
    EXPECT_NEAR(m["confidence"]["mean"].get<double>(), want.mean, 1e-9);
    EXPECT_NEAR(m["confidence"]["p90"].get<double>(), want.p90, 1e-9);
  }
}

TEST_F(Gate, PrePostComparisonWhenEarlierEventsExist) {
  // Before the cutover patchtst sat in HOLD 90% of the time; after it, healthy.
  ws.publish(0, 100, kRecentCutoverMs - 100'000, 1000, Flaw::kDeadZone);
  publish_post(Flaw::kHealthy);
  auto r = gate();
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const auto j = report_json(r);
  ASSERT_EQ(j["pre_post_comparison"].size(), 4u) << j["pre_post_comparison"].dump();
  for (const auto& c : j["pre_post_comparison"]) {
    if (c["model"] != "patchtst") continue;
    EXPECT_NEAR(c["hold_pct"]["pre"].get<double>(), 90.0, 1e-9);
    EXPECT_EQ(c["predictions"]["pre"], 100);
    EXPECT_EQ(c["predictions"]["post"], 300);
    EXPECT_NEAR(c["hold_pct"]["delta"].get<double>(), c["hold_pct"]["post"].get<double>() - 90.0,
                1e-9);
  }
  const auto md = ws.read(report_path(r));
  EXPECT_NE(md.find("## Pre/post cutover comparison"), std::string::npos);
  EXPECT_NE(md.find("| patchtst | 90.0 | "), std::string::npos) << md;
}

TEST_F(Gate, MalformedOrFutureTimestampIsRejectedWithTheAcceptedForms) {
  publish_post(Flaw::kHealthy);
  const std::string forms = "2026-01-10T05:43:15Z (ISO-8601), \"Fri 2026-01-10 05:43:15 UTC\"";
  for (const std::string ts :
       {"yesterday", "2026-01-10 05:43", "2026-02-30T00:00:00Z", "2099-01-01T00:00:00Z"}) {
    SCOPED_TRACE(ts);
    auto r = gate(ts);
    EXPECT_EQ(r.exit_code, 2) << r.all();
    EXPECT_TRUE(r.has(forms)) << r.all();
    EXPECT_FALSE(r.has(kPass)) << r.all();
  }
  EXPECT_TRUE(gate("2099-01-01T00:00:00Z").has("in the future"));
  EXPECT_TRUE(ws.audit("gate_evaluated").empty());
  // Both other forms are accepted.
  EXPECT_EQ(gate("Fri 2026-01-10 05:43:15 UTC").exit_code, 0);
  EXPECT_EQ(gate("2026-01-10T06:43:15+01:00").exit_code, 0);
}

TEST_F(Gate, AfterAutoReadsTheUnitsActiveEnterTimestamp) {
  ws.publish(1000, 50, kRecentCutoverMs - 60'000, 1000, Flaw::kHealthy);  // before: not counted
  publish_post(Flaw::kHealthy);
  auto r = gate("auto");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(r.has("300 post-cutover events analyzed")) << r.all();
  EXPECT_TRUE(r.has(std::string("cutover ") + kRecentCutoverIso)) << r.all();
  const auto calls = ws.systemctl_calls();
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls[0].rfind(std::string("show ") + kUnit, 0), 0u) << calls[0];
  EXPECT_NE(calls[0].find("ActiveEnterTimestamp"), std::string::npos) << calls[0];
}

// Issue 13 item 10: events two days old are stale, whatever they show. Before the fix the gate
// PASSed on them and `qsc telemetry` said OK.
TEST_F(Gate, TwoDayOldEventsAreStaleForGateTelemetryAndActivate) {
  ws.config["telemetry"]["stale_after"] = "5m";
  const std::int64_t old_cutover_ms = kRecentCutoverMs - 2 * 86'400'000;
  const std::string old_cutover = utc_text(old_cutover_ms);
  ws.publish(0, 300, old_cutover_ms + 1000, 1000, Flaw::kHealthy);
  auto r = gate(old_cutover);
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_TRUE(r.has(kFail)) << r.all();
  // Newest event: 300 s after the old cutover, so two days and 10 minutes (give or take the
  // seconds the test took) before now.
  EXPECT_TRUE(r.has("stale telemetry: the newest post-cutover event (" +
                    utc_text(old_cutover_ms + 300'000) + ") is 2d"))
      << r.all();
  EXPECT_TRUE(r.has("old (> telemetry.stale_after 5m)")) << r.all();
  const auto j = report_json(r);
  EXPECT_EQ(j["verdict"], "FAIL");
  EXPECT_EQ(j["newest_event_ts"], utc_text(old_cutover_ms + 300'000));
  ASSERT_EQ(j["blockers"].size(), 1u) << j["blockers"].dump();
  EXPECT_EQ(j["blockers"][0].get<std::string>().rfind("stale telemetry:", 0), 0u);
  const auto logged = ws.audit("gate_evaluated");
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_EQ(logged[0]["result"], "FAIL");

  auto t = ws.run({"telemetry", "--after", old_cutover});
  EXPECT_EQ(t.exit_code, 2) << t.all();
  EXPECT_TRUE(t.has("❌ TELEMETRY STALE: the newest event (" + utc_text(old_cutover_ms + 300'000) +
                    ") is 2d"))
      << t.all();
  EXPECT_FALSE(t.has("TELEMETRY OK")) << t.all();

  auto a = ws.run({"activate", "--model", "patchtst", "--cutover", old_cutover});
  EXPECT_EQ(a.exit_code, 1) << a.all();
  EXPECT_TRUE(a.has("stale telemetry: the newest post-cutover event")) << a.all();
  EXPECT_FALSE(ws.exists("data/qsc_canary_weights.json"));

  // The same events after the recent cutover, under the harness's stale_after (1h): the gate
  // passes (the age alone failed it).
  ws.config["telemetry"]["stale_after"] = "1h";
  ASSERT_EQ(ws.writer().run({"DEL", kStream}), "");
  publish_post(Flaw::kHealthy);
  auto fresh = gate();
  EXPECT_EQ(fresh.exit_code, 0) << fresh.all();
  EXPECT_EQ(ws.run({"telemetry", "--after", kRecentCutoverIso}).exit_code, 0);
}

// Issue 13 item 12: the reports and every audit entry carry the SHA-256 `qsc config` prints,
// and a threshold change changes it.
TEST_F(Gate, ReportsAndAuditEntriesCarryTheConfigurationDigest) {
  auto digest_of = [this] {
    auto c = ws.run({"config"});
    EXPECT_EQ(c.exit_code, 0) << c.all();
    const auto at = c.out.find("# config_sha256: ");
    EXPECT_NE(at, std::string::npos) << c.all();
    return at == std::string::npos ? std::string() : c.out.substr(at + 17, 64);
  };
  const auto digest = digest_of();
  ASSERT_EQ(digest.size(), 64u);
  EXPECT_EQ(digest.find_first_not_of("0123456789abcdef"), std::string::npos) << digest;
  EXPECT_EQ(digest_of(), digest) << "the same configuration gives the same digest";

  publish_post(Flaw::kHealthy);
  auto r = gate();
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(report_json(r)["config_sha256"], digest);
  EXPECT_NE(ws.read(report_path(r)).find("- Configuration SHA-256: " + digest + "\n"),
            std::string::npos);
  auto sb = ws.run({"scoreboard"});
  ASSERT_EQ(sb.exit_code, 0) << sb.all();
  EXPECT_EQ(json::parse(ws.read("reports/safety/scoreboard_latest.json"))["config_sha256"], digest);
  EXPECT_NE(ws.read("reports/safety/scoreboard_latest.md")
                .find("- Configuration SHA-256: " + digest + "\n"),
            std::string::npos);

  // A threshold change: another digest, in the entries written after it.
  ws.config["plugins"]["config"]["quality_gate"] = {{"max_share_pct", 69.5}};
  const auto changed = digest_of();
  ASSERT_EQ(changed.size(), 64u);
  EXPECT_NE(changed, digest);
  auto again = gate();
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(report_json(again)["config_sha256"], changed);
  auto a = ws.run({"activate", "--model", "patchtst", "--cutover", kRecentCutoverIso});
  ASSERT_EQ(a.exit_code, 0) << a.all();
  const auto entries = ws.audit();
  ASSERT_GE(entries.size(), 3u);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    SCOPED_TRACE(entries[i].dump());
    ASSERT_TRUE(entries[i].contains("config_sha256"));
    EXPECT_EQ(entries[i]["config_sha256"], i == 0 ? digest : changed);
  }
}

// Runs `qsc config` with `patch` merged over `base`: refused (exit 2) naming each of `messages`,
// and no digest printed.
void expect_config_refused(Workspace& ws, const json& base, const json& patch,
                           const std::vector<std::string>& messages) {
  ws.config = base;
  ws.config.merge_patch(patch);
  auto r = ws.run({"config"});
  EXPECT_EQ(r.exit_code, 2) << r.all();
  for (const auto& message : messages) EXPECT_TRUE(r.has(message)) << message << "\n" << r.all();
  EXPECT_FALSE(r.has("# config_sha256:")) << r.all();
}

// Issue 13 item 12, end to end: `qsc config` (which loads the real detector plugins) refuses every
// value at which a check could never fire, naming the key and the allowed range (exit 2).
// Before the fix it printed each of these configurations and exited 0.
TEST_F(Gate, QscConfigRefusesThresholdsThatSwitchAChecksOff) {
  struct Case {
    json patch;
    std::string message;
  };
  const std::vector<Case> cases{
      {{{"plugins", {{"config", {{"action_collapse", {{"max_share_pct", 100}}}}}}}},
       "plugins.config.action_collapse.max_share_pct: must be a number from 0 and below 100 (at "
       "100 the check could never fire), got 100"},
      {{{"plugins", {{"config", {{"quality_gate", {{"max_share_pct", 100}}}}}}}},
       "plugins.config.quality_gate.max_share_pct: must be a number from 0 and below 100"},
      {{{"plugins", {{"config", {{"dead_zone", {{"max_hold_pct", 100}}}}}}}},
       "plugins.config.dead_zone.max_hold_pct: must be a number from 0 and below 100"},
      {{{"plugins", {{"config", {{"flat_predictions", {{"min_conf_std", 0}}}}}}}},
       "plugins.config.flat_predictions.min_conf_std: must be a number above 0 and at most 1 (at "
       "0 the check could never fire), got 0"},
      {{{"plugins", {{"config", {{"narrow_range", {{"min_p10_p90", 0}}}}}}}},
       "plugins.config.narrow_range.min_p10_p90: must be a number above 0 and at most 1"},
      {{{"plugins", {{"config", {{"constant_output", {{"constant_std", 0}}}}}}}},
       "plugins.config.constant_output.constant_std: must be a number above 0 and at most 1"},
      {{{"plugins", {{"config", {{"model_chaos", {{"max_hard_disagree_pct", 100}}}}}}}},
       "plugins.config.model_chaos.max_hard_disagree_pct: must be a number from 0 and below 100"},
      {{{"plugins", {{"config", {{"ensemble_dysfunction", {{"min_agreement_pct", 0}}}}}}}},
       "plugins.config.ensemble_dysfunction.min_agreement_pct: must be a number above 33.33333333"},
      {{{"plugins", {{"config", {{"telemetry_stale", {{"max_lost_events", 1e15}}}}}}}},
       "plugins.config.telemetry_stale.max_lost_events: must be a number from 0 and below 2000 "
       "(at telemetry.window_events lost events a whole window could go missing unnoticed), got "},
      // Since session 10 both rejected shares stop below 50 (most of a window unreadable).
      {{{"plugins", {{"config", {{"telemetry_stale", {{"max_rejected_pct", 100}}}}}}}},
       "plugins.config.telemetry_stale.max_rejected_pct: must be a number from 0 and below 50"},
      {{{"telemetry", {{"max_rejected_pct", 100}}}},
       "telemetry.max_rejected_pct: must be a number from 0 and below 50"},
      {{{"telemetry", {{"min_events", 1}}}},
       "telemetry.min_events: must be a whole number from 200 to 100000000"},
  };
  const json base = ws.config;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.patch.dump());
    expect_config_refused(ws, base, c.patch, {c.message});
  }
  ws.config = base;
  auto ok = ws.run({"config"});
  EXPECT_EQ(ok.exit_code, 0) << ok.all();
}

// Session 18 (audit18): an event's agreement is its largest vote count's share over three
// actions, never below a third, so ensemble_dysfunction's floor at or below 33.3% can never fire;
// `qsc config` accepted any floor above 0 ("no agreement is below 0"), and the accuracy bench's
// widest policy used 1 to switch the lower band off. An ensemble torn three ways by its canary
// (agreement 33-50%) then passed that check whatever it did.
TEST_F(Gate, QscConfigRefusesAnAgreementFloorNoEventCanBeBelow) {
  const json base = ws.config;
  for (const double floor_pct : {1.0, 33.0, 100.0 / 3.0}) {
    SCOPED_TRACE(floor_pct);
    expect_config_refused(
        ws, base,
        {{"plugins", {{"config", {{"ensemble_dysfunction", {{"min_agreement_pct", floor_pct}}}}}}}},
        {"plugins.config.ensemble_dysfunction.min_agreement_pct: must be a number above "
         "33.33333333 and at most 100 (no agreement is below 33.3%"});
  }
  // Just above the floor the check can fire (an event of three voters split three ways): kept.
  ws.config = base;
  ws.config["plugins"]["config"]["ensemble_dysfunction"] = {{"min_agreement_pct", 33.34}};
  auto ok = ws.run({"config"});
  EXPECT_EQ(ok.exit_code, 0) << ok.all();
}

TEST_F(Gate, UnreachableRedisExitsTwoNamingTheAddressAndTheFix) {
  const int port = RedisServer::free_port();
  ws.config["telemetry"]["redis_url"] = "redis://127.0.0.1:" + std::to_string(port) + "/0";
  auto r = gate();
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_TRUE(r.has("127.0.0.1:" + std::to_string(port))) << r.all();
  EXPECT_TRUE(r.has("systemctl start redis")) << r.all();
  EXPECT_FALSE(r.has(kPass)) << r.all();
  EXPECT_FALSE(ws.exists("data/qsc_canary_weights.json"));
}

// Session 9: the file source read a line that repeats an earlier line's stream ID as one more
// event. A recording written twice over (cat rec.jsonl rec.jsonl) gave 150 healthy events 300
// readings: the gate said PASS past telemetry.min_events 200, and activation would have gone
// ahead on 150 predictions. The file source reads each entry once, in stream-ID order (as the
// monitor's tail does): a line not after the newest before it is an unreadable entry.
TEST_F(Gate, AFileWhoseLinesRepeatTheirStreamIdsIsNotCountedTwice) {
  std::string once;
  for (int i = 0; i < 150; ++i) {
    json fields = json::object();
    for (const auto& [k, v] : event_fields(i, Flaw::kHealthy)) fields[k] = v;
    once += json{{"id", sid(kRecentCutoverMs + 1000 + i * 1000)}, {"fields", fields}}.dump() + "\n";
  }
  spit(ws.path("twice.jsonl"), once + once);
  ws.config["telemetry"]["source"] = "file";
  ws.config["telemetry"]["file"] = ws.path("twice.jsonl").string();
  auto r = expect_fail();
  EXPECT_TRUE(r.has("150 post-cutover events analyzed")) << r.all();
  EXPECT_TRUE(r.has("unreadable telemetry: 150 rejected entries")) << r.all();
  const auto j = report_json(r);
  EXPECT_EQ(j["events_analysed"], 150);
  ASSERT_FALSE(j["rejection_examples"].empty()) << j.dump();
  const auto example = j["rejection_examples"][0].dump();
  EXPECT_NE(example.find("line 151: stream ID " + sid(kRecentCutoverMs + 1000) +
                         " is not after line 150's"),
            std::string::npos)
      << example;
  auto dry =
      ws.run({"activate", "--model", "patchtst", "--cutover", kRecentCutoverIso, "--dry-run"});
  EXPECT_EQ(dry.exit_code, 1) << dry.all();
}

// Session 10: values that weaken a check until it says "safe" without having judged anything
// were accepted by qsc config (and every command that loads the configuration): a one-second
// monitoring period (a silence from its start is never stale, so an engine dead all period
// completes clean and enables promote), 99% unreadable telemetry (98% unreadable read as
// healthy), in telemetry_stale's own section too, and a window of 100,000,000 events (never
// filled, it dilutes a late fault with the whole period; filled, the worker runs out of memory).
TEST_F(Gate, QscConfigRefusesValuesThatWeakenACheckWithoutSwitchingItOff) {
  struct Case {
    json patch;
    std::vector<std::string> messages;
  };
  const std::vector<Case> cases{
      {{{"canary", {{"duration", "1s"}, {"interval", "1s"}}}},
       {"canary.duration: must be at least telemetry.stale_after + canary.interval (1h1s): a "
        "shorter period ends before a silence from its start is stale",
        "got \"1s\": lengthen canary.duration or shorten telemetry.stale_after"}},
      {{{"telemetry", {{"stale_after", "5m"}}}, {"canary", {{"duration", "5m"}}}},
       {"canary.duration: must be at least telemetry.stale_after + canary.interval (5m30s)"}},
      // telemetry_stale's own stale_after overrides telemetry.stale_after in the monitor.
      {{{"telemetry", {{"stale_after", "10s"}}},
        {"canary", {{"duration", "11s"}, {"interval", "1s"}}},
        {"plugins", {{"config", {{"telemetry_stale", {{"stale_after", "1h"}}}}}}}},
       {"canary.duration: must be at least plugins.config.telemetry_stale.stale_after + "
        "canary.interval (1h1s)"}},
      {{{"telemetry", {{"max_rejected_pct", 99}}}},
       {"telemetry.max_rejected_pct: must be a number from 0 and below 50 (at 50 or more most of "
        "a window could be unreadable and the verdict would rest on the readable minority; the "
        "default is 1), got 99"}},
      {{{"plugins", {{"config", {{"telemetry_stale", {{"max_rejected_pct", 99}}}}}}}},
       {"plugins.config.telemetry_stale.max_rejected_pct: must be a number from 0 and below 50 "
        "(at 50 or more most of a window could be unreadable"}},
      {{{"telemetry", {{"window_events", 100000000}}}},
       {"telemetry.window_events: must be at most ",
        "(the events plugins.max_rss 512 MiB holds at ",
        "got 100000000: lower it (the default is 2000) or raise plugins.max_rss"}},
  };
  const json base = ws.config;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.patch.dump());
    expect_config_refused(ws, base, c.patch, c.messages);
    // Every command that loads the configuration shares the refusal: no gate, no verdict.
    auto g = ws.run({"gate", "--after", kRecentCutoverIso});
    EXPECT_EQ(g.exit_code, 2) << g.all();
    EXPECT_TRUE(g.has(c.messages.front())) << g.all();
    EXPECT_FALSE(g.has(kPass)) << g.all();
  }
  // Just inside each limit is accepted.
  ws.config = base;
  ws.config.merge_patch({{"telemetry", {{"max_rejected_pct", 49.9}, {"window_events", 100000}}},
                         {"canary", {{"duration", "1h1s"}, {"interval", "1s"}}}});
  auto ok = ws.run({"config"});
  EXPECT_EQ(ok.exit_code, 0) << ok.all();
}

}  // namespace
}  // namespace qsc::test
