// A monitor that reads events it did not see arrive (the history at a resume) judges them as a
// monitor that read each one as it arrived would have, not only at the end of each read.
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "e2e_harness.hpp"

namespace qsc::monitor_test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

using CatchUp = MonitorE2E;

// Session 15 (lead): a resumed monitor read the history in the ring's reads of up to 4,096
// records and evaluated at the end of each, so a fault that came and slid out of the window
// inside one read was never judged. Here, under a 400-event window, the canary collapses to
// HOLD for 500 ms (500 events at 1,000 events/s: the window's HOLD share is above the rule's
// 70% at about 440 of its positions, a read is 4,096) while no monitor runs, is healthy again
// for 3 s, and a monitor resumes within stale_after with no check missed. A live monitor rolls
// this collapse back; main's qsc ended the period "✅ MONITORING COMPLETED - NO VIOLATIONS ...
// Canary is safe to promote", exit 0 (3 runs of 3), unless one of its reads happened to end
// among those positions. The history is now judged wherever a detector must be called.
TEST_F(CatchUp, AHoldCollapseWhileNoMonitorRanIsRolledBackAsALiveMonitorWould) {
  // The literal share rules, as the Violation tests' collapse case: under the default
  // attribution a sudden collapse is blamed a few hundred events later, by then out of view.
  write_config({{"canary", {{"duration", "30s"}, {"interval", "10s"}}},
                {"telemetry", {{"stale_after", "20s"}, {"window_events", 400}}},
                {"plugins",
                 {{"config",
                   {{"action_collapse", {{"attribution", "model"}}},
                    {"quality_gate", {{"attribution", "model"}}}}}}}});
  const auto collapse = switch_file("collapse");
  const auto stop = switch_file("stop");
  auto& publisher =
      start_publisher({"--rate", "1000", "--phase", "healthy:@" + collapse.string(), "--phase",
                       "hold_collapse:500ms", "--phase", "healthy:@" + stop.string()});
  ASSERT_NO_FATAL_FAILURE(activate());
  auto& first = start_monitor_until("30s", "10s", "[Check 1/3]");
  ASSERT_FALSE(HasFailure());
  first.send(SIGKILL);
  first.wait(seconds(5));
  ASSERT_EQ(state().value("checks_done", -1), 1) << state().dump();

  touch(collapse);
  ASSERT_TRUE(publisher.wait_for_output("PHASE 2 healthy", seconds(30))) << publisher.stdout_text();
  // 3 s of healthy events (scenario time): the collapse has long left the 400-event window.
  std::this_thread::sleep_for(milliseconds(3000));
  auto& second = start_qsc({"monitor"});
  ASSERT_TRUE(second.wait(seconds(60))) << second.stdout_text();
  touch(stop);
  publisher.wait(seconds(5));

  const auto out = second.stdout_text();
  const auto entries = [all = audit()](const std::string& action) {
    std::vector<nlohmann::json> found;
    for (const auto& e : all) {
      if (e.value("action", "") == action) found.push_back(e);
    }
    return found;
  };
  ASSERT_NE(out.find("Resuming monitoring of patchtst"), std::string::npos) << out;
  const auto resumed = entries("monitoring_resumed");
  ASSERT_EQ(resumed.size(), 1u) << out;
  EXPECT_EQ(resumed[0].value("checks_missed", -1), 0) << resumed[0].dump();
  EXPECT_LT(resumed[0].value("gap_ms", std::int64_t{0}), 20000) << resumed[0].dump();
  EXPECT_EQ(out.find("NO VIOLATIONS"), std::string::npos) << out;
  EXPECT_EQ(out.find("safe to promote"), std::string::npos) << out;
  EXPECT_TRUE(entries("monitoring_completed").empty()) << out;
  expect_rolled_back(second, "Action collapse: HOLD=", 3);
}

}  // namespace
}  // namespace qsc::monitor_test
