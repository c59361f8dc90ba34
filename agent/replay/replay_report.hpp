// What `qsc replay` prints (the timeline) and writes with --json OUT (the same figures).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "replay/replay.hpp"

namespace qsc::agent {

/// The replay's exit code: 0 clean, 1 would have rolled back, 3 inconclusive.
int replay_exit_code(const ReplayResult& result) noexcept;

/// The timeline: the period, each check's status, each detector's first violation, the event at
/// which the monitor would have rolled back with its messages, the verdict and the scoreboard.
/// `detectors` are the loaded detectors' names.
std::string replay_text(const ReplayResult& result, const std::vector<std::string>& detectors);

/// The same figures as JSON ("report": "replay").
nlohmann::ordered_json replay_json(const ReplayResult& result,
                                   const std::vector<std::string>& detectors,
                                   const std::string& config_sha256);

}  // namespace qsc::agent
