// `qsc replay --metrics-textfile` and `--html` as a user runs them: the built qsc and detector
// plugins over a recording the synthetic engine writes. The textfile is checked by promtool and
// against the replay's own JSON; the HTML report is checked as a file (written, escaped) and
// rendered by headless Chromium (no page error, one mark per kept figure, not blank).
//
// QSC_REPORT_SCREENSHOT_DIR=<dir> copies the screenshot there (docs/img/ holds the README's).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>

#include "monitor/e2e_harness.hpp"
#include "qsc/process.hpp"
#include "replay/recording.hpp"
#include "report/browser.hpp"

namespace qsc::replay_test {
namespace {

using agent::CanaryBehaviour;
using monitor_test::Child;
using monitor_test::read_text;
namespace fs = std::filesystem;

constexpr long kPromtoolTimeoutMs = 60'000;
constexpr int kPageWidth = 1000;
constexpr int kPageHeight = 2400;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The value of the one sample `series` (name and labels exactly as exposed), or NaN if absent.
double sample(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return std::nan("");
  return std::strtod(text.c_str() + at + series.size() + 2, nullptr);
}

class ReplayOutput : public monitor_test::MonitorE2E {
 protected:
  // A name with markup in it: the report must show it as text.
  fs::path recording() const { return dir_ / "rec<b>&'x'.jsonl"; }
  fs::path json_out() const { return dir_ / "replay.json"; }
  fs::path prom_out() const { return dir_ / "qsc_replay.prom"; }
  fs::path html_out() const { return dir_ / "replay.html"; }

  // 400 healthy events then a HOLD collapse, 100 ms apart, from an hour ago: rolled back at an
  // event after several interval checks.
  Child replay_collapse(std::vector<std::string> extra) {
    // The share checks' literal rule: the collapse's 300 events in a 400-event window cross 70%
    // before their excess over the peers is evidence enough under the default attribution
    // (tests/attribution covers that); these tests are about the replay's output.
    write_config({{"plugins",
                   {{"config",
                     {{"action_collapse", {{"attribution", "model"}}},
                      {"quality_gate", {{"attribution", "model"}}}}}}}});
    RecordingWriter writer(recording(), 17);
    const auto start = (wall_ms() / 1000) * 1000 - 3'600'000;
    const auto healthy = writer.append(CanaryBehaviour::kHealthy, 400, start, 100);
    writer.append(CanaryBehaviour::kHoldCollapse, 400, healthy.back().time_ms + 100, 100);
    std::vector<std::string> args{"replay",  "--file",           recording().string(),
                                  "--model", "patchtst",         "--duration",
                                  "70s",     "--interval",       "10s",
                                  "--json",  json_out().string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_qsc(args);
  }

  nlohmann::json report() const { return nlohmann::json::parse(read_text(json_out())); }
};

TEST_F(ReplayOutput, MetricsTextfilePassesPromtoolAndCarriesTheReplaysFigures) {
  auto c = replay_collapse({"--metrics-textfile", prom_out().string()});
  ASSERT_EQ(c.exit_code, 1) << c.stdout_text() << c.stderr_text();
  const auto text = "\n" + read_text(prom_out());
  ASSERT_FALSE(text.empty());
  const auto promtool =
      qsc::run_program({"promtool", "check", "metrics"}, text.substr(1), kPromtoolTimeoutMs);
  EXPECT_TRUE(promtool.succeeded()) << qsc::describe(promtool) << "\n" << text;

  const auto r = report();
  // The monitor stops at its rollback: the events it had accepted by then, its checks, and the
  // rolled-back detector(s) in violation.
  const auto rollback = r["rollback"];
  ASSERT_TRUE(rollback.is_object());
  EXPECT_DOUBLE_EQ(sample(text, "qsc_events_total{source=\"file\"}"),
                   rollback["event_index"].get<double>() + 1.0)
      << text;
  for (const auto& d : rollback["detectors"]) {
    EXPECT_EQ(sample(text, "qsc_detector_violation{detector=\"" + d.get<std::string>() + "\"}"),
              1.0)
        << text;
  }
  std::size_t checks_before = 0;
  for (const auto& check : r["checks"]) checks_before += check["after_rollback"] ? 0 : 1;
  EXPECT_EQ(sample(text, "qsc_checks_total"), static_cast<double>(checks_before)) << text;
  EXPECT_EQ(sample(text, "qsc_checks_planned"), 7.0) << text;
  EXPECT_EQ(sample(text, "qsc_rollbacks_total{trigger=\"qsc_monitor_violation\"}"), 1.0) << text;
  EXPECT_EQ(sample(text, "qsc_detection_latency_seconds_count"), 1.0) << text;
  EXPECT_EQ(sample(text, "qsc_plugin_loaded{kind=\"detector\",plugin=\"dead_zone\"}"), 1.0) << text;
}

TEST_F(ReplayOutput, MetricsTextfileNotEndingInPromIsRefusedBeforeTheReplay) {
  auto c = replay_collapse({"--metrics-textfile", (dir_ / "qsc_replay.txt").string()});
  EXPECT_EQ(c.exit_code, 2) << c.stdout_text() << c.stderr_text();
  EXPECT_NE(c.stderr_text().find("--metrics-textfile"), std::string::npos) << c.stderr_text();
  EXPECT_NE(c.stderr_text().find(".prom"), std::string::npos) << c.stderr_text();
  EXPECT_FALSE(fs::exists(json_out())) << "the replay ran although its output was refused";
}

TEST_F(ReplayOutput, JsonCarriesEachChecksDetectorFiguresAndThresholds) {
  auto c = replay_collapse({});
  ASSERT_EQ(c.exit_code, 1) << c.stdout_text() << c.stderr_text();
  const auto r = report();
  ASSERT_FALSE(r["checks"].empty());
  // Every detector reports at every check (a detector short of data reports its count).
  for (const auto& check : r["checks"]) {
    EXPECT_EQ(check["figures"].size(), r["detectors"].size()) << check.dump(2);
  }
  // The rollback's evaluation: the collapse's figure past its configured bound.
  const auto& collapse = r["rollback_figures"]["action_collapse"]["max_share_pct"];
  ASSERT_TRUE(collapse.is_object()) << r["rollback_figures"].dump(2);
  EXPECT_GT(collapse["value"].get<double>(), collapse["max"].get<double>());
  EXPECT_EQ(r["rollback_figures"]["dead_zone"]["hold_pct"]["max"], 85.0);
}

TEST_F(ReplayOutput, HtmlReportIsWrittenWithDataEscaped) {
  auto c = replay_collapse({"--html", html_out().string()});
  ASSERT_EQ(c.exit_code, 1) << c.stdout_text() << c.stderr_text();
  const auto html = read_text(html_out());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  EXPECT_NE(html.find("rec&lt;b&gt;&amp;&#39;x&#39;.jsonl"), std::string::npos) << html;
  EXPECT_EQ(html.find("rec<b>"), std::string::npos) << "the file name went out unescaped";
  EXPECT_NE(html.find("ROLLED BACK"), std::string::npos);
  EXPECT_NE(html.find("First violation of each detector"), std::string::npos);
  // The detector the monitor rolled back on is charted first.
  const auto collapse_chart = html.find("id=\"timeline-action_collapse-max_share_pct-max\"");
  ASSERT_NE(collapse_chart, std::string::npos);
  EXPECT_LT(collapse_chart, html.find("id=\"timeline-telemetry_stale-"));
  // Replaced atomically: no temporary file is left beside it.
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_EQ(e.path().filename().string().find("replay.html."), std::string::npos) << e.path();
  }
}

TEST_F(ReplayOutput, HtmlReportRendersInChromiumWithOneMarkPerKeptFigure) {
  if (qsc::test::find_chromium().empty()) {
    GTEST_FAIL() << "chromium is not installed: run bash .ci/install-deps";
  }
  auto c = replay_collapse({"--html", html_out().string()});
  ASSERT_EQ(c.exit_code, 1) << c.stdout_text() << c.stderr_text();
  const auto r = report();

  const auto page = qsc::test::render_page(html_out(), dir_ / "browser", kPageWidth, kPageHeight);
  ASSERT_TRUE(page.ok) << page.failure;
  EXPECT_NE(page.dom.find("<title>QSC replay</title>"), std::string::npos) << page.dom;
  EXPECT_NE(page.dom.find("</body></html>"), std::string::npos) << "DOM dump cut short";
  const auto errors = qsc::test::page_errors(page.browser_log);
  EXPECT_TRUE(errors.empty()) << "the page reported: " << errors.front();

  // Each thresholded figure's chart: one point per kept evaluation (the checks before the
  // rollback and the rollback's own) with a finite value, one threshold line, one rollback line.
  std::map<std::string, std::size_t> points;  // chart id -> expected points
  const auto add = [&](const nlohmann::json& figures) {
    for (const auto& [detector, by_figure] : figures.items()) {
      for (const auto& [figure, f] : by_figure.items()) {
        for (const std::string bound : {"min", "max"}) {
          if (!f.contains(bound)) continue;
          auto& n = points["timeline-" + detector + "-" + figure + "-" + bound];
          if (f["value"].is_number()) ++n;
        }
      }
    }
  };
  for (const auto& check : r["checks"]) {
    if (!check["after_rollback"]) add(check["figures"]);
  }
  add(r["rollback_figures"]);
  ASSERT_GE(points.size(), 5u) << "too few thresholded figures to be the built-in detectors";
  ASSERT_TRUE(points.count("timeline-action_collapse-max_share_pct-max"));
  for (const auto& [id, expected] : points) {
    const auto svg = qsc::test::svg_by_id(page.dom, id);
    ASSERT_FALSE(svg.empty()) << "no chart " << id;
    EXPECT_EQ(qsc::test::count_of(svg, "class=\"mark point"), expected) << id << "\n" << svg;
    EXPECT_EQ(qsc::test::count_of(svg, "class=\"mark threshold\""), 1u) << id;
    EXPECT_EQ(qsc::test::count_of(svg, "class=\"mark rollback\""), 1u) << id;
  }
  // The collapse: the HOLD share ends above action_collapse's bound at the rollback.
  EXPECT_GE(qsc::test::count_of(
                qsc::test::svg_by_id(page.dom, "timeline-action_collapse-max_share_pct-max"),
                "class=\"mark point violation\""),
            1u);
  // The checks' statuses in words next to their colour.
  EXPECT_NE(page.dom.find("class=\"verdict"), std::string::npos);

  const auto png = qsc::test::summarize_png(page.png);
  ASSERT_TRUE(png.ok) << png.failure;
  EXPECT_EQ(png.width, kPageWidth);
  EXPECT_GT(png.colours, 32) << "a blank or one-colour screenshot";
  EXPECT_GT(png.non_background_share, 0.02) << "a blank screenshot";
  if (const char* dir = std::getenv("QSC_REPORT_SCREENSHOT_DIR"); dir != nullptr && *dir != '\0') {
    fs::create_directories(dir);
    fs::copy_file(page.png, fs::path(dir) / "replay_report.png",
                  fs::copy_options::overwrite_existing);
  }
}

}  // namespace
}  // namespace qsc::replay_test
