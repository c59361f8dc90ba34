// The chart module on its own: scales, ticks, number formatting, and the marks each chart draws.
#include "report/svg_chart.hpp"

#include <gtest/gtest.h>

#include <clocale>
#include <cmath>
#include <string>

#include "report/number_format.hpp"

namespace qsc::report {
namespace {

constexpr double kTolerance = 1e-9;

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

TEST(LinearScale, MapsDomainOntoRangeIncludingReversedRanges) {
  const LinearScale x{0.0, 100.0, 64.0, 616.0};
  EXPECT_NEAR(x(0.0), 64.0, kTolerance);
  EXPECT_NEAR(x(50.0), 340.0, kTolerance);
  EXPECT_NEAR(x(100.0), 616.0, kTolerance);
  const LinearScale y{0.0, 1.0, 260.0, 40.0};  // SVG y grows downwards
  EXPECT_NEAR(y(0.0), 260.0, kTolerance);
  EXPECT_NEAR(y(0.25), 205.0, kTolerance);
  EXPECT_NEAR(y(1.0), 40.0, kTolerance);
}

TEST(LinearScale, ZeroWidthDomainMapsToTheMiddle) {
  const LinearScale s{5.0, 5.0, 0.0, 100.0};
  EXPECT_NEAR(s(5.0), 50.0, kTolerance);
  EXPECT_NEAR(s(7.0), 50.0, kTolerance);
}

TEST(NiceTicks, StepsOfOneTwoOrFiveTimesAPowerOfTen) {
  EXPECT_NEAR(nice_step(0, 100, 5), 20.0, kTolerance);
  EXPECT_NEAR(nice_step(0, 1, 5), 0.2, kTolerance);
  EXPECT_NEAR(nice_step(0, 1, 10), 0.1, kTolerance);
  EXPECT_NEAR(nice_step(0.03, 0.16, 5), 0.02, kTolerance);
  EXPECT_NEAR(nice_step(0, 7000, 5), 1000.0, kTolerance);
  EXPECT_NEAR(nice_step(0, 35, 5), 5.0, kTolerance);
}

TEST(NiceTicks, TicksLieInsideTheIntervalAndIncludeRoundBounds) {
  const auto t = nice_ticks(0, 100, 5);
  ASSERT_EQ(t.size(), 6u);
  for (std::size_t i = 0; i < t.size(); ++i) EXPECT_NEAR(t[i], 20.0 * i, kTolerance);
  // 0.1 steps would drift (0.30000000000000004) if accumulated; the ticks are multiples.
  const auto u = nice_ticks(0, 1, 10);
  ASSERT_EQ(u.size(), 11u);
  EXPECT_EQ(format_fixed(u[3], 1), "0.3");
  EXPECT_NEAR(u.back(), 1.0, kTolerance);
  const auto v = nice_ticks(0.031, 0.159, 5);
  ASSERT_FALSE(v.empty());
  EXPECT_GE(v.front(), 0.031);
  EXPECT_LE(v.back(), 0.159);
  EXPECT_NEAR(v.front(), 0.04, kTolerance);
  const auto neg = nice_ticks(-1, 1, 4);
  ASSERT_EQ(neg.size(), 5u);
  EXPECT_EQ(format_fixed(neg[2], 1), "0.0");  // exactly zero, not -0.0
}

TEST(NiceTicks, EmptyForDegenerateIntervals) {
  EXPECT_TRUE(nice_ticks(1, 1, 5).empty());
  EXPECT_TRUE(nice_ticks(2, 1, 5).empty());
  EXPECT_TRUE(nice_ticks(0, std::nan(""), 5).empty());
  EXPECT_TRUE(nice_ticks(0, 1, 0).empty());
}

TEST(NiceTicks, DecimalsFollowTheStep) {
  EXPECT_EQ(decimals_for_step(20), 0);
  EXPECT_EQ(decimals_for_step(1), 0);
  EXPECT_EQ(decimals_for_step(0.2), 1);
  EXPECT_EQ(decimals_for_step(0.1), 1);
  EXPECT_EQ(decimals_for_step(0.05), 2);
  EXPECT_EQ(decimals_for_step(0.001), 3);
}

TEST(TimeTicks, RoundStepsAlignedToTheClock) {
  // 2026-01-10T05:43:15Z + 0..10 min: 2-minute ticks at whole minutes.
  const std::int64_t lo = 1768023795000;
  const auto t = time_ticks_ms(lo, lo + 600'000, 6);
  ASSERT_FALSE(t.empty());
  EXPECT_EQ(t[1] - t[0], 120'000);
  for (auto v : t) {
    EXPECT_EQ(v % 120'000, 0);
    EXPECT_GE(v, lo);
    EXPECT_LE(v, lo + 600'000);
  }
  EXPECT_EQ(time_of_day_utc(t[0]), "05:44:00");
  EXPECT_EQ(time_of_day_utc(lo), "05:43:15");
  EXPECT_TRUE(time_ticks_ms(lo, lo, 6).empty());
}

TEST(NumberFormat, LocaleFreeFixedAndSvgNumbers) {
  // A comma-decimal locale, if this host has one, must not change a byte.
  const char* previous = std::setlocale(LC_ALL, nullptr);
  const std::string saved = previous ? previous : "C";
  std::setlocale(LC_ALL, "de_DE.UTF-8");
  EXPECT_EQ(format_fixed(0.5, 2), "0.50");
  EXPECT_EQ(format_fixed(-0.0001, 2), "0.00");
  EXPECT_EQ(format_fixed(std::nan(""), 2), "n/a");
  EXPECT_EQ(format_fixed(INFINITY, 2), "n/a");
  EXPECT_EQ(format_fixed(78.25, 1), "78.2");  // round half to even on the binary value
  EXPECT_EQ(svg_number(12.5), "12.5");
  EXPECT_EQ(svg_number(40.0), "40");
  EXPECT_EQ(svg_number(0.254), "0.25");
  EXPECT_EQ(svg_number(-3.001), "-3");
  std::setlocale(LC_ALL, saved.c_str());
}

StackedBarChart three_models() {
  StackedBarChart c;
  c.id = "bars";
  c.title = "Action shares";
  c.y_label = "%";
  c.series = {{"BUY", "#2da44e"}, {"SELL", "#cf222e"}, {"HOLD", "#8c959f"}};
  c.bars = {{"xgb", {30, 30, 40}, false},
            {"lgbm", {0, 0, 100}, false},
            {"<b>patch&tst</b>", {80, 10, 10}, true}};
  return c;
}

TEST(StackedBars, OneSegmentPerBarAndSeriesStackedToTheTotal) {
  const auto svg = stacked_bar_svg(three_models());
  EXPECT_EQ(count(svg, "class=\"mark "), 9u) << svg;
  EXPECT_EQ(count(svg, "class=\"mark seg\""), 9u);
  // lgbm's BUY and SELL are zero: zero-height segments, still present.
  EXPECT_EQ(count(svg, "height=\"0\""), 2u) << svg;
  // A 100% bar spans the whole plot: y from 40 (top) to 260 (bottom), height 220.
  EXPECT_NE(svg.find("y=\"40\" width=\"80\" height=\"220\""), std::string::npos) << svg;
  EXPECT_EQ(count(svg, "(canary)"), 1u);
  EXPECT_NE(svg.find("id=\"bars\""), std::string::npos);
}

TEST(StackedBars, DataStringsAreEscaped) {
  const auto svg = stacked_bar_svg(three_models());
  EXPECT_EQ(svg.find("<b>"), std::string::npos) << svg;
  EXPECT_NE(svg.find("&lt;b&gt;patch&amp;tst&lt;/b&gt;"), std::string::npos) << svg;
}

TEST(StackedBars, SameInputSameBytes) {
  EXPECT_EQ(stacked_bar_svg(three_models()), stacked_bar_svg(three_models()));
}

TEST(BoxPlot, OneGroupPerModelWithMissingDataShownAsSuch) {
  BoxPlotChart c;
  c.id = "boxes";
  c.title = "Confidence";
  c.y_label = "confidence";
  c.y_lo = 0;
  c.y_hi = 1;
  c.boxes = {{"xgb", 0.4, 0.8, 0.6, 0.45, 0.75, false},
             {"patchtst", 0.6, 0.6, 0.6, 0.6, 0.6, true},
             {"dead", std::nan(""), std::nan(""), std::nan(""), std::nan(""), std::nan(""), false}};
  const auto svg = box_plot_svg(c);
  EXPECT_EQ(count(svg, "class=\"mark "), 3u) << svg;
  EXPECT_EQ(count(svg, "class=\"mark box highlight\""), 1u);
  EXPECT_EQ(count(svg, "class=\"mark box empty\""), 1u);
  EXPECT_NE(svg.find(">no data<"), std::string::npos);
  // xgb's box spans 0.4..0.8 of a 220 px plot from y 40: y 84 to 172.
  EXPECT_NE(svg.find("y=\"84\" width=\"70\" height=\"88\""), std::string::npos) << svg;
  // A constant output keeps a visible two-pixel box centred on its value (y 128).
  EXPECT_NE(svg.find("y=\"127\" width=\"70\" height=\"2\""), std::string::npos) << svg;
  EXPECT_EQ(svg.find("nan"), std::string::npos);
}

ThresholdTimeline hold_share_timeline() {
  ThresholdTimeline t;
  t.id = "timeline";
  t.title = "dead_zone: HOLD share";
  t.figure = "hold_pct";
  t.threshold = 85.0;
  t.violation_above = true;
  const std::int64_t start = 1768023795000;
  for (int i = 0; i < 10; ++i) t.points.push_back({start + i * 30'000, 60.0 + 4.0 * i});
  t.points.push_back({start + 10 * 30'000, std::nan("")});  // a check without the figure
  t.rollback_ms = start + 9 * 30'000 + 5'000;
  return t;
}

TEST(ThresholdTimeline, PointsThresholdAndRollbackMarked) {
  const auto svg = threshold_timeline_svg(hold_share_timeline());
  // 10 finite points + threshold + rollback.
  EXPECT_EQ(count(svg, "class=\"mark "), 12u) << svg;
  EXPECT_EQ(count(svg, "class=\"mark point"), 10u);
  // 88, 92 and 96 are past 85.
  EXPECT_EQ(count(svg, "class=\"mark point violation\""), 3u);
  EXPECT_EQ(count(svg, "class=\"mark threshold\""), 1u);
  EXPECT_EQ(count(svg, "class=\"mark rollback\""), 1u);
  EXPECT_NE(svg.find("threshold &gt; 85"), std::string::npos) << svg;
  EXPECT_EQ(svg.find("nan"), std::string::npos);
}

TEST(ThresholdTimeline, BelowThresholdDirectionAndNoRollback) {
  auto t = hold_share_timeline();
  t.rollback_ms.reset();
  t.violation_above = false;
  t.threshold = 70.0;
  const auto svg = threshold_timeline_svg(t);
  EXPECT_EQ(count(svg, "class=\"mark rollback\""), 0u);
  // 60, 64, 68 are below 70.
  EXPECT_EQ(count(svg, "class=\"mark point violation\""), 3u);
  EXPECT_NE(svg.find("threshold &lt; 70"), std::string::npos) << svg;
}

TEST(ThresholdTimeline, ThresholdLineSitsAtItsValue) {
  auto t = hold_share_timeline();
  // Values 60..96 and threshold 85, padded by 10% of 36: domain 56.4..99.6 over y 260..40.
  const auto svg = threshold_timeline_svg(t);
  const double y = 260.0 + (85.0 - 56.4) / (99.6 - 56.4) * (40.0 - 260.0);
  const std::string prefix = "class=\"mark threshold\" x1=\"64\" y1=\"";
  const auto at = svg.find(prefix);
  ASSERT_NE(at, std::string::npos) << svg;
  // std::stod stops at the closing quote (the test process runs in the C locale).
  EXPECT_NEAR(std::stod(svg.substr(at + prefix.size())), y, 0.01);
}

}  // namespace
}  // namespace qsc::report
