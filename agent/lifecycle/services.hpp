// What the lifecycle commands and the monitor share: the cutover argument, the in-process gate,
// the plugin host as the lifecycle's action runner, the scoreboard with configured thresholds.
#pragma once

#include <memory>
#include <string>

#include "core/config.hpp"
#include "lifecycle/canary.hpp"
#include "lifecycle/gate.hpp"
#include "lifecycle/scoreboard.hpp"
#include "plugin_host/plugin_host.hpp"
#include "telemetry/source.hpp"

namespace qsc::agent {

/// Reads TS: ISO-8601, systemd's form, or "auto" (the unit's ActiveEnterTimestamp through
/// `systemctl show`). A future time is refused; errors show the accepted forms.
Result<EpochMs> resolve_cutover(const std::string& text, const Config& config);

/// Reads the post-cutover window (and the pre-cutover comparison) from the configured source
/// and judges it with the detectors `host` has loaded (their own plugins.config sections), as
/// the monitor does.
Result<GateReport> run_gate(const Config& config, PluginHost& host, TelemetrySource& source,
                            EpochMs cutover_ms);

/// The loaded detectors for a report: name -> {"scope", "config"}, in name order.
nlohmann::ordered_json loaded_detectors_json(const PluginHost& host);

/// Opens the plugin host and refuses to go on when its start-up status is not ok or a required
/// plugin (plugins.required) is not loaded. `refused`: files rejected unopened (see
/// PluginHost::open; open_probed_plugin_host in agent/supervisor/plugin_probe.hpp fills it).
/// `digests`: kCompute only where the libraries' digests are read (the monitor's period record).
Result<std::unique_ptr<PluginHost>> open_plugin_host(const Config& config, LibraryDigests digests,
                                                     RefusedFiles refused = {});

/// Each plugin of plugins.required that `host` has not loaded, one line each: its name and why
/// (the file's rejection reason, or that no file provides it). Empty when all are loaded.
std::vector<std::string> missing_required_plugins(const Config& config, const PluginHost& host);

/// The same as one error for a command that refuses to start: every missing plugin named with
/// its reason, and the fix. Ok when none is missing.
Status require_plugins(const Config& config, const PluginHost& host);

/// The lifecycle's action runner backed by a plugin host.
RunActions actions_of(PluginHost& host);

/// The scoreboard over a window's figures, judged by the detectors `host` has loaded (as the gate
/// judges). `telemetry` is handed to them as the monitor hands it; `telemetry_reasons` as
/// compute_scoreboard() takes them.
Scoreboard scoreboard_for(const Config& config, PluginHost& host, WindowStats window,
                          const TelemetryHealth& telemetry, const std::string& source,
                          const std::string& canary,
                          const std::vector<std::string>& telemetry_reasons = {});

}  // namespace qsc::agent
