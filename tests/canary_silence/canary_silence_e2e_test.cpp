// The canary-silence rule end to end, as a user runs qsc: `qsc replay` over a recording whose
// canary goes silent while its peers go on (the synthetic engine's, and the accuracy
// benchmark's `silence` scenario), and the live monitor when the publisher drops the canary.
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>

#include "bench/accuracy/scenario.hpp"
#include "monitor/e2e_harness.hpp"
#include "replay/recording.hpp"
#include "telemetry/jsonl.hpp"

namespace qsc::monitor_test {
namespace {

using agent::CanaryBehaviour;
using replay_test::RecordingWriter;

// 2026-01-10T06:00:00Z: the accuracy benchmark's activation.
constexpr std::uint64_t kBenchStartMs = 1'768'024'800'000;

class CanarySilenceE2E : public MonitorE2E {
 protected:
  fs::path recording() const { return dir_ / "rec.jsonl"; }
  fs::path json_out() const { return dir_ / "replay.json"; }

  Child replay(std::vector<std::string> args) {
    args.insert(args.begin(), "replay");
    args.insert(args.end(), {"--model", "patchtst", "--json", json_out().string()});
    // No upper bound on its speed: a 6-hour recording on a loaded machine takes what it takes.
    return run_qsc(args, milliseconds(600000));
  }
  nlohmann::json report() const { return nlohmann::json::parse(read_text(json_out())); }

  // The first hour of the accuracy benchmark's scenario (its recordings hold 6 h), written as
  // qsc_accuracy_gen writes it, at 2 events/s and one minute more so that a 1-hour period
  // completes; returns its onset's time.
  std::uint64_t write_bench_scenario(accuracy::Degradation kind, std::uint64_t seed) {
    accuracy::ScenarioSpec spec;
    spec.degradation = kind;
    spec.seed = seed;
    spec.start_ms = kBenchStartMs;
    spec.events = 7'200 + 120;
    accuracy::ScenarioGenerator gen(spec);
    std::ofstream out(recording(), std::ios::binary | std::ios::trunc);
    for (std::uint64_t i = 0; i < spec.events; ++i) {
      const auto event = gen.next();
      out << agent::format_jsonl_entry(
                 StreamEntry{std::to_string(event.time_ms) + "-0", agent::fields_for_event(event)})
          << "\n";
    }
    return gen.onset_ms();
  }

  // The first violation of telemetry_stale in the report, or null.
  nlohmann::json first_stale(const nlohmann::json& r) const {
    for (const auto& f : r["first_violations"]) {
      if (f["detector"] == "telemetry_stale") return f;
    }
    return nullptr;
  }
};

// 40 s of a healthy canary, then 100 s of events without it: replay rolls back at the first
// event more than canary_silent_after (5 s) after the canary's last prediction, naming it.
// Before the rule the period ended inconclusive (exit 3): the canary's predictions aged out of
// the window and every check said WAIT.
TEST_F(CanarySilenceE2E, ReplayRollsBackWhenTheCanaryAloneFallsSilent) {
  write_config({{"plugins", {{"config", {{"telemetry_stale", {{"canary_silent_after", "5s"}}}}}}}});
  RecordingWriter writer(recording(), 23);
  const std::int64_t start = (cutover_ms_ / 1000) * 1000 - 3'600'000;
  const auto healthy = writer.append(CanaryBehaviour::kHealthy, 400, start, 100);
  const auto silent =
      writer.append(CanaryBehaviour::kCanarySilent, 1000, healthy.back().time_ms + 100, 100);
  auto c = replay({"--file", recording().string(), "--duration", "120s", "--interval", "10s"});
  ASSERT_EQ(c.exit_code, 1) << c.stdout_text() << c.stderr_text();
  const auto r = report();
  const auto& rollback = r["rollback"];
  EXPECT_EQ(rollback["cause"], "event");
  EXPECT_EQ(rollback["detectors"], nlohmann::json::array({"telemetry_stale"}));
  EXPECT_EQ(rollback["trigger_event"], silent[50].id);
  EXPECT_EQ(rollback["at_ms"], healthy.back().time_ms + 5100);
  EXPECT_EQ(rollback["event_index"], 450);
  EXPECT_EQ(rollback["violations"],
            nlohmann::json::array(
                {"Telemetry stale: no prediction from canary patchtst for 5.1 s (>5 s)"}));
  EXPECT_NE(c.stdout_text().find("WOULD HAVE ROLLED BACK"), std::string::npos) << c.stdout_text();
}

// The accuracy benchmark's `silence` scenario (seed 7: its onset comes 16 minutes in, so the
// first hour holds it) at the default configuration (canary_silent_after =
// telemetry.stale_after = 300 s, 2,000-event window): telemetry_stale first fires 300.5 s after
// the canary's last prediction, which came one event spacing (500 ms) before the onset. Its
// healthy seed 0 never makes telemetry_stale fire (the runbook policy's ensemble checks may roll
// a period back for their own reasons: docs/ACCURACY.md). One hour, not the benchmark's six: a
// sanitizer build replays about 150 times slower.
TEST_F(CanarySilenceE2E, BenchmarkSilenceScenarioFiresAtTheThreshold) {
  write_config({{"telemetry", {{"window_events", 2000}, {"stale_after", "300s"}}}});
  const auto onset_ms = write_bench_scenario(accuracy::Degradation::kSilence, 7);
  ASSERT_LT(onset_ms, kBenchStartMs + 50 * 60'000) << "the onset must leave 5 minutes to watch";
  auto c = replay({"--file", recording().string(), "--activated-at", "2026-01-10T06:00:00Z",
                   "--duration", "1h", "--interval", "30s"});
  ASSERT_EQ(c.exit_code, 1) << c.stdout_text() << c.stderr_text();
  const auto silent = first_stale(report());
  ASSERT_FALSE(silent.is_null()) << c.stdout_text();
  EXPECT_EQ(silent["cause"], "event");
  EXPECT_EQ(silent["at_ms"], onset_ms - 500 + 300'500);
  EXPECT_EQ(silent["violations"],
            nlohmann::json::array(
                {"Telemetry stale: no prediction from canary patchtst for 300.5 s (>300 s)"}));
  std::printf("[ silence ] seed 7: onset %s, rollback %s by %s\n", std::to_string(onset_ms).c_str(),
              report()["rollback"]["at"].dump().c_str(),
              report()["rollback"]["detectors"].dump().c_str());

  write_bench_scenario(accuracy::Degradation::kNone, 0);
  auto healthy = replay({"--file", recording().string(), "--activated-at", "2026-01-10T06:00:00Z",
                         "--duration", "1h", "--interval", "30s"});
  ASSERT_NE(healthy.exit_code, 2) << healthy.stdout_text() << healthy.stderr_text();
  EXPECT_TRUE(first_stale(report()).is_null()) << first_stale(report()).dump();
}

// The live monitor: the publisher goes on at 500 events/s without the canary's prediction. The
// monitor rolls back on the canary's silence (canary_silent_after 15 s; the stream's
// stale_after stays 30 s), not before the canary had been silent that long.
TEST_F(CanarySilenceE2E, LiveMonitorRollsBackWhenOnlyTheCanaryStops) {
  write_config(
      {{"plugins", {{"config", {{"telemetry_stale", {{"canary_silent_after", "15s"}}}}}}}});
  const auto to_silent = switch_file("silent");
  auto& publisher = start_publisher(
      {"--phase", "healthy:@" + to_silent.string(), "--phase", "canary_silent:50s"});
  ASSERT_NO_FATAL_FAILURE(activate());
  auto& monitor = start_qsc({"monitor", "--duration", "60s", "--interval", "1s"});
  ASSERT_TRUE(monitor.wait_for_output("[Check 1/60]", milliseconds(60000)))
      << monitor.stdout_text() << monitor.stderr_text();
  touch(to_silent);
  ASSERT_TRUE(monitor.wait(milliseconds(90000))) << monitor.stdout_text();
  publisher.send(SIGTERM);
  publisher.wait(milliseconds(5000));

  expect_rolled_back(monitor, "Telemetry stale: no prediction from canary patchtst for", 60);
  const auto phases = phase_starts(publisher.stdout_text());
  ASSERT_GE(phases.size(), 2u) << publisher.stdout_text();
  ASSERT_EQ(phases[1].behaviour, "canary_silent");
  const auto entries = audit();
  ASSERT_FALSE(entries.empty());
  const auto& d = entries.back()["figures"]["detection"];
  // Triggered by an event of the silent phase (the peers' events went on), once the canary had
  // been silent for canary_silent_after: its last prediction came just before the phase.
  EXPECT_GE(d.value("trigger_event_ms", std::int64_t{0}), phases[1].first_event_ms) << d.dump();
  EXPECT_GE(d.value("detected_at_us", std::int64_t{0}) / 1000 - phases[1].first_event_ms, 14'900)
      << d.dump();
}

}  // namespace
}  // namespace qsc::monitor_test
