// The screen of incrementally computed figures.
#include "monitor/figure_screen.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qsc::agent {
namespace {

// The widest interval, relative to the figure, that may be published: half the project's
// tolerance for figures against numpy (1e-12 relative); the bounds carry their own factor of two.
constexpr double kPublishRelative = 5e-13;
// Messages print figures with up to six decimals (%.1f percentages, %.4f deviations, %f).
constexpr int kPrintedDecimals = 6;
constexpr double kUnitRoundoff = std::numeric_limits<double>::epsilon() / 2;

void collect_numbers(const nlohmann::json& j, std::vector<double>& out) {
  if (j.is_number()) {
    const double v = j.get<double>();
    if (std::isfinite(v)) out.push_back(v);
  } else if (j.is_structured()) {
    for (const auto& item : j) collect_numbers(item, out);
  }
}

// True when [low, high] scaled by 10^d holds some k + 0.5: printed with d decimals, a value on
// one side and a value on the other would not print alike.
bool holds_rounding_boundary(double low, double high) noexcept {
  // First one test for all of them: every boundary (k + 0.5) / 10^d, d <= 6, is an integer
  // times 1 / (2 10^6), so an interval holding none of those holds no boundary, and nearly no
  // interval does (they are about 1e-16 wide): the loop below then never runs (about 500 of
  // the evaluation step's instructions an event, docs/PERFORMANCE.md, "Session 12"). The loop's
  // hit at some d is an integer m = (2k + 1) 10^(6-d) within its pad (8 unit roundoffs of the
  // figure) plus the roundings of its and this scaling and comparisons (a few more): the pad
  // here, 32 of them, covers all; a wider one only runs the loop more often.
  constexpr double kFinestStep = 2e6;  // 2 x 10^kPrintedDecimals, exact
  static_assert(kPrintedDecimals == 6, "kFinestStep is 2 x 10^kPrintedDecimals");
  const double fine_low = low * kFinestStep;
  const double fine_high = high * kFinestStep;
  const double fine_pad = 32 * kUnitRoundoff * std::max(std::fabs(fine_low), std::fabs(fine_high));
  if (std::floor(fine_high + fine_pad) < fine_low - fine_pad) return false;
  double scale = 1.0;
  for (int d = 0; d <= kPrintedDecimals; ++d, scale *= 10.0) {
    const double a = low * scale;
    const double b = high * scale;
    const double pad = 8 * kUnitRoundoff * std::max(std::fabs(a), std::fabs(b));
    const double k = std::floor(b + pad - 0.5);
    if (k + 0.5 >= a - pad) return true;
  }
  return false;
}

}  // namespace

FigureScreen::FigureScreen(std::vector<double> thresholds) : thresholds_(std::move(thresholds)) {
  std::erase_if(thresholds_, [](double v) { return !std::isfinite(v); });
  std::sort(thresholds_.begin(), thresholds_.end());
  thresholds_.erase(std::unique(thresholds_.begin(), thresholds_.end()), thresholds_.end());
}

FigureScreen FigureScreen::from_plugins(const std::vector<PluginRecord>& records) {
  std::vector<double> numbers;
  for (const auto& r : records) {
    if (r.loaded() && r.kind == "detector") collect_numbers(r.effective_config, numbers);
  }
  return FigureScreen(std::move(numbers));
}

bool FigureScreen::needs_exact(const ScreenedFigure& figure) const noexcept {
  const double low = figure.low;
  const double high = figure.high;
  if (!std::isfinite(figure.value) || !std::isfinite(low) || !std::isfinite(high)) return true;
  if (low == high) return false;  // certain: it is numpy's value
  if (high - low > kPublishRelative * std::fabs(figure.value)) return true;
  const auto t = std::lower_bound(thresholds_.begin(), thresholds_.end(), low);
  if (t != thresholds_.end() && *t <= high) return true;
  return holds_rounding_boundary(low, high);
}

}  // namespace qsc::agent
