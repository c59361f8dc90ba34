// Shares as the agent's console blocks and the notify action's messages print them, one decimal
// and '%', so that an operator reads the same figure in a terminal and in a page.
#pragma once

#include <cstdio>
#include <string>

namespace qsc {

/// A percentage (0 to 100) as text: "1.5%".
inline std::string percent_text(double percent) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", percent);
  return buf;
}

/// A weight (a share from 0 to 1) as a percentage: 0.1 -> "10.0%".
inline std::string weight_percent(double weight) {
  return percent_text(weight * 100.0);
}

}  // namespace qsc
