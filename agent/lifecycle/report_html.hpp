// The HTML twins of the Markdown reports (issue 18, item 3): the same tables, verdicts in colour
// and in words, and charts drawn by report/svg_chart. Each is one self-contained file.
#pragma once

#include <string>
#include <vector>

#include "lifecycle/gate.hpp"
#include "lifecycle/scoreboard.hpp"
#include "qsc/stats.hpp"

namespace qsc::agent {

/// The id of the action-share chart's <svg> (one "mark seg" per model and action).
inline constexpr const char* kActionSharesChartId = "chart-action-shares";
/// The id of the confidence chart's <svg> (one "mark box" per model).
inline constexpr const char* kConfidenceChartId = "chart-confidence";

/// Stacked BUY / SELL / HOLD shares, one bar per model in the window; the canary outlined.
std::string action_shares_chart(const WindowStats& window, const std::string& canary);
/// The confidence distribution per model (box P10-P90, line at the mean, whisker mean ± 1 std),
/// the canary beside its peers.
std::string confidence_chart(const WindowStats& window, const std::string& canary);

/// The Markdown tables as HTML (report_format.hpp's *_markdown, same columns and figures).
std::string model_table_html(const std::vector<ModelStats>& models, const std::string& canary);
std::string ensemble_html(const EnsembleStats& e);
std::string confidence_audit_html(const std::vector<ModelStats>& models);
std::string comparison_html(const WindowStats& pre, const WindowStats& post);
std::string rejections_html(const std::vector<Rejection>& rejections);

/// quality_gate_<ts>_post_cutover.html: what the .md holds, plus both charts.
std::string gate_report_html(const GateReport& report);
/// scoreboard_latest.html: what the .md holds, plus both charts.
std::string scoreboard_html(const Scoreboard& board);

}  // namespace qsc::agent
