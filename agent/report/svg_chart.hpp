// A small SVG chart module for the HTML reports: linear scales, "nice" ticks, axes, and three
// charts (stacked bars, box plots, a figure against its threshold over time). Output is
// deterministic: the same input gives the same bytes (numbers through report/number_format).
//
// Every data mark carries class "mark" (and a kind: "mark seg", "mark box", "mark point",
// "mark threshold", "mark rollback"), so a test counts what a chart draws in the rendered DOM.
// Every string from data is HTML-escaped here; callers pass plain text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qsc::report {

/// Maps [domain_lo, domain_hi] linearly onto [range_lo, range_hi] (a range may run backwards,
/// as an SVG y axis does). A zero-width domain maps everything to the range's middle.
struct LinearScale {
  double domain_lo = 0.0;
  double domain_hi = 1.0;
  double range_lo = 0.0;
  double range_hi = 1.0;
  double operator()(double value) const noexcept;
};

/// Ticks at multiples of a step of 1, 2 or 5 x 10^k, the step chosen so that about
/// `target_count` ticks fall in [lo, hi]; every returned tick lies in [lo, hi]. Empty for a
/// non-finite or empty interval.
std::vector<double> nice_ticks(double lo, double hi, int target_count);

/// The step nice_ticks uses for [lo, hi] and target_count (0 when it returns nothing).
double nice_step(double lo, double hi, int target_count);

/// Decimals that print ticks `step` apart distinctly (0.05 -> 2, 20 -> 0).
int decimals_for_step(double step);

/// Time ticks in epoch ms at a round step (1 s, 2 s, 5 s, 10 s, 15 s, 30 s, 1, 2, 5, 10, 15,
/// 30 min, 1, 2, 3, 6, 12 h, 1 d) so that about `target_count` fall in [lo_ms, hi_ms].
std::vector<std::int64_t> time_ticks_ms(std::int64_t lo_ms, std::int64_t hi_ms, int target_count);

/// A tick label for a time: "HH:MM:SS" UTC (the report states the date elsewhere).
std::string time_of_day_utc(std::int64_t epoch_ms);

/// One series of a stacked bar chart: its name (legend) and a CSS colour.
struct BarSeries {
  std::string name;
  std::string colour;
};

/// One bar: its label under the axis and one value per series (NaN or negative draws nothing
/// for that series but still emits the segment, at zero height, so the mark count is fixed).
struct StackedBar {
  std::string label;
  std::vector<double> values;
  bool highlighted = false;  ///< drawn with an outline and "(canary)" under its label
};

struct StackedBarChart {
  std::string id;  ///< the <svg> element's id
  std::string title;
  std::string y_label;
  double y_max = 100.0;
  std::vector<BarSeries> series;
  std::vector<StackedBar> bars;
};

/// One rect ("mark seg") per bar and series, bars.size() x series.size() marks.
std::string stacked_bar_svg(const StackedBarChart& chart);

/// One box: the box spans box_lo..box_hi with a line at centre; the whisker spans
/// whisker_lo..whisker_hi. NaN centre: no data, drawn as a labelled gap (still one mark).
struct BoxSummary {
  std::string label;
  double box_lo = 0.0;
  double box_hi = 0.0;
  double centre = 0.0;
  double whisker_lo = 0.0;
  double whisker_hi = 0.0;
  bool highlighted = false;
};

struct BoxPlotChart {
  std::string id;
  std::string title;
  std::string y_label;
  std::string legend;  ///< what box, line and whisker mean, printed under the plot
  double y_lo = 0.0;
  double y_hi = 1.0;
  std::vector<BoxSummary> boxes;
};

/// One group ("mark box") per box.
std::string box_plot_svg(const BoxPlotChart& chart);

/// A measured figure at one time.
struct TimePoint {
  std::int64_t time_ms = 0;
  double value = 0.0;
};

/// A detector's figure over time against its threshold, the rollback marked.
struct ThresholdTimeline {
  std::string id;
  std::string title;
  std::string figure;             ///< the figure's name, for the y axis and the tooltips
  std::vector<TimePoint> points;  ///< any order; drawn by time
  double threshold = 0.0;
  /// Which side of the threshold is a violation: above (HOLD share > 85) or below (std < 0.05).
  bool violation_above = true;
  std::optional<std::int64_t> rollback_ms;
  std::string rollback_label = "rollback";
};

/// One circle ("mark point") per finite point (class "violation" when past the threshold), one
/// "mark threshold" line, and one "mark rollback" line when rollback_ms is set.
std::string threshold_timeline_svg(const ThresholdTimeline& chart);

}  // namespace qsc::report
