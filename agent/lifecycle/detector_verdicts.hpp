// The loaded detectors as the gate and the scoreboard run them: each-model detectors on every
// model of a window, ensemble detectors once on it. The monitor runs the same plugins with the
// same plugins.config sections on the canary, so gate, scoreboard and monitor judge alike by
// construction (docs/design.md, "The gate").
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "plugin_host/plugin_host.hpp"
#include "qsc/checks.hpp"
#include "qsc/detector.hpp"
#include "qsc/stats.hpp"

namespace qsc::agent {

/// Runs the loaded detectors of one scope over one input, in name order.
using RunDetectors =
    std::function<std::vector<NamedCheck>(const CheckInput& input, DetectorScope scope)>;

/// The detectors loaded by `host` (PluginHost::check_scope). `host` must outlive the result.
RunDetectors detectors_of(PluginHost& host);

/// What the detectors said about one window.
struct DetectorVerdicts {
  /// One per model of the window, in its order; each check is named by its detector.
  std::vector<GateModelVerdict> models;
  std::vector<NamedCheck> ensemble;  ///< the ensemble detectors, once over the window
};

/// Runs the kEachModel detectors with each model of `window` as CheckInput::canary and the
/// kEnsemble ones once, handing each `telemetry` and `min_events` as the monitor does. A model
/// passes only when every check says pass (too little data is not a pass). A model that no
/// detector judged fails with a check named "detectors" saying so: an empty plugin set must not
/// read as healthy.
DetectorVerdicts judge_window(const RunDetectors& run, const WindowStats& window,
                              const TelemetryHealth& telemetry, std::size_t min_events);

}  // namespace qsc::agent
