// The window `qsc scoreboard` judges and `qsc state` reports on, read once, with the gate's own
// telemetry conditions applied to it, so neither command can call telemetry healthy that the gate
// would fail.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/timestamp.hpp"
#include "lifecycle/scoreboard.hpp"
#include "lifecycle/state.hpp"
#include "qsc/result.hpp"
#include "telemetry/source.hpp"

namespace qsc::agent {

class PluginHost;

/// The current window and why its telemetry cannot be judged.
struct CurrentWindow {
  EpochMs from_ms = 0;  ///< the canary's weight_since_ms when one is active, else 0
  TelemetryBatch batch;
  std::optional<EpochMs> newest_ms;  ///< newest_event_ms() of the window's events
  EpochMs read_ms = 0;               ///< when it was read (the staleness clock)
  /// telemetry_blockers() of the window: unreadable share, loss, a newest event older than
  /// telemetry.stale_after.
  std::vector<std::string> unfit;
};

/// The scoreboard of `window`, as `qsc scoreboard` judges it: by the detectors `host` has loaded,
/// handed the window's telemetry (age, loss, unreadable share), every would-be GO a WAIT while
/// `window.unfit` names a reason. `source` describes where the window was read.
Scoreboard judge_current_window(const Config& config, PluginHost& host, const std::string& source,
                                const CurrentWindow& window, const CanaryState& state);

/// The events since the active canary's current weight took effect (a promotion starts a new
/// window, as in the monitor), else the newest telemetry.window_events events.
Result<CurrentWindow> read_current_window(const Config& config, TelemetrySource& source,
                                          const CanaryState& state);

}  // namespace qsc::agent
