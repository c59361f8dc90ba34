// What the lifecycle commands print alike.
#include "cli/lifecycle_support.hpp"

#include <iostream>

namespace qsc::agent {

void print_outcomes(const std::vector<ActionOutcome>& outcomes) {
  for (const auto& o : outcomes) {
    std::cout << "  " << (o.ok ? "✅ " : "❌ ") << o.action << ": " << o.detail << "\n";
  }
}

}  // namespace qsc::agent
