// The replay's HTML report.
#include "replay/replay_html.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include "core/console_text.hpp"
#include "core/duration.hpp"
#include "qsc/checks.hpp"
#include "report/html_page.hpp"
#include "report/svg_chart.hpp"

namespace qsc::agent {
namespace {

using report::Cell;
using report::html_escape;
using report::Tone;

Tone tone_of_status(const std::string& status) {
  if (status == "GO") return Tone::kPass;
  if (status == "WAIT") return Tone::kWait;
  // NO-GO, VIOLATION or a status this page does not know reads as a failure (fail closed).
  return Tone::kFail;
}

std::string outcome_html(const ReplayResult& r) {
  switch (r.outcome) {
    case ReplayOutcome::kClean:
      return report::verdict_html("CLEAN", Tone::kPass);
    case ReplayOutcome::kRolledBack:
      return report::verdict_html("ROLLED BACK", Tone::kFail);
    case ReplayOutcome::kInconclusive:
      break;
  }
  return report::verdict_html("INCONCLUSIVE", Tone::kWait);
}

// One figure's values over the replay: (detector, figure) -> its points and bounds, in the
// order the detectors reported them.
struct FigureSeries {
  std::string detector;
  std::string figure;
  std::optional<double> min_threshold;
  std::optional<double> max_threshold;
  std::vector<report::TimePoint> points;
};

std::vector<FigureSeries> figure_series(const ReplayResult& r) {
  std::vector<FigureSeries> series;
  std::map<std::pair<std::string, std::string>, std::size_t> index;
  const auto add = [&](const std::vector<ReplayFigure>& figures, EpochMs at_ms) {
    for (const auto& f : figures) {
      // A figure without a threshold is context (a count), not something judged over time.
      if (!f.min_threshold && !f.max_threshold) continue;
      const auto key = std::make_pair(f.detector, f.figure);
      auto it = index.find(key);
      if (it == index.end()) {
        it = index.emplace(key, series.size()).first;
        series.push_back({f.detector, f.figure, f.min_threshold, f.max_threshold, {}});
      }
      series[it->second].points.push_back({at_ms, f.value});
    }
  };
  // The monitor stops at its rollback: the checks after it are not its figures.
  for (const auto& c : r.checks) {
    if (!c.after_rollback) add(c.figures, c.at_ms);
  }
  if (r.rollback) add(r.rollback->figures, r.rollback->at_ms);
  return series;
}

std::string charts_html(const ReplayResult& r) {
  auto series = figure_series(r);
  // The detectors the monitor rolled back on come first: what a reader opens the report for.
  if (r.rollback) {
    const auto& acted = r.rollback->detectors;
    std::stable_partition(series.begin(), series.end(), [&](const FigureSeries& s) {
      return std::find(acted.begin(), acted.end(), s.detector) != acted.end();
    });
  }
  if (series.empty()) return "<p>No detector reported a figure with a threshold.</p>\n";
  std::string html;
  for (const auto& s : series) {
    for (const auto& [bound, threshold] : {std::pair{std::string("min"), s.min_threshold},
                                           std::pair{std::string("max"), s.max_threshold}}) {
      if (!threshold) continue;
      report::ThresholdTimeline chart;
      chart.id = replay_chart_id(s.detector, s.figure, bound);
      chart.title = s.detector + ": " + s.figure +
                    (bound == "min" ? " (lower bound " : " (upper bound ") +
                    qsc::format_threshold(*threshold) + ")";
      chart.figure = s.figure;
      chart.points = s.points;
      chart.threshold = *threshold;
      chart.violation_above = bound == "max";
      if (r.rollback) chart.rollback_ms = r.rollback->at_ms;
      html += "<figure>" + report::threshold_timeline_svg(chart) + "</figure>\n";
    }
  }
  return html;
}

std::string checks_html(const ReplayResult& r) {
  if (r.checks.empty()) return "<p>No interval check fell due.</p>\n";
  std::vector<std::vector<Cell>> rows;
  for (const auto& c : r.checks) {
    const std::string violations = join_reasons(c.violations);
    rows.push_back(
        {report::number_cell(std::to_string(c.number) + "/" + std::to_string(r.checks_total)),
         report::text_cell(format_iso(c.at_ms)),
         {report::verdict_html(c.status, tone_of_status(c.status)), false},
         report::text_cell(c.after_rollback ? "after the rollback" : ""),
         report::text_cell(violations)});
  }
  return report::table_html({"Check", "Due at", "Status", "Monitor", "Violations"}, rows);
}

std::string first_violations_html(const ReplayResult& r) {
  if (r.first_violations.empty()) return "<p>No detector acted.</p>\n";
  std::vector<std::vector<Cell>> rows;
  for (const auto& f : r.first_violations) {
    const auto& at = f.finding;
    rows.push_back({report::text_cell(f.detector), report::text_cell(format_iso(at.at_ms)),
                    report::text_cell(replay_cause_name(at.cause)),
                    report::text_cell(at.event_id.empty() ? "(none yet)" : at.event_id),
                    report::number_cell(at.event_id.empty() ? "" : std::to_string(at.line)),
                    report::text_cell(at.messages.empty() ? "" : at.messages.front())});
  }
  return report::table_html({"Detector", "At", "Cause", "Trigger event", "Line", "Message"}, rows);
}

}  // namespace

std::string replay_chart_id(const std::string& detector, const std::string& figure,
                            const std::string& bound) {
  return "timeline-" + detector + "-" + figure + "-" + bound;
}

std::string replay_html(const ReplayResult& r) {
  std::string body = "<ul class=\"facts\">\n";
  body += "<li>Outcome: " + outcome_html(r) + "</li>\n";
  body += "<li>Recording: " + html_escape(r.file) + "</li>\n";
  body += "<li>Canary: " + html_escape(r.model) + "</li>\n";
  body += "<li>Period: " + html_escape(format_iso(r.period_start_ms)) + " to " +
          html_escape(format_iso(r.period_end_ms)) + ", " + std::to_string(r.checks_total) +
          " checks every " + html_escape(format_duration(r.interval)) + "</li>\n";
  if (r.rollback) {
    const std::string messages = join_reasons(r.rollback->messages);
    body +=
        "<li>Rollback: on " + std::string(replay_cause_name(r.rollback->cause)) + " at " +
        html_escape(format_iso(r.rollback->at_ms)) +
        (r.rollback->event_id.empty() ? std::string()
                                      : ", event " + html_escape(r.rollback->event_id) + " (line " +
                                            std::to_string(r.rollback->line) + ")") +
        ": " + html_escape(messages) + "</li>\n";
  }
  if (!r.inconclusive_reason.empty()) {
    body += "<li>Inconclusive: " + html_escape(r.inconclusive_reason) + "</li>\n";
  }
  body += "</ul>\n<h2>Detector figures against their thresholds</h2>\n" + charts_html(r);
  body += "<h2>Interval checks</h2>\n" + checks_html(r);
  body += "<h2>First violation of each detector</h2>\n" + first_violations_html(r);
  return report::html_document("QSC replay", body);
}

}  // namespace qsc::agent
