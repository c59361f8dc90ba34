// The monitor (runbook step 4): watch the canary's window as events arrive, act on the first
// violation at once, check in every interval, and end the period safe, inconclusive or rolled
// back.
#pragma once

#include <chrono>
#include <optional>

#include "core/config.hpp"

namespace qsc::agent {

class HeartbeatBlock;
namespace metrics {
class MetricsPublisher;
}

/// Options of one monitor run.
struct MonitorOptions {
  std::optional<std::chrono::milliseconds> duration;  ///< default canary.duration
  std::optional<std::chrono::milliseconds> interval;  ///< default canary.interval
  /// Minimum gap between two event-driven evaluations, so a burst of events is judged once,
  /// not once per event.
  std::chrono::milliseconds min_evaluation_gap{2};
  /// Longest time between evaluations when no event arrives, so silence is noticed.
  std::chrono::milliseconds idle_evaluation{1000};
  /// Set when this monitor is the supervised worker (agent/supervisor/): it beats there, and
  /// a plugin that fails as it loads ends it with kWorkerPluginFailedExit.
  HeartbeatBlock* heartbeat = nullptr;
  /// Set when the supervisor serves /metrics: the figures are published there once per
  /// evaluation and check (agent/metrics/).
  metrics::MetricsPublisher* metrics = nullptr;
};

/// Runs the monitor; returns docs/design.md's exit code: 0 clean, 1 violation rolled back, 2 error
/// or interrupted, 3 inconclusive.
int run_monitor(const Config& config, const MonitorOptions& options);

}  // namespace qsc::agent
