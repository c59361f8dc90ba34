// What the lifecycle commands print alike: the runbook's rule and the actions' outcomes.
#pragma once

#include <vector>

#include "lifecycle/services.hpp"
#include "qsc/action.hpp"

namespace qsc::agent {

/// A line of 80 '='.
inline constexpr const char* kRule =
    "================================================================================";

/// Prints each action's outcome, one line each.
void print_outcomes(const std::vector<ActionOutcome>& outcomes);

}  // namespace qsc::agent
