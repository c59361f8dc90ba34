// Building the exported families.
#include "metrics/metrics_families.hpp"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <limits>

#include "lifecycle/state.hpp"
#include "qsc/version.hpp"

#ifndef QSC_VERSION
#define QSC_VERSION "unknown"
#endif

namespace qsc::agent::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// The triggers a rollback can have; each is exported from 0 so increase() sees the first one.
const std::vector<std::string> kRollbackTriggers{
    "qsc_monitor_violation", "qsc_monitor_worker_failed", "qsc_monitor_crash_loop"};

const std::vector<Phase> kPhases{Phase::kIdle,      Phase::kCanaryActive,      Phase::kMonitoring,
                                 Phase::kCompleted, Phase::kRolledBack,        Phase::kPromoted,
                                 Phase::kFinalized, Phase::kRollbackIncomplete};

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void add(MetricFamily& f, double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
}

std::string str(const FixedName& n) {
  return std::string(n.view());
}

double d(std::uint64_t v) {
  return static_cast<double>(v);
}

}  // namespace

double telemetry_age_seconds(const MetricsSnapshot& worker, std::int64_t now_ns,
                             std::int64_t since_ns) noexcept {
  const std::int64_t from = worker.publications > 0 && worker.last_arrival_monotonic_ns > 0
                                ? worker.last_arrival_monotonic_ns
                                : since_ns;
  return static_cast<double>(std::max<std::int64_t>(0, now_ns - from)) / 1e9;
}

std::uint64_t checks_due(const MetricsSnapshot& worker, std::int64_t now_ms) noexcept {
  if (worker.period_start_ms <= 0 || worker.interval_ms <= 0 || now_ms <= worker.period_start_ms) {
    return 0;
  }
  const auto elapsed =
      static_cast<std::uint64_t>((now_ms - worker.period_start_ms) / worker.interval_ms);
  return std::min(elapsed, worker.checks_planned);
}

std::vector<MetricFamily> build_families(const MetricsView& view) {
  const auto& w = view.worker;
  std::vector<MetricFamily> out;

  auto events =
      family("qsc_events_total", "Telemetry events accepted, by source", MetricType::Counter);
  add(events, d(w.events_accepted), {{"source", w.source.view().empty() ? "none" : str(w.source)}});
  out.push_back(std::move(events));

  auto rejected = family("qsc_events_rejected_total",
                         "Telemetry entries refused as unreadable, by reason", MetricType::Counter);
  for (std::size_t i = 0; i < kRejectReasons; ++i) {
    add(rejected, d(w.events_rejected[i]),
        {{"reason", std::string(qsc::reject_reason_name(static_cast<qsc::RejectReason>(i)))}});
  }
  out.push_back(std::move(rejected));

  auto lost = family("qsc_events_lost_total",
                     "Telemetry events lost before the agent read them (ring overrun, stream gap)",
                     MetricType::Counter);
  add(lost, d(w.events_lost));
  out.push_back(std::move(lost));

  auto age = family("qsc_telemetry_age_seconds",
                    "Seconds since the last accepted event arrived (agent's monotonic clock)",
                    MetricType::Gauge);
  add(age, view.telemetry_age_seconds);
  out.push_back(std::move(age));

  auto window =
      family("qsc_window_events", "Events in the monitor's sliding window", MetricType::Gauge);
  add(window, d(w.window_events));
  out.push_back(std::move(window));

  auto violation = family("qsc_detector_violation",
                          "1 when the detector's last evaluation is a violation (or an error)",
                          MetricType::Gauge);
  auto figure = family("qsc_detector_figure",
                       "The figure a detector measured at its last evaluation", MetricType::Gauge);
  auto threshold = family("qsc_detector_threshold",
                          "The threshold a figure is judged against (bound=min: a violation below "
                          "it, bound=max: above it)",
                          MetricType::Gauge);
  for (std::uint32_t i = 0; i < std::min<std::uint32_t>(w.detector_count, kMaxDetectors); ++i) {
    const auto& det = w.detectors[i];
    const auto name = str(det.name);
    add(violation, det.violation != 0 ? 1.0 : 0.0, {{"detector", name}});
    for (std::uint8_t f = 0; f < std::min<std::size_t>(det.figure_count, kMaxFiguresPerDetector);
         ++f) {
      const auto& fig = det.figures[f];
      const auto fig_name = str(fig.name);
      add(figure, fig.value, {{"detector", name}, {"figure", fig_name}});
      if (fig.has_min != 0) {
        add(threshold, fig.min_threshold,
            {{"bound", "min"}, {"detector", name}, {"figure", fig_name}});
      }
      if (fig.has_max != 0) {
        add(threshold, fig.max_threshold,
            {{"bound", "max"}, {"detector", name}, {"figure", fig_name}});
      }
    }
  }
  out.push_back(std::move(violation));
  out.push_back(std::move(figure));
  out.push_back(std::move(threshold));

  auto checks =
      family("qsc_checks_total", "Interval checks done in the current period", MetricType::Counter);
  add(checks, d(w.checks_done));
  out.push_back(std::move(checks));
  auto due =
      family("qsc_checks_due",
             "Interval checks fallen due so far in the current period (done + missed + late)",
             MetricType::Gauge);
  add(due, d(view.checks_due));
  out.push_back(std::move(due));
  auto planned = family("qsc_checks_planned", "Interval checks planned for the current period",
                        MetricType::Gauge);
  add(planned, d(w.checks_planned));
  out.push_back(std::move(planned));

  std::map<std::string, std::uint64_t> rollbacks;
  for (const auto& t : kRollbackTriggers) rollbacks[t] = 0;
  if (w.rollbacks > 0) {
    rollbacks[w.rollback_trigger.view().empty() ? "unknown" : str(w.rollback_trigger)] +=
        w.rollbacks;
  }
  for (const auto& [t, n] : view.supervisor_rollbacks) rollbacks[t] += n;
  auto rb = family("qsc_rollbacks_total", "Rollbacks run, by trigger", MetricType::Counter);
  for (const auto& [t, n] : rollbacks) add(rb, d(n), {{"trigger", t}});
  out.push_back(std::move(rb));

  auto pf = family("qsc_rollback_postcondition_failures_total",
                   "Rollbacks whose postconditions did not hold (ROLLBACK INCOMPLETE)",
                   MetricType::Counter);
  add(pf, d(w.rollback_postcondition_failures + view.supervisor_postcondition_failures));
  out.push_back(std::move(pf));

  auto latency = family("qsc_detection_latency_seconds",
                        "From the triggering event's timestamp to the violation's detection",
                        MetricType::Histogram);
  {
    ClientMetric m;
    m.histogram.sample_count = w.latency_count;
    m.histogram.sample_sum = w.latency_sum_seconds;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kLatencyBucketsSeconds.size(); ++i) {
      cumulative += w.latency_buckets[i];
      m.histogram.bucket.push_back({cumulative, kLatencyBucketsSeconds[i]});
    }
    m.histogram.bucket.push_back({w.latency_count, std::numeric_limits<double>::infinity()});
    latency.metric.push_back(std::move(m));
  }
  out.push_back(std::move(latency));

  auto weight = family("qsc_canary_weight", "The canary's weight in the ensemble (0 to 1)",
                       MetricType::Gauge);
  auto phase = family("qsc_canary_phase", "The canary's phase in the state file (one-hot)",
                      MetricType::Gauge);
  if (view.canary) {
    if (!view.canary->model.empty())
      add(weight, view.canary->weight, {{"model", view.canary->model}});
    for (const auto p : kPhases) {
      add(phase, phase_name(p) == view.canary->phase ? 1.0 : 0.0, {{"phase", phase_name(p)}});
    }
  }
  out.push_back(std::move(weight));
  out.push_back(std::move(phase));

  auto plugins = family("qsc_plugin_loaded",
                        "1 for a plugin in use, 0 for a file of the plugin directory refused",
                        MetricType::Gauge);
  for (std::uint32_t i = 0; i < std::min<std::uint32_t>(w.plugin_count, kMaxPlugins); ++i) {
    const auto& p = w.plugins[i];
    add(plugins, p.loaded != 0 ? 1.0 : 0.0,
        {{"kind", p.kind.view().empty() ? "unknown" : str(p.kind)}, {"plugin", str(p.name)}});
  }
  out.push_back(std::move(plugins));

  auto restarts = family("qsc_worker_restarts_total",
                         "Unclean ends of the monitor (killed, crashed) for the current canary",
                         MetricType::Counter);
  add(restarts, d(view.worker_restarts));
  out.push_back(std::move(restarts));

  auto build = family("qsc_build_info", "The qsc build: version and plugin ABI", MetricType::Gauge);
  add(build, 1.0,
      {{"abi", std::to_string(qsc::kAbiMajor) + "." + std::to_string(qsc::kAbiMinor)},
       {"version", QSC_VERSION}});
  out.push_back(std::move(build));

  // A family with no sample is legal but tells nothing; promtool and Prometheus accept it, and
  // the dashboard expects the names, so empty families are kept.
  return out;
}

std::string render_text(const MetricsView& view) {
  return prometheus::TextSerializer().Serialize(build_families(view));
}

std::vector<std::string> exported_series_names() {
  std::vector<std::string> names;
  for (const auto& f : build_families(MetricsView{})) {
    if (f.type == MetricType::Histogram) {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) names.push_back(f.name + suffix);
    } else {
      names.push_back(f.name);
    }
  }
  return names;
}

}  // namespace qsc::agent::metrics
