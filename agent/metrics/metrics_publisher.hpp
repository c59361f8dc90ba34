// The worker's side of /metrics: keeps the monitor's figures in a MetricsSnapshot and publishes
// it to the supervisor's block. The monitor calls the setters with what it already holds and
// publish() once per evaluation or check (never per event), so the hot path pays one copy of a
// ~20 KiB record at most every telemetry evaluation.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/detector_thresholds.hpp"
#include "metrics/metrics_block.hpp"
#include "metrics/metrics_snapshot.hpp"
#include "plugin_host/plugin_host.hpp"
#include "qsc/parse.hpp"

namespace qsc::agent::metrics {

class MetricsPublisher {
 public:
  /// `block`: where publish() writes; nullptr keeps the figures here only (`qsc replay` builds
  /// its MetricsView from snapshot() and writes it with write_textfile()).
  explicit MetricsPublisher(MetricsBlock* block);

  void set_source(std::string_view kind) noexcept { snapshot_.source.set(kind); }
  /// The plugin directory's records (loaded and rejected) and the detectors' thresholds.
  void set_plugins(const std::vector<PluginRecord>& records);
  void set_telemetry(const qsc::ParseCounts& counts, std::uint64_t events_lost,
                     std::chrono::steady_clock::time_point last_arrival,
                     std::uint64_t window_events) noexcept;
  void set_checks(std::uint64_t done, std::uint64_t planned, std::uint64_t missed,
                  std::int64_t period_start_ms, std::int64_t interval_ms) noexcept;
  /// The last evaluation's results.
  void set_detectors(const std::vector<NamedCheck>& checks);
  /// A rollback this worker ran; `postconditions_failed` when it ended ROLLBACK INCOMPLETE.
  void add_rollback(std::string_view trigger, bool postconditions_failed,
                    std::optional<double> detection_latency_seconds) noexcept;
  void publish() noexcept;

  const MetricsSnapshot& snapshot() const noexcept { return snapshot_; }

 private:
  MetricsBlock* block_;
  MetricsSnapshot snapshot_{};
  std::map<std::string, nlohmann::json, std::less<>> effective_configs_;
  // The thresholds set_detectors found for each figure slot (detector i, figure f at
  // i * kMaxFiguresPerDetector + f), reused while the slot names the same detector and figure:
  // they depend only on those names and the detector's effective configuration, which only
  // set_plugins changes (it clears them). thresholds_for scans its table comparing names: at
  // every publication it was 1-1.5% of the monitor's worker (perf, session 17).
  struct KnownThresholds {
    std::string detector;
    std::string figure;
    FigureThresholds bounds;
  };
  std::vector<std::optional<KnownThresholds>> known_thresholds_;
  const FigureThresholds& thresholds(std::size_t slot, const std::string& detector,
                                     const std::string& figure, const nlohmann::json& effective);
};

}  // namespace qsc::agent::metrics
