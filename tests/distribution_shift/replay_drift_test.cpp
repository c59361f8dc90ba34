// distribution_shift in the default plugin directory (every built plugin), judged by the built
// `qsc replay` on recordings:
// a confidence drift that every runbook detector passes rolls back through it alone, and a
// healthy recording stays clean with it loaded.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>

#include "demo/synthetic_engine.hpp"
#include "monitor/e2e_harness.hpp"
#include "telemetry/jsonl.hpp"

namespace qsc::shift_test {
namespace {

namespace fs = std::filesystem;
using agent::CanaryBehaviour;
using monitor_test::Child;
using monitor_test::read_text;

class ReplayWithShift : public monitor_test::MonitorE2E {
 protected:
  void SetUp() override {
    MonitorE2E::SetUp();
    // The plugin directory: every built plugin, distribution_shift among them.
    write_config({{"plugins", {{"dir", plugin_dir_with({}).string()}}}});
  }

  fs::path recording() const { return dir_ / "rec.jsonl"; }
  fs::path json_out() const { return dir_ / "replay.json"; }

  // `count` synthetic events 100 ms apart from `first_ms`, the canary's confidence raised by
  // `confidence_shift` (kept within [0, 1]). Returns the time after the last one.
  std::int64_t append(agent::SyntheticEngine& engine, std::size_t count, std::int64_t first_ms,
                      double confidence_shift) {
    std::ofstream out(recording(), std::ios::app | std::ios::binary);
    std::int64_t t = first_ms;
    for (std::size_t i = 0; i < count; ++i, t += 100) {
      auto event = engine.next(static_cast<std::uint64_t>(t), CanaryBehaviour::kHealthy);
      for (auto& p : event.predictions) {
        if (p.model != "patchtst") continue;
        p.confidence = std::min(p.confidence + confidence_shift, 1.0);
        p.raw_confidence = p.confidence;
      }
      const std::string id = std::to_string(event.time_ms) + "-" + std::to_string(event.seq);
      out << agent::format_jsonl_entry(qsc::StreamEntry{id, agent::fields_for_event(event)})
          << "\n";
    }
    return t;
  }

  // A recording in the past: from one hour ago, on a whole second.
  static std::int64_t past_start_ms() {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    return (now / 1000) * 1000 - 3'600'000;
  }

  Child replay() {
    return run_qsc({"replay", "--file", recording().string(), "--model", "patchtst", "--duration",
                    "10m", "--interval", "1m", "--json", json_out().string()});
  }
};

// Five healthy minutes, then the canary's confidences 0.15 higher than its peers' (the issue's
// confidence drift, spread unchanged): distribution_shift alone rolls back, after the drift
// began.
TEST_F(ReplayWithShift, ConfidenceDriftRollsBackThroughDistributionShift) {
  agent::SyntheticEngine engine("patchtst", 31);
  const auto start = past_start_ms();
  const auto drift_ms = append(engine, 3'000, start, 0.0);
  append(engine, 3'100, drift_ms, 0.15);
  auto c = replay();
  ASSERT_EQ(c.exit_code, 1) << c.stdout_text() << c.stderr_text();
  const auto r = nlohmann::json::parse(read_text(json_out()));
  const auto& detectors = r["detectors"];
  EXPECT_NE(std::find(detectors.begin(), detectors.end(), "distribution_shift"), detectors.end())
      << detectors;
  const auto& rollback = r["rollback"];
  EXPECT_EQ(rollback["detectors"], nlohmann::json::array({"distribution_shift"})) << rollback;
  EXPECT_GE(rollback["event_index"].get<int>(), 3'000) << rollback;
  EXPECT_GE(rollback["trigger_event_ms"].get<std::int64_t>(), drift_ms) << rollback;
  EXPECT_NE(
      rollback["violations"][0].get<std::string>().find("Distribution shift: confidence mean +"),
      std::string::npos)
      << rollback;
  // Every event up to the trigger reached the detector once (CheckInput::new_events).
  EXPECT_EQ(r["rollback_figures"]["distribution_shift"]["paired_events"]["value"].get<int>(),
            rollback["event_index"].get<int>() + 1)
      << r["rollback_figures"];
  std::cout << "replay: rolled back at event " << rollback["event_index"] << " ("
            << (rollback["trigger_event_ms"].get<std::int64_t>() - drift_ms) / 1000.0
            << " s after the drift began): " << rollback["violations"][0] << "\n";
}

// The same healthy process all along: clean, with distribution_shift judging every check.
TEST_F(ReplayWithShift, HealthyRecordingCompletesCleanWithItLoaded) {
  agent::SyntheticEngine engine("patchtst", 37);
  append(engine, 6'100, past_start_ms(), 0.0);
  auto c = replay();
  ASSERT_EQ(c.exit_code, 0) << c.stdout_text() << c.stderr_text();
  const auto r = nlohmann::json::parse(read_text(json_out()));
  EXPECT_EQ(r["outcome"], "clean");
  const auto& detectors = r["detectors"];
  EXPECT_NE(std::find(detectors.begin(), detectors.end(), "distribution_shift"), detectors.end())
      << detectors;
  // At the last check it had been shown each accepted event of the period exactly once.
  const auto& last = r["checks"].back();
  EXPECT_EQ(last["figures"]["distribution_shift"]["paired_events"]["value"],
            r["counts"]["accepted"])
      << last;
  EXPECT_EQ(last["figures"]["distribution_shift"]["fired_at_paired_event"]["value"], -1) << last;
}

}  // namespace
}  // namespace qsc::shift_test
