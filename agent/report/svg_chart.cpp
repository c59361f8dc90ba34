// SVG charts for the HTML reports.
#include "report/svg_chart.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <iterator>

#include "report/html_page.hpp"
#include "report/number_format.hpp"

namespace qsc::report {
namespace {

// One size for every chart: the reports lay them out one under the other.
constexpr double kWidth = 640;
constexpr double kHeight = 320;
constexpr double kLeft = 64;
constexpr double kRight = 24;
constexpr double kTop = 40;
constexpr double kBottom = 60;
constexpr double kPlotLeft = kLeft;
constexpr double kPlotRight = kWidth - kRight;
constexpr double kPlotTop = kTop;
constexpr double kPlotBottom = kHeight - kBottom;

std::string num(double v) {
  return svg_number(v);
}

std::string svg_open(const std::string& id, const std::string& title) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"" + html_escape(id) +
         "\" role=\"img\" width=\"" + num(kWidth) + "\" height=\"" + num(kHeight) +
         "\" viewBox=\"0 0 " + num(kWidth) + " " + num(kHeight) + "\">\n<title>" +
         html_escape(title) + "</title>\n<text class=\"chart-title\" x=\"" + num(kPlotLeft) +
         "\" y=\"18\">" + html_escape(title) + "</text>\n";
}

std::string line(double x1, double y1, double x2, double y2, const std::string& cls) {
  return "<line class=\"" + cls + "\" x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" +
         num(x2) + "\" y2=\"" + num(y2) + "\"/>";
}

std::string text(double x, double y, const std::string& anchor, const std::string& content,
                 const std::string& extra = "") {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" text-anchor=\"" + anchor + "\"" + extra +
         ">" + html_escape(content) + "</text>";
}

// The y axis with grid lines and tick labels, and its label turned on its side.
std::string y_axis(const LinearScale& y, const std::string& label) {
  std::string svg = "<g class=\"axis y\">\n";
  const double step = nice_step(y.domain_lo, y.domain_hi, 5);
  const int decimals = decimals_for_step(step);
  for (double t : nice_ticks(y.domain_lo, y.domain_hi, 5)) {
    const double py = y(t);
    svg += line(kPlotLeft, py, kPlotRight, py, "grid") + "\n";
    svg += line(kPlotLeft - 4, py, kPlotLeft, py, "tick") + "\n";
    svg += text(kPlotLeft - 7, py + 4, "end", format_fixed(t, decimals)) + "\n";
  }
  svg += line(kPlotLeft, kPlotTop, kPlotLeft, kPlotBottom, "domain") + "\n";
  const double mid = (kPlotTop + kPlotBottom) / 2;
  svg += text(16, mid, "middle", label, " transform=\"rotate(-90 16 " + num(mid) + ")\"") + "\n";
  svg += "</g>\n";
  return svg;
}

std::string x_baseline() {
  return "<g class=\"axis x\">" + line(kPlotLeft, kPlotBottom, kPlotRight, kPlotBottom, "domain") +
         "</g>\n";
}

// Category labels under the plot, one per band; the highlighted one says so in words.
std::string band_label(double centre_x, const std::string& label, bool highlighted) {
  std::string svg = text(centre_x, kPlotBottom + 16, "middle", label) + "\n";
  if (highlighted) svg += text(centre_x, kPlotBottom + 30, "middle", "(canary)") + "\n";
  return svg;
}

bool finite(double v) {
  return std::isfinite(v);
}

}  // namespace

double LinearScale::operator()(double value) const noexcept {
  const double width = domain_hi - domain_lo;
  if (width == 0.0 || !std::isfinite(width)) return (range_lo + range_hi) / 2;
  return range_lo + (value - domain_lo) / width * (range_hi - range_lo);
}

double nice_step(double lo, double hi, int target_count) {
  if (!finite(lo) || !finite(hi) || hi <= lo || target_count < 1) return 0.0;
  const double raw = (hi - lo) / target_count;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double fraction = raw / magnitude;
  // 1, 2, 5: the steps a reader counts in without effort.
  const double nice = fraction < 1.5 ? 1 : fraction < 3.5 ? 2 : fraction < 7.5 ? 5 : 10;
  return nice * magnitude;
}

std::vector<double> nice_ticks(double lo, double hi, int target_count) {
  const double step = nice_step(lo, hi, target_count);
  std::vector<double> ticks;
  if (step <= 0.0) return ticks;
  // Integer multiples of the step, so 0.1 + 0.2 style drift never accumulates; a tolerance of a
  // millionth of a step keeps a bound that is itself a multiple (0, 100) inside.
  const double eps = step * 1e-6;
  const auto first = static_cast<long long>(std::ceil((lo - eps) / step));
  const auto last = static_cast<long long>(std::floor((hi + eps) / step));
  for (long long k = first; k <= last; ++k) {
    double t = static_cast<double>(k) * step;
    if (std::fabs(t) < eps) t = 0.0;
    ticks.push_back(t);
  }
  return ticks;
}

int decimals_for_step(double step) {
  if (!(step > 0.0) || !finite(step)) return 0;
  const double d = -std::floor(std::log10(step) + 1e-9);
  return d > 0 ? static_cast<int>(d) : 0;
}

std::vector<std::int64_t> time_ticks_ms(std::int64_t lo_ms, std::int64_t hi_ms, int target_count) {
  std::vector<std::int64_t> ticks;
  if (hi_ms <= lo_ms || target_count < 1) return ticks;
  static constexpr std::int64_t kSteps[] = {
      1'000,     2'000,     5'000,      10'000,     15'000,     30'000,
      60'000,    120'000,   300'000,    600'000,    900'000,    1'800'000,
      3'600'000, 7'200'000, 10'800'000, 21'600'000, 43'200'000, 86'400'000};
  const std::int64_t wanted = (hi_ms - lo_ms) / target_count;
  std::int64_t step = kSteps[std::size(kSteps) - 1];
  for (auto s : kSteps) {
    if (s >= wanted) {
      step = s;
      break;
    }
  }
  // Past a day, whole days in multiples that keep about target_count ticks.
  if (wanted > step) step = (wanted / step + 1) * step;
  std::int64_t t = lo_ms % step == 0 ? lo_ms : (lo_ms / step + (lo_ms > 0 ? 1 : 0)) * step;
  for (; t <= hi_ms; t += step) ticks.push_back(t);
  return ticks;
}

std::string time_of_day_utc(std::int64_t epoch_ms) {
  const std::time_t seconds = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

std::string stacked_bar_svg(const StackedBarChart& chart) {
  const LinearScale y{0.0, chart.y_max, kPlotBottom, kPlotTop};
  std::string svg = svg_open(chart.id, chart.title);
  svg += y_axis(y, chart.y_label);
  // Legend, top right, right to left: a swatch and the series' name in words.
  double lx = kPlotRight;
  for (auto it = chart.series.rbegin(); it != chart.series.rend(); ++it) {
    const double w = 14 + 7.0 * static_cast<double>(it->name.size()) + 12;
    lx -= w;
    svg += "<rect class=\"swatch\" x=\"" + num(lx) +
           "\" y=\"8\" width=\"10\" height=\"10\" fill=\"" + html_escape(it->colour) + "\"/>" +
           text(lx + 14, 17, "start", it->name) + "\n";
  }
  const double band =
      chart.bars.empty() ? 0.0 : (kPlotRight - kPlotLeft) / static_cast<double>(chart.bars.size());
  const double bar_width = std::min(band * 0.6, 80.0);
  for (std::size_t b = 0; b < chart.bars.size(); ++b) {
    const auto& bar = chart.bars[b];
    const double centre = kPlotLeft + band * (static_cast<double>(b) + 0.5);
    const double x = centre - bar_width / 2;
    double stacked = 0.0;
    svg += "<g class=\"bar" + std::string(bar.highlighted ? " highlight" : "") + "\">\n";
    for (std::size_t s = 0; s < chart.series.size(); ++s) {
      const double v = s < bar.values.size() ? bar.values[s] : 0.0;
      const double height_value = finite(v) && v > 0 ? v : 0.0;
      const double top = y(std::min(stacked + height_value, chart.y_max));
      const double bottom = y(std::min(stacked, chart.y_max));
      svg += "<rect class=\"mark seg\" data-series=\"" + html_escape(chart.series[s].name) +
             "\" x=\"" + num(x) + "\" y=\"" + num(top) + "\" width=\"" + num(bar_width) +
             "\" height=\"" + num(bottom - top) + "\" fill=\"" +
             html_escape(chart.series[s].colour) + "\"><title>" +
             html_escape(bar.label + " " + chart.series[s].name + ": " + format_fixed(v, 1)) +
             "</title></rect>\n";
      stacked += height_value;
    }
    if (bar.highlighted) {
      svg += "<rect class=\"highlight\" fill=\"none\" x=\"" + num(x - 3) + "\" y=\"" +
             num(y(std::min(stacked, chart.y_max)) - 3) + "\" width=\"" + num(bar_width + 6) +
             "\" height=\"" + num(kPlotBottom - y(std::min(stacked, chart.y_max)) + 3) + "\"/>\n";
    }
    svg += "</g>\n" + band_label(centre, bar.label, bar.highlighted);
  }
  svg += x_baseline() + "</svg>\n";
  return svg;
}

std::string box_plot_svg(const BoxPlotChart& chart) {
  const LinearScale y{chart.y_lo, chart.y_hi, kPlotBottom, kPlotTop};
  const auto clamp_y = [&](double v) { return y(std::clamp(v, chart.y_lo, chart.y_hi)); };
  std::string svg = svg_open(chart.id, chart.title);
  svg += y_axis(y, chart.y_label);
  const double band = chart.boxes.empty()
                          ? 0.0
                          : (kPlotRight - kPlotLeft) / static_cast<double>(chart.boxes.size());
  const double box_width = std::min(band * 0.5, 70.0);
  for (std::size_t b = 0; b < chart.boxes.size(); ++b) {
    const auto& box = chart.boxes[b];
    const double centre_x = kPlotLeft + band * (static_cast<double>(b) + 0.5);
    const double x = centre_x - box_width / 2;
    if (!finite(box.centre) || !finite(box.box_lo) || !finite(box.box_hi)) {
      svg += "<g class=\"mark box empty\"><title>" + html_escape(box.label + ": no data") +
             "</title>" + text(centre_x, (kPlotTop + kPlotBottom) / 2, "middle", "no data") +
             "</g>\n";
      svg += band_label(centre_x, box.label, box.highlighted);
      continue;
    }
    svg += "<g class=\"mark box" + std::string(box.highlighted ? " highlight" : "") + "\"><title>" +
           html_escape(box.label + ": box " + format_fixed(box.box_lo, 4) + " to " +
                       format_fixed(box.box_hi, 4) + ", line " + format_fixed(box.centre, 4) +
                       ", whisker " + format_fixed(box.whisker_lo, 4) + " to " +
                       format_fixed(box.whisker_hi, 4)) +
           "</title>\n";
    if (finite(box.whisker_lo) && finite(box.whisker_hi)) {
      const double wx = centre_x;
      svg += line(wx, clamp_y(box.whisker_lo), wx, clamp_y(box.whisker_hi), "whisker") +
             line(wx - box_width / 4, clamp_y(box.whisker_lo), wx + box_width / 4,
                  clamp_y(box.whisker_lo), "cap") +
             line(wx - box_width / 4, clamp_y(box.whisker_hi), wx + box_width / 4,
                  clamp_y(box.whisker_hi), "cap") +
             "\n";
    }
    const double top = clamp_y(box.box_hi);
    const double bottom = clamp_y(box.box_lo);
    // A constant output has a zero-height box: two pixels keep it visible.
    const double height = std::max(bottom - top, 2.0);
    svg += "<rect x=\"" + num(x) + "\" y=\"" + num(top - (height - (bottom - top)) / 2) +
           "\" width=\"" + num(box_width) + "\" height=\"" + num(height) + "\"/>\n";
    svg += line(x, clamp_y(box.centre), x + box_width, clamp_y(box.centre), "centre") + "\n</g>\n";
    svg += band_label(centre_x, box.label, box.highlighted);
  }
  svg += x_baseline();
  if (!chart.legend.empty()) svg += text(kPlotLeft, kHeight - 8, "start", chart.legend) + "\n";
  svg += "</svg>\n";
  return svg;
}

std::string threshold_timeline_svg(const ThresholdTimeline& chart) {
  std::vector<TimePoint> points;
  for (const auto& p : chart.points) {
    if (finite(p.value)) points.push_back(p);
  }
  std::stable_sort(points.begin(), points.end(),
                   [](const TimePoint& a, const TimePoint& b) { return a.time_ms < b.time_ms; });
  std::int64_t t_lo = points.empty() ? 0 : points.front().time_ms;
  std::int64_t t_hi = points.empty() ? 0 : points.back().time_ms;
  if (chart.rollback_ms) {
    if (points.empty()) t_lo = t_hi = *chart.rollback_ms;
    t_lo = std::min(t_lo, *chart.rollback_ms);
    t_hi = std::max(t_hi, *chart.rollback_ms);
  }
  // A single instant still gets a readable axis: a second either side.
  if (t_hi - t_lo < 2'000) {
    t_lo -= 1'000;
    t_hi += 1'000;
  }
  double v_lo = chart.threshold;
  double v_hi = chart.threshold;
  for (const auto& p : points) {
    v_lo = std::min(v_lo, p.value);
    v_hi = std::max(v_hi, p.value);
  }
  // Room above and below so neither the threshold nor a point sits on the frame.
  const double pad = v_hi > v_lo ? (v_hi - v_lo) * 0.1 : std::max(std::fabs(v_hi) * 0.1, 1e-3);
  v_lo -= pad;
  v_hi += pad;
  const LinearScale x{static_cast<double>(t_lo), static_cast<double>(t_hi), kPlotLeft, kPlotRight};
  const LinearScale y{v_lo, v_hi, kPlotBottom, kPlotTop};

  std::string svg = svg_open(chart.id, chart.title);
  svg += y_axis(y, chart.figure);
  svg += "<g class=\"axis x\">\n";
  for (auto t : time_ticks_ms(t_lo, t_hi, 6)) {
    const double px = x(static_cast<double>(t));
    svg += line(px, kPlotBottom, px, kPlotBottom + 4, "tick") +
           text(px, kPlotBottom + 16, "middle", time_of_day_utc(t)) + "\n";
  }
  svg += line(kPlotLeft, kPlotBottom, kPlotRight, kPlotBottom, "domain") + "\n";
  svg += text((kPlotLeft + kPlotRight) / 2, kPlotBottom + 34, "middle", "time (UTC)") + "\n</g>\n";

  const double ty = y(chart.threshold);
  svg += "<line class=\"mark threshold\" x1=\"" + num(kPlotLeft) + "\" y1=\"" + num(ty) +
         "\" x2=\"" + num(kPlotRight) + "\" y2=\"" + num(ty) + "\"><title>" +
         html_escape("threshold " + chart.figure + " " + (chart.violation_above ? "> " : "< ") +
                     format_fixed(chart.threshold, 4) + " is a violation") +
         "</title></line>\n";
  svg += text(kPlotRight - 2, ty - 4, "end",
              std::string("threshold ") + (chart.violation_above ? "> " : "< ") +
                  svg_number(chart.threshold)) +
         "\n";
  if (!points.empty()) {
    std::string coords;
    for (const auto& p : points) {
      coords += (coords.empty() ? "" : " ") + num(x(static_cast<double>(p.time_ms))) + "," +
                num(y(p.value));
    }
    svg += "<polyline class=\"series\" points=\"" + coords + "\"/>\n";
  }
  for (const auto& p : points) {
    const bool violation =
        chart.violation_above ? p.value > chart.threshold : p.value < chart.threshold;
    svg += "<circle class=\"mark point" + std::string(violation ? " violation" : "") + "\" cx=\"" +
           num(x(static_cast<double>(p.time_ms))) + "\" cy=\"" + num(y(p.value)) +
           "\" r=\"3\"><title>" +
           html_escape(time_of_day_utc(p.time_ms) + " " + chart.figure + "=" +
                       format_fixed(p.value, 4) + (violation ? " (violation)" : "")) +
           "</title></circle>\n";
  }
  if (chart.rollback_ms) {
    const double rx = x(static_cast<double>(*chart.rollback_ms));
    svg += "<line class=\"mark rollback\" x1=\"" + num(rx) + "\" y1=\"" + num(kPlotTop) +
           "\" x2=\"" + num(rx) + "\" y2=\"" + num(kPlotBottom) + "\"><title>" +
           html_escape(chart.rollback_label + " at " + time_of_day_utc(*chart.rollback_ms)) +
           "</title></line>\n" +
           text(rx, kPlotTop - 4, rx > (kPlotLeft + kPlotRight) / 2 ? "end" : "start",
                chart.rollback_label) +
           "\n";
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace qsc::report
