// The exported families (issue 18's list, Prometheus naming: units in the names, _total on
// counters), built from the worker's snapshot plus what only the supervisor or the state file
// knows. The same builder feeds the /metrics endpoint and the node_exporter textfile
// (metrics_textfile.hpp), so both always carry the same families.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <prometheus/metric_family.h>

#include "metrics/metrics_snapshot.hpp"

namespace qsc::agent::metrics {

/// The canary as the state file records it.
struct CanaryFigures {
  std::string phase;  ///< phase_name(): "idle", "monitoring", "rolled_back", ...
  std::string model;  ///< empty when no canary is recorded
  double weight = 0.0;
};

/// Everything one rendering shows.
struct MetricsView {
  MetricsSnapshot worker{};  ///< all zero when the worker has published nothing
  /// Seconds since the last accepted event (see telemetry_age_seconds()).
  double telemetry_age_seconds = 0.0;
  std::uint64_t checks_due = 0;
  std::optional<CanaryFigures> canary;  ///< nullopt when the state cannot be read
  /// Rollbacks run by the supervisor itself (trigger -> count), added to the worker's.
  std::map<std::string, std::uint64_t> supervisor_rollbacks;
  std::uint64_t supervisor_postcondition_failures = 0;
  /// Unclean ends of the monitor for the current canary (the crash-loop count in the state).
  std::uint64_t worker_restarts = 0;
};

/// Seconds from the worker's last arrival (or, before the worker published, from `since_ns`,
/// when the monitor started) to `now_ns`, all CLOCK_MONOTONIC. Never reads younger than the
/// truth: a worker that stopped publishing shows its telemetry ageing.
double telemetry_age_seconds(const MetricsSnapshot& worker, std::int64_t now_ns,
                             std::int64_t since_ns) noexcept;

/// Checks that have fallen due by `now_ms` (epoch) in the worker's period: due minus done is
/// what was missed or is late.
std::uint64_t checks_due(const MetricsSnapshot& worker, std::int64_t now_ms) noexcept;

/// The families, in a fixed order.
std::vector<prometheus::MetricFamily> build_families(const MetricsView& view);

/// The Prometheus text exposition of build_families(view).
std::string render_text(const MetricsView& view);

/// Every family name build_families() exports (with a histogram's _bucket/_sum/_count).
std::vector<std::string> exported_series_names();

}  // namespace qsc::agent::metrics
