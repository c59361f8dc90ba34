// quality_gate_<ts>_post_cutover.html: the gate report's Markdown content with charts.
#include "core/duration.hpp"
#include "lifecycle/report_html.hpp"
#include "report/html_page.hpp"
#include "report/number_format.hpp"

namespace qsc::agent {
namespace {

using report::html_escape;

std::string fact(const std::string& name, const std::string& value_html) {
  return "<li>" + html_escape(name) + ": " + value_html + "</li>\n";
}

std::string figure(const std::string& svg, const std::string& caption) {
  return "<figure>\n" + svg + "<figcaption>" + html_escape(caption) + "</figcaption>\n</figure>\n";
}

}  // namespace

std::string gate_report_html(const GateReport& r) {
  std::string body = "<ul class=\"facts\">\n";
  body += fact("Verdict", r.pass ? report::verdict_html("PASS", report::Tone::kPass)
                                 : report::verdict_html("FAIL (BLOCKER)", report::Tone::kFail));
  body += fact("Evaluated", html_escape(format_iso(r.evaluated_ms)));
  body += fact("Cutover", html_escape(format_iso(r.request.cutover_ms)));
  body += fact("Source", html_escape(r.source));
  body +=
      fact("Configuration SHA-256", "<code>" + html_escape(r.request.config_sha256) + "</code>");
  body += fact("Newest event",
               html_escape((r.newest_event_ms ? format_iso(*r.newest_event_ms) : "none") +
                           " (stale after " + format_duration(r.request.stale_after) + ")"));
  if (!r.canary_model.empty()) {
    body += fact("Canary",
                 html_escape(r.canary_model + ", " + std::to_string(r.canary_active_predictions) +
                             " active predictions"));
  }
  body +=
      fact("Events analysed", html_escape(std::to_string(r.events_analysed) + " (window " +
                                          std::to_string(r.request.window_events) + ", minimum " +
                                          std::to_string(r.request.min_events) + ")"));
  body += fact("Telemetry",
               html_escape(std::to_string(r.counts.accepted) + " accepted, " +
                           std::to_string(r.counts.rejected_total()) + " rejected (" +
                           report::format_fixed(r.counts.rejected_pct(), 2) + "%), " +
                           std::to_string(r.counts.skipped) + " other event types skipped, " +
                           std::to_string(r.events_lost) + " lost"));
  body += "</ul>\n";
  if (!r.blockers.empty()) {
    body += "<h2>Blockers</h2>\n<ul class=\"facts\">\n";
    for (const auto& b : r.blockers) {
      body += "<li>" + report::verdict_html("BLOCKER", report::Tone::kFail) + " " + html_escape(b) +
              "</li>\n";
    }
    body += "</ul>\n";
  }
  body += "<h2>Charts</h2>\n";
  body += figure(action_shares_chart(r.post, r.canary_model),
                 "BUY, SELL and HOLD shares of each model's post-cutover predictions.");
  body += figure(confidence_chart(r.post, r.canary_model),
                 "Confidence per model over the post-cutover window.");
  body += "<h2>Per model</h2>\n" + model_table_html(r.post.models, r.canary_model);
  for (const auto& v : r.models) {
    body += "<h3>" + html_escape(v.model) + ": " +
            (v.pass ? report::verdict_html("PASS", report::Tone::kPass)
                    : report::verdict_html("FAIL", report::Tone::kFail)) +
            "</h3>\n<ul class=\"facts\">\n";
    for (const auto& [name, c] : v.checks) {
      const bool pass = c.verdict == Verdict::kPass;
      body += "<li>" +
              report::verdict_html(pass ? "pass" : std::string(verdict_name(c.verdict)),
                                   pass ? report::Tone::kPass : report::Tone::kFail) +
              " " + html_escape(c.message) + "</li>\n";
    }
    body += "</ul>\n";
  }
  body += "<h2>Ensemble</h2>\n" + ensemble_html(r.post.ensemble);
  body += "<h2>Normalization audit</h2>\n" + confidence_audit_html(r.post.models);
  body += "<h2>Pre/post cutover comparison</h2>\n";
  body += r.pre ? comparison_html(*r.pre, r.post)
                : std::string("<p>No events before the cutover were found.</p>\n");
  if (!r.rejections.empty()) {
    body += "<h2>Rejected entries (examples)</h2>\n" + rejections_html(r.rejections);
  }
  return report::html_document("Quality gate report (post-cutover)", body);
}

}  // namespace qsc::agent
