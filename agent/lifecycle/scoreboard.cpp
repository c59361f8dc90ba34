// The scoreboard.
#include "lifecycle/scoreboard.hpp"

#include <array>
#include <cmath>
#include <filesystem>

#include "core/console_text.hpp"
#include "core/files.hpp"
#include "lifecycle/report_format.hpp"
#include "lifecycle/report_html.hpp"
#include "qsc/event.hpp"

namespace qsc::agent {

const ScoreboardRow* Scoreboard::find(const std::string& model) const {
  for (const auto& r : rows) {
    if (r.model == model) return &r;
  }
  return nullptr;
}

Scoreboard compute_scoreboard(WindowStats window, const DetectorVerdicts& verdicts,
                              std::size_t min_events, const std::string& canary,
                              const std::vector<std::string>& telemetry_reasons) {
  Scoreboard b;
  b.generated_ms = now_ms();
  b.min_events = min_events;
  b.canary_model = canary;
  b.window = std::move(window);
  std::vector<std::string> ensemble_reasons;
  for (const auto& c : verdicts.ensemble) {
    if (c.result.verdict != Verdict::kPass) ensemble_reasons.push_back(c.result.message);
  }
  bool any_no_go = false;
  bool all_go = !b.window.models.empty();
  for (const auto& v : verdicts.models) {
    const auto* m = b.window.find(v.model);
    ScoreboardRow row{v.model, "GO", {}};
    std::vector<std::string> acting;
    for (const auto& [name, r] : v.checks) {
      if (r.verdict == Verdict::kViolation || r.verdict == Verdict::kError) {
        acting.push_back(r.message);
      }
    }
    // The live canary reporting itself shadow, inactive or fallback is a violation (DESIGN.md,
    // "Inactive models"; the monitor's inactive_canary), but that detector is canary-only and
    // runs in no scope the board runs, so the board passed such a canary on its other figures,
    // which count its inactive predictions as if they voted: GO for a model the ensemble does
    // not run.
    if (!canary.empty() && v.model == canary && m != nullptr && m->inactive > 0) {
      const auto reason = inactive_reason_name(m->last_inactive_reason);
      acting.push_back("Canary inactive: " + canary + " reports " +
                       (reason.empty() ? std::string("inactive") : std::string(reason)) + " (" +
                       std::to_string(m->inactive) + " of " + std::to_string(m->predictions) +
                       " predictions in the window)");
    }
    const std::size_t predictions = m != nullptr ? m->predictions : 0;
    if (!acting.empty()) {
      row.status = "NO-GO";
      row.reasons = std::move(acting);
    } else if (predictions < min_events) {
      row.status = "WAIT";
      row.reasons.push_back("only " + std::to_string(predictions) + " predictions (< " +
                            std::to_string(min_events) + ")");
    } else if (!v.pass) {
      row.status = "WAIT";
      row.reasons = v.failures();
    } else if (!telemetry_reasons.empty()) {
      row.status = "WAIT";
      row.reasons = telemetry_reasons;
    } else if (!ensemble_reasons.empty()) {
      row.status = "WAIT";
      row.reasons = ensemble_reasons;
    }
    any_no_go = any_no_go || row.status == "NO-GO";
    all_go = all_go && row.status == "GO";
    b.rows.push_back(std::move(row));
  }
  // A canary with no prediction in the window has no row of its own: the other models' GO says
  // nothing about it, so the board cannot be ALL-GO.
  if (!canary.empty() && b.find(canary) == nullptr) {
    b.rows.push_back({canary,
                      "WAIT",
                      {"no predictions of the canary " + canary +
                       " in the window: it is not judged; check that the engine runs it (not "
                       "shadow or fallback) and that it is in model_breakdown"}});
    all_go = false;
  }
  b.overall = any_no_go ? "NO-GO" : all_go ? "ALL-GO" : "WAIT";
  return b;
}

std::string scoreboard_markdown(const Scoreboard& b) {
  std::string md = "# QSC scoreboard\n\n";
  md += "- Overall: **" + b.overall + "**\n";
  md += "- Generated: " + format_iso(b.generated_ms) + "\n";
  md += "- Source: " + b.source + "\n";
  md += "- Configuration SHA-256: " + b.config_sha256 + "\n";
  if (!b.canary_model.empty()) md += "- Canary: " + b.canary_model + "\n";
  md += "- Events in window: " + std::to_string(b.window.events) + " (minimum per model " +
        std::to_string(b.min_events) + ")\n\n";
  md += "| model | status | reasons |\n|---|---|---|\n";
  for (const auto& r : b.rows) {
    const std::string reasons = join_reasons(r.reasons);
    md += "| " + r.model + (r.model == b.canary_model ? " (canary)" : "") + " | " + r.status +
          " | " + reasons + " |\n";
  }
  md += "\n## Ensemble\n\n" + ensemble_markdown(b.window.ensemble);
  md += "\n## Per model\n\n" + model_table_markdown(b.window.models);
  return md;
}

nlohmann::ordered_json scoreboard_json(const Scoreboard& b) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& r : b.rows) {
    const auto* m = b.window.find(r.model);
    auto stats = m != nullptr ? model_stats_json(*m) : nlohmann::ordered_json(nullptr);
    rows.push_back({{"model", r.model},
                    {"status", r.status},
                    {"reasons", r.reasons},
                    {"canary", r.model == b.canary_model},
                    {"stats", stats}});
  }
  return nlohmann::ordered_json{{"report", "scoreboard"},
                                {"overall", b.overall},
                                {"generated_at", format_iso(b.generated_ms)},
                                {"source", b.source},
                                {"config_sha256", b.config_sha256},
                                {"canary_model", b.canary_model},
                                {"events", b.window.events},
                                {"min_events", b.min_events},
                                {"ensemble", ensemble_json(b.window.ensemble)},
                                {"models", rows}};
}

Result<std::string> write_scoreboard(const Scoreboard& b, const std::string& reports_dir) {
  const auto dir = std::filesystem::path(reports_dir);
  const std::string json =
      scoreboard_json(b).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  const std::string md = scoreboard_markdown(b);
  const std::string html = scoreboard_html(b);
  // One directory fsync for the three renames, not one each: the monitor rewrites the board at
  // every check, and each directory fsync is a journal commit (docs/PERFORMANCE.md, "Session
  // 16: the worker's cost per check and per event (worker16)"). Each file is still replaced
  // atomically, its bytes synced before its rename.
  const std::array<qsc::FileToWrite, 3> files{{{"scoreboard_latest.json", json},
                                               {"scoreboard_latest.md", md},
                                               {"scoreboard_latest.html", html}}};
  if (auto s = agent::write_files_atomic(dir, files); !s) return s.error();
  return (dir / "scoreboard_latest.md").string();
}

}  // namespace qsc::agent
