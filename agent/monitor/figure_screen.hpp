// The screen that keeps incrementally computed figures numpy-equal where it matters. A screened
// figure (a running mean or standard deviation) comes with an interval certain to hold numpy's
// value; the window falls back to the exact recomputation when that interval is too wide to
// publish the figure within the project's tolerance, holds a detector's threshold (a verdict
// could differ), or holds a rounding boundary of a printed decimal (a message could differ).
// docs/STATISTICS.md explains the choice and its limits.
#pragma once

#include <vector>

#include "plugin_host/plugin_host.hpp"

namespace qsc::agent {

/// A figure and an interval certain to hold the value numpy computes from the same window.
struct ScreenedFigure {
  double value = 0.0;
  double low = 0.0;
  double high = 0.0;
};

/// The thresholds screened figures are kept away from.
class FigureScreen {
 public:
  /// Every finite number in the loaded detectors' effective configurations (whatever key and
  /// unit: a number that is not a threshold of a screened figure only costs a recomputation
  /// when a figure happens to come within about 1e-14 of it, relative).
  static FigureScreen from_plugins(const std::vector<PluginRecord>& records);
  FigureScreen() = default;
  explicit FigureScreen(std::vector<double> thresholds);

  /// True when `figure` cannot stand in for numpy's value: its interval is wider than the
  /// publication tolerance, or holds a threshold or a rounding boundary of up to six decimals.
  bool needs_exact(const ScreenedFigure& figure) const noexcept;

  const std::vector<double>& thresholds() const noexcept { return thresholds_; }

 private:
  std::vector<double> thresholds_;  // sorted, finite
};

}  // namespace qsc::agent
