// `qsc demo`: the whole product on one machine, no server: a synthetic engine publishes into the
// shared-memory ring, then gate, activation, monitoring, detection and rollback run for real.
#pragma once

#include <chrono>
#include <string>

namespace qsc::agent {

/// Options of the demo.
struct DemoOptions {
  std::string dir = "qsc-demo";                ///< everything is written under it
  std::string scenario = "collapse";           ///< "collapse" or "healthy"
  std::chrono::milliseconds duration{20'000};  ///< the monitoring period
  std::chrono::milliseconds interval{1'000};
  std::chrono::milliseconds collapse_after{3'000};  ///< from the start of monitoring
  double events_per_second = 2000.0;
};

/// Runs the demo; 0 when it showed what it should (a rollback for "collapse", a clean
/// completion for "healthy"), 2 otherwise.
int run_demo(const DemoOptions& options);

}  // namespace qsc::agent
