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
};

}  // namespace qsc::agent::metrics
