// The worker's metrics publisher.
#include "metrics/metrics_publisher.hpp"

#include <algorithm>

#include "metrics/detector_thresholds.hpp"

namespace qsc::agent::metrics {

MetricsPublisher::MetricsPublisher(MetricsBlock* block) : block_(block) {}

void MetricsPublisher::set_plugins(const std::vector<PluginRecord>& records) {
  effective_configs_.clear();
  known_thresholds_.clear();
  snapshot_.plugin_count = static_cast<std::uint32_t>(std::min(records.size(), kMaxPlugins));
  for (std::size_t i = 0; i < snapshot_.plugin_count; ++i) {
    auto& slot = snapshot_.plugins[i];
    slot.name.set(records[i].name);
    slot.kind.set(records[i].kind);
    slot.loaded = records[i].loaded() ? 1 : 0;
    if (records[i].loaded()) effective_configs_[records[i].name] = records[i].effective_config;
  }
}

void MetricsPublisher::set_telemetry(const qsc::ParseCounts& counts, std::uint64_t events_lost,
                                     std::chrono::steady_clock::time_point last_arrival,
                                     std::uint64_t window_events) noexcept {
  snapshot_.events_accepted = counts.accepted;
  for (std::size_t i = 0; i < kRejectReasons; ++i)
    snapshot_.events_rejected[i] = counts.rejected[i];
  snapshot_.events_lost = events_lost;
  snapshot_.last_arrival_monotonic_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(last_arrival.time_since_epoch()).count();
  snapshot_.window_events = window_events;
}

void MetricsPublisher::set_checks(std::uint64_t done, std::uint64_t planned, std::uint64_t missed,
                                  std::int64_t period_start_ms, std::int64_t interval_ms) noexcept {
  snapshot_.checks_done = done;
  snapshot_.checks_planned = planned;
  snapshot_.checks_missed = missed;
  snapshot_.period_start_ms = period_start_ms;
  snapshot_.interval_ms = interval_ms;
}

const FigureThresholds& MetricsPublisher::thresholds(std::size_t slot, const std::string& detector,
                                                     const std::string& figure,
                                                     const nlohmann::json& effective) {
  if (known_thresholds_.size() <= slot) known_thresholds_.resize(slot + 1);
  auto& known = known_thresholds_[slot];
  if (!known || known->detector != detector || known->figure != figure) {
    known = KnownThresholds{detector, figure, thresholds_for(detector, figure, effective)};
  }
  return known->bounds;
}

void MetricsPublisher::set_detectors(const std::vector<NamedCheck>& checks) {
  snapshot_.detector_count = static_cast<std::uint32_t>(std::min(checks.size(), kMaxDetectors));
  static const nlohmann::json kNone = nlohmann::json::object();
  for (std::size_t i = 0; i < snapshot_.detector_count; ++i) {
    const auto& check = checks[i];
    auto& slot = snapshot_.detectors[i];
    slot.name.set(check.detector);
    slot.violation = check.acts() ? 1 : 0;
    const auto cfg = effective_configs_.find(check.detector);
    const auto& effective = cfg == effective_configs_.end() ? kNone : cfg->second;
    slot.figure_count =
        static_cast<std::uint8_t>(std::min(check.result.figures.size(), kMaxFiguresPerDetector));
    for (std::size_t f = 0; f < slot.figure_count; ++f) {
      const auto& figure = check.result.figures[f];
      auto& out = slot.figures[f];
      out.name.set(figure.name);
      out.value = figure.value;
      const auto& bounds =
          thresholds(i * kMaxFiguresPerDetector + f, check.detector, figure.name, effective);
      out.has_min = bounds.min ? 1 : 0;
      out.min_threshold = bounds.min.value_or(0.0);
      out.has_max = bounds.max ? 1 : 0;
      out.max_threshold = bounds.max.value_or(0.0);
    }
  }
}

void MetricsPublisher::add_rollback(std::string_view trigger, bool postconditions_failed,
                                    std::optional<double> detection_latency_seconds) noexcept {
  ++snapshot_.rollbacks;
  snapshot_.rollback_trigger.set(trigger);
  if (postconditions_failed) ++snapshot_.rollback_postcondition_failures;
  if (detection_latency_seconds) observe_latency(snapshot_, *detection_latency_seconds);
}

void MetricsPublisher::publish() noexcept {
  ++snapshot_.publications;
  if (block_ != nullptr) block_->publish(snapshot_);
}

}  // namespace qsc::agent::metrics
