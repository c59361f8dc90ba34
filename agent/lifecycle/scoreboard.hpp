// The scoreboard: GO / WAIT / NO-GO per model and overall (docs/design.md), rewritten at every
// check.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/timestamp.hpp"
#include "lifecycle/detector_verdicts.hpp"
#include "qsc/stats.hpp"

namespace qsc::agent {

/// One model's status on the scoreboard.
struct ScoreboardRow {
  std::string model;
  std::string status;                ///< "GO", "WAIT" or "NO-GO"
  std::vector<std::string> reasons;  ///< why not GO
};

/// The scoreboard.
struct Scoreboard {
  EpochMs generated_ms = 0;
  std::string source;
  std::string canary_model;   ///< empty when no canary is active
  std::string config_sha256;  ///< the effective configuration's digest (Config::sha256)
  std::size_t min_events = 200;
  WindowStats window;
  std::vector<ScoreboardRow> rows;
  std::string overall;  ///< "ALL-GO", "WAIT" or "NO-GO"

  /// The row of one model, or nullptr.
  const ScoreboardRow* find(const std::string& model) const;
};

/// From the loaded detectors' verdicts on `window` (judge_window, as the gate judges): GO when
/// every each-model detector passes the model and every ensemble detector passes; NO-GO when an
/// each-model detector reports a violation or an error; WAIT otherwise: fewer than min_events
/// predictions, a detector with too little data, or an ensemble detector not passing (never
/// healthy on too little data). Overall: NO-GO if any is, ALL-GO if all are GO (and there is at
/// least one model), else WAIT. A `canary` (empty when none is active) without predictions in
/// the window gets a WAIT row of its own, so the board is never ALL-GO without it. Non-empty
/// `telemetry_reasons` (telemetry_blockers() of a one-shot read) make every model that would be
/// GO a WAIT with them: old, lost or unreadable telemetry is never GO.
Scoreboard compute_scoreboard(WindowStats window, const DetectorVerdicts& verdicts,
                              std::size_t min_events, const std::string& canary,
                              const std::vector<std::string>& telemetry_reasons = {});

/// The scoreboard as the JSON document scoreboard_latest.json holds.
nlohmann::ordered_json scoreboard_json(const Scoreboard& board);

/// Writes scoreboard_latest.md, .json and .html into `reports_dir` atomically; returns the .md
/// path.
Result<std::string> write_scoreboard(const Scoreboard& board, const std::string& reports_dir);

/// The scoreboard as Markdown (what `qsc scoreboard` prints and the .md holds).
std::string scoreboard_markdown(const Scoreboard& board);

}  // namespace qsc::agent
