// What `qsc replay` prints and writes.
#include "replay/replay_report.hpp"

#include <cmath>
#include <cstdio>

#include "core/console_text.hpp"
#include "core/duration.hpp"
#include "lifecycle/report_format.hpp"

namespace qsc::agent {
namespace {

const char* outcome_name(ReplayOutcome outcome) {
  switch (outcome) {
    case ReplayOutcome::kClean:
      return "clean";
    case ReplayOutcome::kRolledBack:
      return "rolled_back";
    case ReplayOutcome::kInconclusive:
      return "inconclusive";
  }
  return "inconclusive";
}

std::string where(const ReplayFinding& f) {
  std::string text = std::string("on ") + replay_cause_name(f.cause) + " at " + format_iso(f.at_ms);
  if (f.event_id.empty()) return text + " (no event accepted yet)";
  return text + ", event #" + std::to_string(f.event_index) + " (" + f.event_id + ", " +
         format_iso(f.event_ms) + ", line " + std::to_string(f.line) + ")";
}

// detector -> figure -> {value, min, max}; a NaN value is written as null.
nlohmann::ordered_json figures_json(const std::vector<ReplayFigure>& figures) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& f : figures) {
    nlohmann::ordered_json j{{"value", std::isfinite(f.value) ? nlohmann::ordered_json(f.value)
                                                              : nlohmann::ordered_json(nullptr)}};
    if (f.min_threshold) j["min"] = *f.min_threshold;
    if (f.max_threshold) j["max"] = *f.max_threshold;
    out[f.detector][f.figure] = std::move(j);
  }
  return out;
}

nlohmann::ordered_json finding_json(const ReplayFinding& f) {
  nlohmann::ordered_json j{
      {"cause", replay_cause_name(f.cause)}, {"at", format_iso(f.at_ms)}, {"at_ms", f.at_ms}};
  if (f.event_id.empty()) {
    j["trigger_event"] = nullptr;
  } else {
    j["trigger_event"] = f.event_id;
    j["trigger_event_ms"] = f.event_ms;
    j["event_index"] = f.event_index;
    j["line"] = f.line;
  }
  j["detectors"] = f.detectors;
  j["violations"] = f.messages;
  return j;
}

double entries_per_second(const ReplayResult& r) {
  return r.replay_seconds > 0 ? static_cast<double>(r.lines) / r.replay_seconds : 0.0;
}

double entries_per_cpu_second(const ReplayResult& r) {
  return r.replay_cpu_seconds > 0 ? static_cast<double>(r.lines) / r.replay_cpu_seconds : 0.0;
}

}  // namespace

int replay_exit_code(const ReplayResult& result) noexcept {
  return static_cast<int>(result.outcome);
}

std::string replay_text(const ReplayResult& r, const std::vector<std::string>& detectors) {
  std::string out;
  const auto line = [&out](const std::string& text) { out += text + "\n"; };
  const std::chrono::milliseconds period(r.period_end_ms - r.period_start_ms);
  line(kRule);
  line("QSC REPLAY - " + r.model + " over " + r.file);
  line(kRule);
  line("  Period:     " + format_iso(r.period_start_ms) + " to " + format_iso(r.period_end_ms) +
       " (" + format_duration(period) + ", " + std::to_string(r.checks_total) + " checks every " +
       format_duration(r.interval) + ", event time)");
  std::string names;
  for (const auto& d : detectors) names += (names.empty() ? "" : ", ") + d;
  line("  Detectors:  " + std::to_string(detectors.size()) + " loaded: " + names);
  const auto& c = r.counts;
  line("  Recording:  " + std::to_string(r.lines) + " entries; in the period " +
       std::to_string(c.accepted) + " trade.intent, " + std::to_string(c.skipped) + " skipped, " +
       std::to_string(c.rejected_total()) + " rejected; " +
       std::to_string(r.entries_before_period) + " before the period" +
       (r.entries_out_of_order > 0
            ? "; " + std::to_string(r.entries_out_of_order) + " not in stream order (not replayed)"
            : std::string()) +
       (r.entries_after_period > 0 ? "; reaches past its end" : "; ends before its end"));
  for (const auto& rej : r.rejections) line("    " + rej.message);
  line("");
  line("Timeline:");
  for (const auto& check : r.checks) {
    std::string text = "  [Check " + std::to_string(check.number) + "/" +
                       std::to_string(r.checks_total) + "] " + format_iso(check.at_ms) +
                       "  Status: " + check.status;
    if (check.after_rollback) text += "  (after the rollback: the monitor would have stopped)";
    line(text);
  }
  if (r.checks.empty()) line("  (no check fell due)");
  line("");
  line("First violation of each detector:");
  if (r.first_violations.empty()) line("  none");
  for (const auto& f : r.first_violations) {
    line("  " + f.detector + ": " + where(f.finding));
    line("    " + f.finding.messages.front());
  }
  line("");
  line(kRule);
  switch (r.outcome) {
    case ReplayOutcome::kRolledBack:
      line("🚨 WOULD HAVE ROLLED BACK");
      line(kRule);
      line("Trigger:      " + where(*r.rollback));
      line("Violations:");
      for (const auto& m : r.rollback->messages) line("  ❌ " + m);
      break;
    case ReplayOutcome::kClean:
      line("✅ WOULD HAVE COMPLETED CLEAN - NO VIOLATIONS");
      line(kRule);
      line("Checks:       " + std::to_string(r.checks.size()) + " of " +
           std::to_string(r.checks_total) + ", all without a violation");
      break;
    case ReplayOutcome::kInconclusive:
      line("⚠️  INCONCLUSIVE");
      line(kRule);
      line("Why:          " + r.inconclusive_reason);
      break;
  }
  line("");
  line("Scoreboard at the end:");
  line(scoreboard_markdown(r.scoreboard));
  char speed[192];
  std::snprintf(speed, sizeof speed,
                "Replayed %llu entries (%llu evaluations) in %.3f s (%.3f s CPU): %.0f entries "
                "per CPU second",
                static_cast<unsigned long long>(r.lines),
                static_cast<unsigned long long>(r.evaluations), r.replay_seconds,
                r.replay_cpu_seconds, entries_per_cpu_second(r));
  line(speed);
  line("Nothing was written: weights, state, audit log and reports are as they were.");
  return out;
}

nlohmann::ordered_json replay_json(const ReplayResult& r, const std::vector<std::string>& detectors,
                                   const std::string& config_sha256) {
  nlohmann::ordered_json checks = nlohmann::ordered_json::array();
  for (const auto& c : r.checks) {
    checks.push_back({{"check", c.number},
                      {"at", format_iso(c.at_ms)},
                      {"status", c.status},
                      {"violations", c.violations},
                      {"after_rollback", c.after_rollback},
                      {"figures", figures_json(c.figures)}});
  }
  nlohmann::ordered_json firsts = nlohmann::ordered_json::array();
  for (const auto& f : r.first_violations) {
    auto j = finding_json(f.finding);
    j["detector"] = f.detector;
    firsts.push_back(std::move(j));
  }
  return nlohmann::ordered_json{
      {"report", "replay"},
      {"file", r.file},
      {"canary_model", r.model},
      {"config_sha256", config_sha256},
      {"detectors", detectors},
      {"period_start", format_iso(r.period_start_ms)},
      {"period_end", format_iso(r.period_end_ms)},
      {"interval_s", std::chrono::duration<double>(r.interval).count()},
      {"checks_total", r.checks_total},
      {"outcome", outcome_name(r.outcome)},
      {"exit_code", replay_exit_code(r)},
      {"inconclusive_reason", r.inconclusive_reason},
      {"rollback", r.rollback ? finding_json(*r.rollback) : nlohmann::ordered_json(nullptr)},
      {"rollback_figures",
       r.rollback ? figures_json(r.rollback->figures) : nlohmann::ordered_json(nullptr)},
      {"first_violations", firsts},
      {"checks", checks},
      {"entries", r.lines},
      {"entries_before_period", r.entries_before_period},
      {"entries_out_of_order", r.entries_out_of_order},
      {"reaches_period_end", r.entries_after_period > 0},
      {"counts", parse_counts_json(r.counts, 0)},
      {"evaluations", r.evaluations},
      {"canary_predictions", r.canary_predictions},
      {"scoreboard", scoreboard_json(r.scoreboard)},
      {"replay_seconds", r.replay_seconds},
      {"entries_per_second", entries_per_second(r)},
      {"replay_cpu_seconds", r.replay_cpu_seconds},
      {"entries_per_cpu_second", entries_per_cpu_second(r)}};
}

}  // namespace qsc::agent
