// The HTML reports in a real browser: the built `qsc gate`, `qsc activate` and `qsc scoreboard`
// write them against a real redis-server (tests/lifecycle's harness), headless Chromium renders
// each to a DOM dump and a PNG, and the test checks that the page loaded without an error, that
// each chart drew one mark per model (and action), and that the screenshot is not blank.
//
// QSC_REPORT_SCREENSHOT_DIR=<dir> copies each screenshot there (docs/img/ holds the ones the
// README shows).
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>

#include "lifecycle/lifecycle_harness.hpp"
#include "lifecycle/report_html.hpp"
#include "report/browser.hpp"
#include "report/html_page.hpp"
#include "report/svg_chart.hpp"

namespace qsc::test {
namespace {

constexpr int kPageWidth = 1000;
// A report's first screen and more: the facts, the blockers or statuses and both charts.
constexpr int kReportHeight = 2000;
// The timeline page holds one chart.
constexpr int kTimelineHeight = 420;

void keep_screenshot(const fs::path& png, const std::string& name) {
  const char* dir = std::getenv("QSC_REPORT_SCREENSHOT_DIR");
  if (dir == nullptr || *dir == '\0') return;
  fs::create_directories(dir);
  fs::copy_file(png, fs::path(dir) / name, fs::copy_options::overwrite_existing);
}

// Renders the page and checks what every report must satisfy; returns the DOM dump.
std::string render_and_check(const fs::path& html, const fs::path& work, const std::string& title,
                             const std::string& screenshot_name, int page_height = kReportHeight) {
  if (find_chromium().empty()) {
    ADD_FAILURE() << "chromium is not installed: run bash .ci/install-deps";
    return "";
  }
  const auto page = render_page(html, work, kPageWidth, page_height);
  EXPECT_TRUE(page.ok) << page.failure;
  if (!page.ok) return "";
  // Loaded, whole and without a console message (a blocked fetch would be one).
  EXPECT_NE(page.dom.find("<title>" + title + "</title>"), std::string::npos) << page.dom;
  EXPECT_NE(page.dom.find("</body></html>"), std::string::npos) << "DOM dump cut short";
  const auto errors = page_errors(page.browser_log);
  EXPECT_TRUE(errors.empty()) << "the page reported: " << errors.front();
  const auto png = summarize_png(page.png);
  EXPECT_TRUE(png.ok) << png.failure;
  EXPECT_EQ(png.width, kPageWidth);
  EXPECT_EQ(png.height, page_height);
  // Text, tables and coloured charts: many colours, and well over 2% of the page not white.
  EXPECT_GT(png.colours, 32) << "a blank or one-colour screenshot";
  EXPECT_GT(png.non_background_share, 0.02) << "a blank screenshot";
  keep_screenshot(page.png, screenshot_name);
  return page.dom;
}

std::string html_twin(const std::string& md_relative) {
  return md_relative.substr(0, md_relative.size() - 3) + ".html";
}

class BrowserReport : public LifecycleTest {};

TEST_F(BrowserReport, GateReportRendersWithOneMarkPerModelAndAction) {
  // 300 events after the cutover; patchtst collapses to BUY, so the report shows a FAIL.
  ws.publish(0, 300, kRecentCutoverMs + 1000, 1000, Flaw::kCollapse);
  auto r = ws.run({"gate", "--after", kRecentCutoverIso});
  ASSERT_EQ(r.exit_code, 2) << r.all();
  std::smatch m;
  const std::regex re(R"(Report: (reports/safety/quality_gate_\d{8}_\d{6}_post_cutover\.md))");
  ASSERT_TRUE(std::regex_search(r.out, m, re)) << r.all();
  const auto html = html_twin(m[1].str());
  ASSERT_TRUE(ws.exists(html)) << html;

  const auto dom =
      render_and_check(ws.path(html), ws.side() / "browser-gate",
                       "Quality gate report (post-cutover)", "quality_gate_report.png");
  ASSERT_FALSE(dom.empty());
  const auto shares = svg_by_id(dom, agent::kActionSharesChartId);
  const auto confidence = svg_by_id(dom, agent::kConfidenceChartId);
  // Four models: 4 x 3 action segments, 4 confidence boxes.
  EXPECT_EQ(count_of(shares, "class=\"mark "), 12u) << shares;
  EXPECT_EQ(count_of(confidence, "class=\"mark "), 4u) << confidence;
  // The verdict in words next to its colour; the blocker names the model.
  EXPECT_NE(dom.find("class=\"verdict fail\">✖ FAIL (BLOCKER)"), std::string::npos);
  EXPECT_NE(dom.find("patchtst: Action collapse"), std::string::npos);
  for (const auto& model : kModels) EXPECT_NE(shares.find(">" + model + "<"), std::string::npos);
}

TEST_F(BrowserReport, ScoreboardRendersWithTheCanaryAgainstItsPeers) {
  // A healthy gate activates patchtst; after activation patchtst collapses to BUY.
  ws.publish(0, 342, kRecentCutoverMs + 500, 1000, Flaw::kHealthy);
  auto a = ws.run({"activate", "--model", "patchtst", "--cutover", kRecentCutoverIso});
  ASSERT_EQ(a.exit_code, 0) << a.all();
  const auto since = ws.state().value()["weight_since_ms"].get<std::int64_t>();
  ws.publish(342, 300, since + 1000, 10, Flaw::kCollapse);
  auto sb = ws.run({"scoreboard"});
  ASSERT_EQ(sb.exit_code, 0) << sb.all();
  ASSERT_TRUE(ws.exists("reports/safety/scoreboard_latest.html"));

  const auto dom =
      render_and_check(ws.path("reports/safety/scoreboard_latest.html"),
                       ws.side() / "browser-scoreboard", "QSC scoreboard", "scoreboard_latest.png");
  ASSERT_FALSE(dom.empty());
  const auto shares = svg_by_id(dom, agent::kActionSharesChartId);
  const auto confidence = svg_by_id(dom, agent::kConfidenceChartId);
  EXPECT_EQ(count_of(shares, "class=\"mark "), 12u) << shares;
  EXPECT_EQ(count_of(confidence, "class=\"mark "), 4u) << confidence;
  // The canary stands out in both charts and is named in words.
  EXPECT_EQ(count_of(confidence, "class=\"mark box highlight\""), 1u) << confidence;
  EXPECT_NE(confidence.find("canary patchtst against its peers"), std::string::npos);
  EXPECT_NE(dom.find("patchtst (canary)"), std::string::npos);
  EXPECT_NE(dom.find("class=\"verdict fail\">✖ NO-GO"), std::string::npos);
  // The collapse also splits the ensemble (hard disagree): the peers wait, in words.
  EXPECT_NE(dom.find("class=\"verdict wait\">⚠ WAIT"), std::string::npos);
}

// The HTML twin is evidence like the .md: a scoreboard whose .html cannot be replaced (a
// directory stands where the file goes) fails with exit 2 and names the file.
TEST_F(BrowserReport, UnwritableHtmlTwinFailsTheScoreboardNamingTheFile) {
  ws.publish(0, 300, kRecentCutoverMs + 1000, 1000, Flaw::kHealthy);
  fs::create_directories(ws.path("reports/safety/scoreboard_latest.html/occupied"));
  auto sb = ws.run({"scoreboard"});
  EXPECT_EQ(sb.exit_code, 2) << sb.all();
  EXPECT_TRUE(sb.has("scoreboard_latest.html")) << sb.all();
}

// The figure-against-threshold timeline on its own (`qsc replay --html` draws it in a whole
// report: tests/replay/replay_output_test.cpp; the monitor keeps no per-check history).
TEST_F(BrowserReport, ThresholdTimelineRendersPointsThresholdAndRollback) {
  report::ThresholdTimeline t;
  t.id = "timeline-dead-zone";
  t.title = "dead_zone: HOLD share against its threshold";
  t.figure = "HOLD %";
  t.threshold = 85.0;
  t.violation_above = true;
  for (int i = 0; i < 20; ++i) {
    t.points.push_back({kRecentCutoverMs + i * 15'000, i < 15 ? 55.0 + i : 86.0 + 2.0 * (i - 15)});
  }
  t.rollback_ms = kRecentCutoverMs + 19 * 15'000 + 4'000;
  const auto html = ws.side() / "timeline.html";
  spit(html, report::html_document("QSC timeline",
                                   "<figure>" + report::threshold_timeline_svg(t) + "</figure>\n"));
  const auto dom = render_and_check(html, ws.side() / "browser-timeline", "QSC timeline",
                                    "timeline.png", kTimelineHeight);
  ASSERT_FALSE(dom.empty());
  const auto svg = svg_by_id(dom, t.id);
  EXPECT_EQ(count_of(svg, "class=\"mark point"), 20u) << svg;
  EXPECT_EQ(count_of(svg, "class=\"mark threshold\""), 1u);
  EXPECT_EQ(count_of(svg, "class=\"mark rollback\""), 1u);
  // 86..94 > 85 for i = 15..19.
  EXPECT_EQ(count_of(svg, "class=\"mark point violation\""), 5u);
}

}  // namespace
}  // namespace qsc::test
