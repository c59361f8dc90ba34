// Pieces of the runbook's console blocks that every command prints alike (activation, manual and
// automatic rollback, the monitor, replay), so that they look the same wherever they come from.
#pragma once

#include "qsc/percent_text.hpp"

namespace qsc::agent {

/// The rule above and below each block: a line of 80 '='.
inline constexpr const char* kRule =
    "================================================================================";

}  // namespace qsc::agent
