// The monitor worker's figures as one fixed-layout, trivially copyable record: what the worker
// publishes to its supervisor (metrics_block.hpp) and what the exported families are built from
// (metrics_families.hpp). Fixed arrays, no pointers, so it can live in shared memory; names
// longer than a slot are cut (plugin and detector names are short identifiers).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "qsc/parse.hpp"

namespace qsc::agent::metrics {

/// A name slot: NUL-terminated, at most kNameChars - 1 characters kept.
inline constexpr std::size_t kNameChars = 48;
inline constexpr std::size_t kMaxDetectors = 24;
inline constexpr std::size_t kMaxFiguresPerDetector = 8;
inline constexpr std::size_t kMaxPlugins = 40;

/// Upper bounds (seconds) of qsc_detection_latency_seconds: event-driven detection takes
/// milliseconds, staleness detection takes telemetry.stale_after (minutes by default).
inline constexpr std::array<double, 14> kLatencyBucketsSeconds{
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0};

struct FixedName {
  char text[kNameChars];
  void set(std::string_view value) noexcept;
  std::string_view view() const noexcept;
};

/// One measured figure of a detector and the thresholds it is judged against (a figure may have
/// a lower bound, an upper bound, both or none).
struct FigureSlot {
  FixedName name;
  double value;
  double min_threshold;
  double max_threshold;
  std::uint8_t has_min;
  std::uint8_t has_max;
};

struct DetectorSlot {
  FixedName name;
  std::uint8_t violation;  ///< 1: the last evaluation acts on it (violation or error)
  std::uint8_t figure_count;
  FigureSlot figures[kMaxFiguresPerDetector];
};

struct PluginSlot {
  FixedName name;
  FixedName kind;  ///< "detector", "action" or "" when unknown (rejected before it was read)
  std::uint8_t loaded;
};

struct MetricsSnapshot {
  /// Incremented at every publication; 0: the worker has published nothing yet.
  std::uint64_t publications;
  FixedName source;  ///< telemetry.source ("shm", "redis", "file")
  std::uint64_t events_accepted;
  std::uint64_t events_rejected[kRejectReasons];
  std::uint64_t events_lost;
  /// CLOCK_MONOTONIC (std::chrono::steady_clock on Linux, the same clock in every process) of
  /// the last accepted event, or of the monitor's start while none arrived: the age is measured
  /// by the reader at scrape time, so a worker that stops publishing shows telemetry ageing.
  std::int64_t last_arrival_monotonic_ns;
  std::uint64_t window_events;
  std::uint64_t checks_done;
  std::uint64_t checks_planned;  ///< the period's checks (checks_total in the state)
  std::uint64_t checks_missed;   ///< fell due while no monitor ran
  std::int64_t period_start_ms;  ///< epoch ms; 0 before a period started
  std::int64_t interval_ms;
  std::uint32_t detector_count;
  DetectorSlot detectors[kMaxDetectors];
  std::uint32_t plugin_count;
  PluginSlot plugins[kMaxPlugins];
  std::uint64_t rollbacks;  ///< rollbacks this worker ran (trigger below)
  FixedName rollback_trigger;
  std::uint64_t rollback_postcondition_failures;
  std::uint64_t latency_count;
  double latency_sum_seconds;
  std::uint64_t latency_buckets[kLatencyBucketsSeconds.size()];  ///< not cumulative
};
static_assert(std::is_trivially_copyable_v<MetricsSnapshot>);
static_assert(sizeof(MetricsSnapshot) % sizeof(std::uint64_t) == 0);

/// Adds one detection latency observation to the histogram fields.
void observe_latency(MetricsSnapshot& snapshot, double seconds) noexcept;

}  // namespace qsc::agent::metrics
