// The quality gate and its report.
#include "lifecycle/gate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/duration.hpp"
#include "core/files.hpp"
#include "lifecycle/report_format.hpp"
#include "lifecycle/report_html.hpp"

namespace qsc::agent {

namespace {

/// What the gate knows of the telemetry flow, handed to the detectors as the monitor hands its
/// own. The gate has no arrival clock: the newest event's age by its time stands in for it.
TelemetryHealth gate_telemetry(const GateReport& r) {
  TelemetryHealth t;
  t.source_ok = true;
  t.events_seen = r.events_analysed;
  t.seconds_since_last_event = seconds_since_newest(r.newest_event_ms, r.evaluated_ms);
  t.events_lost = r.events_lost;
  t.rejected = r.counts.rejected_total();
  t.rejected_pct = r.counts.rejected_pct();
  t.rejected_window_entries = static_cast<std::int64_t>(r.counts.accepted + t.rejected);
  return t;
}

}  // namespace

std::optional<EpochMs> newest_event_ms(std::span<const TradeIntent> events) {
  if (events.empty()) return std::nullopt;
  const auto newest = std::max_element(
      events.begin(), events.end(),
      [](const TradeIntent& a, const TradeIntent& b) { return a.time_ms < b.time_ms; });
  return static_cast<EpochMs>(newest->time_ms);
}

double seconds_since_newest(std::optional<EpochMs> newest_ms, EpochMs now) {
  if (!newest_ms) return std::numeric_limits<double>::infinity();
  return static_cast<double>(std::max<EpochMs>(now - *newest_ms, 0)) / 1000.0;
}

std::vector<std::string> telemetry_blockers(const ReadTelemetry& t, std::string_view event) {
  std::vector<std::string> out;
  if (t.counts.rejected_pct() > t.max_rejected_pct) {
    out.push_back("unreadable telemetry: " + std::to_string(t.counts.rejected_total()) +
                  " rejected entries = " + fmt_fixed(t.counts.rejected_pct(), 2) + "% (> " +
                  format_threshold(t.max_rejected_pct) + "%)");
  }
  // Any loss fails, as the monitor's telemetry_stale detector does by default (max_lost_events
  // 0): the lost events might be exactly the ones that show the model misbehaving.
  if (t.events_lost > 0) {
    out.push_back("lost telemetry: " + std::to_string(t.events_lost) +
                  " events lost while reading (missing telemetry is never healthy; "
                  "is the reader too slow for the ring, or the ring too small?)");
  }
  // Old events say how the model behaved then, not now: a verdict on them would pass a model
  // that has since stopped publishing or changed.
  if (t.newest_ms && t.now_ms - *t.newest_ms > t.stale_after.count()) {
    out.push_back("stale telemetry: the newest " + std::string(event) + " (" +
                  format_iso(*t.newest_ms) + ") is " +
                  format_duration(std::chrono::seconds((t.now_ms - *t.newest_ms) / 1000)) +
                  " old (> telemetry.stale_after " + format_duration(t.stale_after) +
                  "): is the AI engine publishing? Judge fresh events");
  }
  return out;
}

GateReport evaluate_gate(const GateRequest& request, const GateEvidence& evidence,
                         const RunDetectors& detectors) {
  GateReport r;
  r.request = request;
  r.evaluated_ms = now_ms();
  r.source = evidence.source;
  r.events_analysed = evidence.post.size();
  r.post = compute_window_stats(evidence.post);
  if (!evidence.pre.empty()) r.pre = compute_window_stats(evidence.pre);
  r.counts = evidence.counts;
  r.rejections = evidence.rejections;
  r.events_lost = evidence.events_lost;

  if (r.events_analysed < request.min_events) {
    r.blockers.push_back("too few post-cutover events: " + std::to_string(r.events_analysed) +
                         " < " + std::to_string(request.min_events) +
                         " (wait for more telemetry; no telemetry, no decision)");
  }
  if (r.events_analysed > 0 && r.post.models.empty()) {
    r.blockers.push_back("no model predictions (model_breakdown) in any post-cutover event");
  }
  r.newest_event_ms = newest_event_ms(evidence.post);
  for (auto& b : telemetry_blockers({r.counts, r.events_lost, r.newest_event_ms, r.evaluated_ms,
                                     request.stale_after, request.max_rejected_pct},
                                    "post-cutover event")) {
    r.blockers.push_back(std::move(b));
  }
  auto verdicts = judge_window(detectors, r.post, gate_telemetry(r), request.min_events);
  for (auto& v : verdicts.models) {
    for (const auto& failure : v.failures()) r.blockers.push_back(v.model + ": " + failure);
    r.models.push_back(std::move(v));
  }
  for (const auto& c : verdicts.ensemble) {
    if (c.result.verdict != Verdict::kPass) r.blockers.push_back("ensemble: " + c.result.message);
  }
  r.ensemble_checks = std::move(verdicts.ensemble);
  r.pass = r.blockers.empty();
  return r;
}

void require_canary_judged(GateReport& report, const std::string& canary) {
  report.canary_model = canary;
  const auto* stats = report.post.find(canary);
  report.canary_active_predictions =
      stats != nullptr ? stats->predictions - std::min(stats->inactive, stats->predictions) : 0;
  if (report.canary_active_predictions >= report.request.min_events) return;
  report.blockers.push_back(
      "unseen canary: " + canary + " has " + std::to_string(report.canary_active_predictions) +
      " active predictions after the cutover < " + std::to_string(report.request.min_events) +
      " (telemetry.min_events): the gate has not judged it; check that the engine runs it "
      "(not shadow or fallback) and wait for its predictions");
  report.pass = false;
}

nlohmann::ordered_json gate_report_json(const GateReport& r) {
  nlohmann::ordered_json models = nlohmann::ordered_json::array();
  for (const auto& v : r.models) {
    const auto* m = r.post.find(v.model);
    auto j = model_stats_json(*m);
    j["verdict"] = v.pass ? "PASS" : "FAIL";
    nlohmann::ordered_json checks = nlohmann::ordered_json::object();
    for (const auto& [name, c] : v.checks) checks[name] = check_json(c);
    j["checks"] = checks;
    j["failures"] = v.failures();
    models.push_back(j);
  }
  nlohmann::ordered_json normalization = nlohmann::ordered_json::object();
  for (const auto& m : r.post.models) normalization[m.model] = confidence_audit_json(m);
  nlohmann::ordered_json comparison = nlohmann::ordered_json::array();
  if (r.pre) {
    for (const auto& post : r.post.models) {
      const auto* pre = r.pre->find(post.model);
      if (!pre) continue;
      comparison.push_back(comparison_json(*pre, post));
    }
  }
  auto ensemble = ensemble_json(r.post.ensemble);
  nlohmann::ordered_json ensemble_checks = nlohmann::ordered_json::object();
  for (const auto& c : r.ensemble_checks) ensemble_checks[c.detector] = check_json(c.result);
  ensemble["checks"] = ensemble_checks;
  nlohmann::ordered_json canary = nullptr;
  if (!r.canary_model.empty()) {
    canary = {{"model", r.canary_model}, {"active_predictions", r.canary_active_predictions}};
  }
  return {
      {"report", "quality_gate"},
      {"verdict", r.pass ? "PASS" : "FAIL"},
      {"evaluated_at", format_iso(r.evaluated_ms)},
      {"cutover_ts", format_iso(r.request.cutover_ms)},
      {"config_sha256", r.request.config_sha256},
      {"source", r.source},
      {"newest_event_ts", r.newest_event_ms ? nlohmann::ordered_json(format_iso(*r.newest_event_ms))
                                            : nlohmann::ordered_json(nullptr)},
      {"stale_after", format_duration(r.request.stale_after)},
      {"canary", canary},
      {"events_requested", r.request.window_events},
      {"events_analysed", r.events_analysed},
      {"min_events", r.request.min_events},
      {"detectors", r.request.detectors},
      {"telemetry", parse_counts_json(r.counts, r.events_lost)},
      {"rejection_examples", rejections_json(r.rejections)},
      {"blockers", r.blockers},
      {"ensemble", ensemble},
      {"normalization_audit", normalization},
      {"models", models},
      {"pre_post_comparison", comparison}};
}

Result<std::string> write_gate_report(const GateReport& r, const std::string& reports_dir) {
  const auto stem = std::filesystem::path(reports_dir) /
                    ("quality_gate_" + format_compact(r.evaluated_ms) + "_post_cutover");
  std::string md;
  md += "# Quality gate report (post-cutover)\n\n";
  md += "- Verdict: **" + std::string(r.pass ? "PASS" : "FAIL (BLOCKER)") + "**\n";
  md += "- Evaluated: " + format_iso(r.evaluated_ms) + "\n";
  md += "- Cutover: " + format_iso(r.request.cutover_ms) + "\n";
  md += "- Source: " + r.source + "\n";
  md += "- Configuration SHA-256: " + r.request.config_sha256 + "\n";
  md += "- Newest event: " +
        (r.newest_event_ms ? format_iso(*r.newest_event_ms) : std::string("none")) +
        " (stale after " + format_duration(r.request.stale_after) + ")\n";
  if (!r.canary_model.empty()) {
    md += "- Canary: " + r.canary_model + ", " + std::to_string(r.canary_active_predictions) +
          " active predictions\n";
  }
  md += "- Events analysed: " + std::to_string(r.events_analysed) + " (window " +
        std::to_string(r.request.window_events) + ", minimum " +
        std::to_string(r.request.min_events) + ")\n";
  md += "- Telemetry: " + std::to_string(r.counts.accepted) + " accepted, " +
        std::to_string(r.counts.rejected_total()) + " rejected (" +
        fmt_fixed(r.counts.rejected_pct(), 2) + "%), " + std::to_string(r.counts.skipped) +
        " other event types skipped, " + std::to_string(r.events_lost) + " lost\n\n";
  if (!r.blockers.empty()) {
    md += "## Blockers\n\n";
    for (const auto& b : r.blockers) md += "- ❌ " + b + "\n";
    md += "\n";
  }
  md += "## Per model\n\n" + model_table_markdown(r.post.models) + "\n";
  for (const auto& v : r.models) {
    md += "### " + v.model + ": " + (v.pass ? "PASS" : "FAIL") + "\n\n";
    for (const auto& [name, c] : v.checks) {
      md += std::string("- ") + (c.verdict == Verdict::kPass ? "✅ " : "❌ ") + c.message + "\n";
    }
    md += "\n";
  }
  md += "## Ensemble\n\n" + ensemble_markdown(r.post.ensemble);
  for (const auto& c : r.ensemble_checks) {
    md += std::string("- ") + (c.result.verdict == Verdict::kPass ? "✅ " : "❌ ") +
          c.result.message + "\n";
  }
  md += "\n## Detectors\n\n" + detectors_markdown(r.request.detectors) + "\n";
  md += "## Normalization audit\n\n" + confidence_audit_markdown(r.post.models) + "\n";
  if (r.pre) {
    md += "## Pre/post cutover comparison\n\n" + comparison_markdown(*r.pre, r.post) + "\n";
  } else {
    md += "## Pre/post cutover comparison\n\nNo events before the cutover were found.\n\n";
  }
  if (!r.rejections.empty()) {
    md += "## Rejected entries (examples)\n\n" + rejections_markdown(r.rejections) + "\n";
  }
  auto json_text =
      gate_report_json(r).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (auto s = write_file_atomic(stem.string() + ".json", json_text); !s) return s.error();
  if (auto s = write_file_atomic(stem.string() + ".md", md); !s) return s.error();
  if (auto s = write_file_atomic(stem.string() + ".html", gate_report_html(r)); !s) {
    return s.error();
  }
  return stem.string() + ".md";
}

}  // namespace qsc::agent
