// The report tables as HTML: the Markdown's columns and figures, numbers right-aligned.
#include <cmath>
#include <iterator>

#include "lifecycle/report_html.hpp"
#include "report/html_page.hpp"
#include "report/number_format.hpp"

namespace qsc::agent {
namespace {

using report::Cell;
using report::format_fixed;
using report::number_cell;
using report::text_cell;

Cell fixed_cell(double v, int decimals) {
  return number_cell(format_fixed(v, decimals));
}
Cell count_cell(std::size_t n) {
  return number_cell(std::to_string(n));
}

// post - pre with its sign, as the Markdown's Δ column; "n/a" when either is missing.
Cell delta_cell(double pre, double post, int decimals) {
  if (!std::isfinite(pre) || !std::isfinite(post)) return number_cell("n/a");
  const auto text = format_fixed(post - pre, decimals);
  return number_cell(text.front() == '-' ? text : "+" + text);
}

std::string model_label(const std::string& model, const std::string& canary) {
  return model + (!canary.empty() && model == canary ? " (canary)" : "");
}

}  // namespace

std::string model_table_html(const std::vector<ModelStats>& models, const std::string& canary) {
  std::vector<std::vector<Cell>> rows;
  for (const auto& m : models) {
    rows.push_back({text_cell(model_label(m.model, canary)), count_cell(m.predictions),
                    fixed_cell(m.share_pct[0], 1), fixed_cell(m.share_pct[1], 1),
                    fixed_cell(m.share_pct[2], 1), fixed_cell(m.conf_mean, 4),
                    fixed_cell(m.conf_std, 4), fixed_cell(m.p10, 4), fixed_cell(m.p90, 4),
                    fixed_cell(m.range, 4), count_cell(m.inactive)});
  }
  return report::table_html({"model", "n", "BUY %", "SELL %", "HOLD %", "conf mean", "conf std",
                             "P10", "P90", "P10-P90", "inactive"},
                            rows);
}

std::string ensemble_html(const EnsembleStats& e) {
  return "<ul class=\"facts\">\n<li>Events with active votes: " + std::to_string(e.events) +
         "</li>\n<li>Agreement: " + format_fixed(e.agreement_pct, 1) +
         "%</li>\n<li>Hard disagree: " + format_fixed(e.hard_disagree_pct, 1) + "%</li>\n</ul>\n";
}

std::string confidence_audit_html(const std::vector<ModelStats>& models) {
  std::vector<std::string> headers{"model"};
  const std::size_t statuses = std::tuple_size_v<decltype(ModelStats::by_status)>;
  for (std::size_t s = 0; s < statuses; ++s) {
    headers.emplace_back(confidence_status_name(static_cast<ConfidenceStatus>(s)));
  }
  std::vector<std::vector<Cell>> rows;
  for (const auto& m : models) {
    std::vector<Cell> row{text_cell(m.model)};
    for (std::size_t s = 0; s < statuses; ++s) row.push_back(count_cell(m.by_status[s]));
    rows.push_back(std::move(row));
  }
  return report::table_html(headers, rows);
}

std::string comparison_html(const WindowStats& pre, const WindowStats& post) {
  const auto hold = static_cast<std::size_t>(Vote::kHold);
  std::vector<std::vector<Cell>> rows;
  for (const auto& p : post.models) {
    const auto* q = pre.find(p.model);
    if (q == nullptr) {
      rows.push_back({text_cell(p.model), text_cell("(new)"), fixed_cell(p.share_pct[hold], 1),
                      text_cell(""), text_cell(""), fixed_cell(p.conf_std, 4), text_cell(""),
                      text_cell(""), fixed_cell(p.range, 4), text_cell("")});
      continue;
    }
    rows.push_back(
        {text_cell(p.model), fixed_cell(q->share_pct[hold], 1), fixed_cell(p.share_pct[hold], 1),
         delta_cell(q->share_pct[hold], p.share_pct[hold], 1), fixed_cell(q->conf_std, 4),
         fixed_cell(p.conf_std, 4), delta_cell(q->conf_std, p.conf_std, 4), fixed_cell(q->range, 4),
         fixed_cell(p.range, 4), delta_cell(q->range, p.range, 4)});
  }
  return report::table_html({"model", "HOLD % pre", "HOLD % post", "Δ", "conf std pre", "post", "Δ",
                             "P10-P90 pre", "post", "Δ"},
                            rows);
}

std::string rejections_html(const std::vector<Rejection>& rejections) {
  std::string html = "<ul class=\"facts\">\n";
  for (const auto& r : rejections) {
    html += "<li><code>" + report::html_escape(reject_reason_name(r.reason)) + "</code> " +
            report::html_escape(r.message) + "</li>\n";
  }
  return html + "</ul>\n";
}

}  // namespace qsc::agent
