// The HTML pieces and the two report writers without a browser: escaping of every data string,
// verdicts in words, no outside resource, and the marks each chart draws per model.
#include <gtest/gtest.h>

#include <string>

#include "lifecycle/report_html.hpp"
#include "report/html_page.hpp"

namespace qsc::agent {
namespace {

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

constexpr const char* kHostileModel = "<img src=x onerror=alert(1)>&\"'";

ModelStats model(const std::string& name, double buy, double sell, double hold) {
  ModelStats m;
  m.model = name;
  m.predictions = 300;
  m.share_pct = {buy, sell, hold};
  m.confidence_samples = 300;
  m.conf_mean = 0.6;
  m.conf_std = 0.1;
  m.p10 = 0.45;
  m.p90 = 0.75;
  m.range = 0.3;
  return m;
}

WindowStats window() {
  WindowStats w;
  w.events = 300;
  w.models = {model("lgbm", 30, 30, 40), model(kHostileModel, 80, 10, 10),
              model("xgb", 35, 35, 30)};
  w.ensemble = {300, 70.0, 5.0};
  return w;
}

// No outside resource: no script, no fetchable attribute, no URL but the SVG namespace.
void expect_self_contained(const std::string& html) {
  EXPECT_EQ(html.find("<script"), std::string::npos);
  // No element that fetches (escaped data such as "&lt;img src=x" is text, not an element).
  for (const char* tag : {"<img", "<link", "<iframe", "<object", "<embed", "<video", "<audio",
                          "<source", "<image", "<use", "<font"}) {
    EXPECT_EQ(html.find(tag), std::string::npos) << tag;
  }
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  std::string without_ns = html;
  for (auto pos = without_ns.find("http://www.w3.org/2000/svg"); pos != std::string::npos;
       pos = without_ns.find("http://www.w3.org/2000/svg")) {
    without_ns.erase(pos, 26);
  }
  EXPECT_EQ(without_ns.find("http:"), std::string::npos);
  EXPECT_EQ(without_ns.find("https:"), std::string::npos);
}

TEST(HtmlPage, EscapesEveryMarkupCharacter) {
  EXPECT_EQ(report::html_escape(kHostileModel),
            "&lt;img src=x onerror=alert(1)&gt;&amp;&quot;&#39;");
  EXPECT_EQ(report::html_escape("plain"), "plain");
}

TEST(HtmlPage, VerdictCarriesWordAndColourClass) {
  const auto pass = report::verdict_html("PASS", report::Tone::kPass);
  EXPECT_NE(pass.find("class=\"verdict pass\""), std::string::npos);
  EXPECT_NE(pass.find("PASS"), std::string::npos);
  const auto fail = report::verdict_html("NO-GO", report::Tone::kFail);
  EXPECT_NE(fail.find("class=\"verdict fail\""), std::string::npos);
  EXPECT_NE(fail.find("NO-GO"), std::string::npos);
}

TEST(HtmlPage, DocumentForbidsEveryFetch) {
  const auto html = report::html_document("t <x>", "<p>b</p>");
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("default-src 'none'"), std::string::npos);
  EXPECT_NE(html.find("<title>t &lt;x&gt;</title>"), std::string::npos);
  expect_self_contained(html);
}

TEST(GateReportHtml, TablesVerdictsAndChartsWithEscapedModelNames) {
  GateReport r;
  r.evaluated_ms = 1768023795000;
  r.request.cutover_ms = 1768023000000;
  r.source = "redis <local>";
  r.events_analysed = 300;
  r.post = window();
  r.canary_model = kHostileModel;
  GateThresholds t;
  for (const auto& m : r.post.models) r.models.push_back(gate_model(m, t));
  r.blockers = {std::string(kHostileModel) + ": Action collapse: BUY=80.0% (>70%)"};
  r.pass = false;
  const auto html = gate_report_html(r);
  expect_self_contained(html);
  EXPECT_EQ(html.find(kHostileModel), std::string::npos) << "an unescaped model name";
  EXPECT_NE(html.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_NE(html.find("redis &lt;local&gt;"), std::string::npos);
  EXPECT_NE(html.find("FAIL (BLOCKER)"), std::string::npos);
  EXPECT_NE(html.find("class=\"verdict fail\""), std::string::npos);
  EXPECT_NE(html.find("class=\"verdict pass\""), std::string::npos);  // lgbm and xgb pass
  // Three models: 3 x 3 segments, 3 boxes, the canary outlined and named.
  EXPECT_EQ(count(html, "class=\"mark seg\""), 9u);
  EXPECT_EQ(count(html, "class=\"mark box"), 3u);
  EXPECT_EQ(count(html, "class=\"mark box highlight\""), 1u);
  EXPECT_NE(html.find("id=\"chart-action-shares\""), std::string::npos);
  EXPECT_NE(html.find("id=\"chart-confidence\""), std::string::npos);
  EXPECT_NE(html.find("No events before the cutover were found."), std::string::npos);
}

TEST(ScoreboardHtml, StatusesInWordsAndColour) {
  Scoreboard b;
  b.generated_ms = 1768023795000;
  b.source = "jsonl";
  b.window = window();
  b.canary_model = "xgb";
  b.rows = {{"lgbm", "GO", {}},
            {kHostileModel, "NO-GO", {"Action collapse"}},
            {"xgb", "WAIT", {"only 12 predictions (< 200)"}}};
  b.overall = "NO-GO";
  const auto html = scoreboard_html(b);
  expect_self_contained(html);
  EXPECT_EQ(html.find(kHostileModel), std::string::npos);
  EXPECT_EQ(count(html, "class=\"verdict pass\""), 1u);
  EXPECT_EQ(count(html, "class=\"verdict wait\""), 1u);
  EXPECT_EQ(count(html, "class=\"verdict fail\""), 2u);  // the row and the overall
  EXPECT_NE(html.find("xgb (canary)"), std::string::npos);
  EXPECT_NE(html.find("only 12 predictions (&lt; 200)"), std::string::npos);
  EXPECT_EQ(count(html, "class=\"mark seg\""), 9u);
  EXPECT_EQ(count(html, "class=\"mark box"), 3u);
}

}  // namespace
}  // namespace qsc::agent
