// Pieces of the runbook's console blocks that every command prints alike (activation, manual and
// automatic rollback, the monitor, replay), so that they look the same wherever they come from.
#pragma once

#include <string>
#include <vector>

#include "qsc/percent_text.hpp"

namespace qsc::agent {

/// The rule above and below each block: a line of 80 '='.
inline constexpr const char* kRule =
    "================================================================================";

/// A verdict's reasons on one line, separated by "; " (violations, rollback steps, scoreboard
/// reasons, the checks that could not judge).
inline std::string join_reasons(const std::vector<std::string>& reasons) {
  std::string out;
  for (const auto& r : reasons) out += (out.empty() ? "" : "; ") + r;
  return out;
}

}  // namespace qsc::agent
