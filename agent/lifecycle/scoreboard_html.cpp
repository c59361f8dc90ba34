// scoreboard_latest.html: the scoreboard's Markdown content with charts.
#include "core/console_text.hpp"
#include "lifecycle/report_html.hpp"
#include "report/html_page.hpp"

namespace qsc::agent {
namespace {

using report::html_escape;

report::Tone tone_of(const std::string& status) {
  if (status == "GO" || status == "ALL-GO") return report::Tone::kPass;
  if (status == "WAIT") return report::Tone::kWait;
  // Anything else (NO-GO, or a status this page does not know) reads as a failure.
  return report::Tone::kFail;
}

}  // namespace

std::string scoreboard_html(const Scoreboard& b) {
  std::string body = "<ul class=\"facts\">\n";
  body += "<li>Overall: " + report::verdict_html(b.overall, tone_of(b.overall)) + "</li>\n";
  body += "<li>Generated: " + html_escape(format_iso(b.generated_ms)) + "</li>\n";
  body += "<li>Source: " + html_escape(b.source) + "</li>\n";
  body += "<li>Configuration SHA-256: <code>" + html_escape(b.config_sha256) + "</code></li>\n";
  if (!b.canary_model.empty()) body += "<li>Canary: " + html_escape(b.canary_model) + "</li>\n";
  body += "<li>Events in window: " + std::to_string(b.window.events) + " (minimum per model " +
          std::to_string(b.min_events) + ")</li>\n</ul>\n";
  std::vector<std::vector<report::Cell>> rows;
  for (const auto& r : b.rows) {
    const std::string reasons = join_reasons(r.reasons);
    rows.push_back({report::text_cell(r.model + (r.model == b.canary_model ? " (canary)" : "")),
                    {report::verdict_html(r.status, tone_of(r.status)), false},
                    report::text_cell(reasons)});
  }
  body += report::table_html({"model", "status", "reasons"}, rows);
  body += "<h2>Charts</h2>\n<figure>\n" + action_shares_chart(b.window, b.canary_model) +
          "<figcaption>BUY, SELL and HOLD shares of each model's predictions in the "
          "window.</figcaption>\n</figure>\n<figure>\n" +
          confidence_chart(b.window, b.canary_model) +
          "<figcaption>Confidence per model over the window.</figcaption>\n</figure>\n";
  body += "<h2>Ensemble</h2>\n" + ensemble_html(b.window.ensemble);
  body += "<h2>Per model</h2>\n" + model_table_html(b.window.models, b.canary_model);
  return report::html_document("QSC scoreboard", body);
}

}  // namespace qsc::agent
