// The current window, read once, judged by the gate's telemetry conditions.
#include "cli/current_window.hpp"

#include "lifecycle/gate.hpp"
#include "lifecycle/services.hpp"

namespace qsc::agent {

Result<CurrentWindow> read_current_window(const Config& config, TelemetrySource& source,
                                          const CanaryState& state) {
  CurrentWindow w;
  w.from_ms = state.active() ? state.weight_since_ms : 0;
  auto batch = source.range(w.from_ms, std::nullopt, config.telemetry.window_events);
  if (!batch) return batch.error();
  w.batch = std::move(*batch);
  w.newest_ms = newest_event_ms(w.batch.events);
  w.read_ms = now_ms();
  // The source answered just now, but that says nothing of the events' age (telemetry_stale
  // judges only the live canary): old, lost or unreadable telemetry is judged by the gate's own
  // conditions.
  w.unfit = telemetry_blockers({w.batch.counts, w.batch.events_lost, w.newest_ms, w.read_ms,
                                config.telemetry.stale_after, config.telemetry.max_rejected_pct},
                               "event in the window");
  return w;
}

Scoreboard judge_current_window(const Config& config, PluginHost& host, const std::string& source,
                                const CurrentWindow& window, const CanaryState& state) {
  const TelemetryBatch& batch = window.batch;
  TelemetryHealth telemetry;
  telemetry.source_ok = true;
  telemetry.seconds_since_last_event = seconds_since_newest(window.newest_ms, window.read_ms);
  telemetry.events_seen = batch.counts.accepted;
  telemetry.events_lost = batch.events_lost;
  telemetry.rejected = batch.counts.rejected_total();
  telemetry.rejected_pct = batch.counts.rejected_pct();
  return scoreboard_for(config, host, compute_window_stats(batch.events), telemetry, source,
                        state.active() ? state.model : "", window.unfit);
}

}  // namespace qsc::agent
