// The window charts both HTML reports show.
#include <cmath>

#include "lifecycle/report_html.hpp"
#include "report/svg_chart.hpp"

namespace qsc::agent {

std::string action_shares_chart(const WindowStats& window, const std::string& canary) {
  report::StackedBarChart chart;
  chart.id = kActionSharesChartId;
  chart.title = "Action shares over the window, per model";
  chart.y_label = "share of predictions (%)";
  chart.y_max = 100.0;
  // Order and names as Vote indexes them (share_pct[0] BUY, [1] SELL, [2] HOLD).
  chart.series = {{"BUY", "#2da44e"}, {"SELL", "#cf222e"}, {"HOLD", "#8c959f"}};
  for (const auto& m : window.models) {
    chart.bars.push_back({m.model,
                          {m.share_pct[0], m.share_pct[1], m.share_pct[2]},
                          !canary.empty() && m.model == canary});
  }
  return report::stacked_bar_svg(chart);
}

std::string confidence_chart(const WindowStats& window, const std::string& canary) {
  report::BoxPlotChart chart;
  chart.id = kConfidenceChartId;
  chart.title = canary.empty() ? "Confidence distribution per model"
                               : "Confidence distribution: canary " + canary + " against its peers";
  chart.y_label = "confidence";
  // The window keeps P10, P90, mean and std (not every sample): the chart shows those, and the
  // legend says so rather than implying quartiles.
  chart.legend = "box: P10 to P90; line: mean; whisker: mean ± 1 std (clipped to 0-1)";
  chart.y_lo = 0.0;
  chart.y_hi = 1.0;
  for (const auto& m : window.models) {
    const bool has_data = m.confidence_samples > 0 && std::isfinite(m.conf_mean);
    const double nan = std::nan("");
    chart.boxes.push_back({m.model, has_data ? m.p10 : nan, has_data ? m.p90 : nan,
                           has_data ? m.conf_mean : nan, has_data ? m.conf_mean - m.conf_std : nan,
                           has_data ? m.conf_mean + m.conf_std : nan,
                           !canary.empty() && m.model == canary});
  }
  return report::box_plot_svg(chart);
}

}  // namespace qsc::agent
