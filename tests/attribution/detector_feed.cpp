// One detector .so of the attribution tests, fed as the monitor feeds it.
#include "detector_feed.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <stdexcept>
#include <vector>

namespace qsc::attribution_test {

OneDetector::OneDetector(const std::string& name, const nlohmann::json& section)
    : name_(name), host_([&]() {
        test::install_plugin(test::detector_library(name), dir_.path(), name + ".so");
        auto opened = agent::PluginHost::open(dir_.path(), test::host_config({{name, section}}));
        if (!opened) throw std::runtime_error(opened.error().message);
        return std::move(opened).value();
      }()) {}

CheckResult OneDetector::check(const WindowStats& window, std::string_view canary,
                               std::span<const TradeIntent> new_events) {
  CheckInput in;
  in.canary_model = canary;
  in.window = &window;
  in.canary = window.find(canary);
  in.telemetry.source_ok = true;
  in.min_events = 200;
  in.new_events = new_events;
  for (auto& c : host_.check_all(in)) {
    if (c.detector == name_) return c.result;
  }
  ADD_FAILURE() << name_ << " did not run: " << test::record_named(host_, name_).reason;
  return {};
}

void expect_effective_attribution(const std::string& detector, const std::string& literal) {
  OneDetector by_default(detector, nlohmann::json::object());
  EXPECT_EQ(by_default.record().effective_config.value("attribution", ""), "canary") << detector;
  OneDetector literal_rule(detector, {{"attribution", literal}});
  EXPECT_EQ(literal_rule.record().effective_config.value("attribution", ""), literal) << detector;
}

void expect_bad_attribution_refused(const std::string& detector, const std::string& literal,
                                    const std::string& bad) {
  test::TempDir dir;
  test::install_plugin(test::detector_library(detector), dir.path(), detector + ".so");
  auto host =
      agent::PluginHost::open(dir.path(), test::host_config({{detector, {{"attribution", bad}}}}));
  ASSERT_TRUE(host.ok()) << host.error().message;
  EXPECT_EQ(test::record_named(host.value(), detector).reason,
            "configuration refused: plugins.config." + detector +
                ".attribution: must be \"canary\" or \"" + literal + "\", got \"" + bad + "\"");
  EXPECT_FALSE(host.value().startup_status().ok());

  auto not_text =
      agent::PluginHost::open(dir.path(), test::host_config({{detector, {{"attribution", 1}}}}));
  ASSERT_TRUE(not_text.ok()) << not_text.error().message;
  EXPECT_EQ(test::record_named(not_text.value(), detector).reason,
            "configuration refused: plugins.config." + detector +
                ".attribution: must be a string, got number");
}

PeriodOutcome run_period(OneDetector& d, Ensemble& ensemble, std::uint64_t events,
                         bool scoreboard) {
  PeriodOutcome out;
  std::deque<TradeIntent> window;
  std::vector<TradeIntent> fresh;
  for (std::uint64_t i = 1; i <= events; ++i) {
    fresh.push_back(ensemble.next());
    window.push_back(fresh.back());
    if (window.size() > kWindowEvents) window.pop_front();
    if (i % kCheckEvery != 0) continue;
    const std::vector<TradeIntent> in_window(window.begin(), window.end());
    auto stats = compute_window_stats(in_window);
    const auto r = d.check(stats, kCanary, fresh);
    fresh.clear();
    if (scoreboard) {
      const auto board = d.check(stats, "", {});
      EXPECT_EQ(board.message.find("attributed"), std::string::npos) << board.message;
    }
    EXPECT_NE(r.verdict, Verdict::kError) << r.message;
    ++out.checks;
    if (r.message.find("not attributed to") != std::string::npos) ++out.unattributed;
    if (r.verdict == Verdict::kViolation && out.violations++ == 0) {
      out.first_violation = r;
      out.first_violation_event = i;
    }
    out.last = r;
    out.last_window = std::move(stats);
  }
  return out;
}

}  // namespace qsc::attribution_test
