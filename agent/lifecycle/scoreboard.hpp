// The scoreboard: GO / WAIT / NO-GO per model and overall (docs/design.md), rewritten at every
// check.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/timestamp.hpp"
#include "qsc/gate_config.hpp"
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

/// GO: passes the gate checks and the ensemble is within range (agreement and hard disagree);
/// WAIT: passes, but ensemble figures are missing or out of range, or fewer than min_events
/// predictions (never healthy on too little data); NO-GO: fails a gate check. Overall: NO-GO if
/// any is, ALL-GO if all are GO (and there is at least one model), else WAIT.
Scoreboard compute_scoreboard(WindowStats window, const GateThresholds& gate,
                              const EnsembleThresholds& ensemble, std::size_t min_events);

/// The scoreboard as the JSON document scoreboard_latest.json holds.
nlohmann::ordered_json scoreboard_json(const Scoreboard& board);

/// Writes scoreboard_latest.md, .json and .html into `reports_dir` atomically; returns the .md
/// path.
Result<std::string> write_scoreboard(const Scoreboard& board, const std::string& reports_dir);

/// The scoreboard as Markdown (what `qsc scoreboard` prints and the .md holds).
std::string scoreboard_markdown(const Scoreboard& board);

}  // namespace qsc::agent
