// The supervisor's metrics endpoint.
#include "metrics/metrics_endpoint.hpp"

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "core/duration.hpp"
#include "core/listen_address.hpp"
#include "core/timestamp.hpp"
#include "lifecycle/state.hpp"
#include "metrics/metrics_families.hpp"
#include "metrics/supervisor_counters.hpp"
#include "monitor/signals.hpp"

namespace qsc::agent::metrics {
namespace {

std::int64_t monotonic_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Renders the families at each scrape (called on the exposer's thread).
class ScrapeCollector final : public prometheus::Collectable {
 public:
  ScrapeCollector(const Config& config, const MetricsBlock& block)
      : config_(config), block_(block), started_ns_(monotonic_now_ns()) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    // Counted before reading: a scrape counted after linger() started reads the final figures.
    scrapes_.fetch_add(1, std::memory_order_acq_rel);
    // On the heap: the view holds the ~20 KiB snapshot and the exposer's thread stack is small.
    auto view_ptr = std::make_unique<MetricsView>();
    MetricsView& view = *view_ptr;
    {
      std::lock_guard lock(mutex_);
      // A copy torn by a write in progress is never used; the last consistent one stands in.
      if (block_.read(*scratch_)) *last_ = *scratch_;
      view.worker = *last_;
    }
    if (view.worker.source.view().empty()) view.worker.source.set(config_.telemetry.source);
    view.telemetry_age_seconds =
        telemetry_age_seconds(view.worker, monotonic_now_ns(), started_ns_);
    view.checks_due = checks_due(view.worker, now_ms());
    if (auto state = load_state(config_.paths.state)) {
      view.canary = CanaryFigures{phase_name(state->phase), state->model, state->weight};
      view.worker_restarts = state->monitor_unclean_ends;
    }
    const auto counts = supervisor_rollback_counts();
    view.supervisor_rollbacks = counts.by_trigger;
    view.supervisor_postcondition_failures = counts.postcondition_failures;
    return build_families(view);
  }

  std::uint64_t scrapes() const noexcept { return scrapes_.load(std::memory_order_acquire); }

 private:
  const Config& config_;
  const MetricsBlock& block_;
  const std::int64_t started_ns_;
  mutable std::mutex mutex_;
  const std::unique_ptr<MetricsSnapshot> scratch_ = std::make_unique<MetricsSnapshot>();
  const std::unique_ptr<MetricsSnapshot> last_ = std::make_unique<MetricsSnapshot>();
  mutable std::atomic<std::uint64_t> scrapes_{0};
};

}  // namespace

struct MetricsEndpoint::State {
  State(const Config& c, MetricsBlock b) : config(c), block(std::move(b)) {}
  const Config& config;
  MetricsBlock block;
  std::shared_ptr<ScrapeCollector> collector;
  std::unique_ptr<prometheus::Exposer> exposer;
};

MetricsEndpoint::MetricsEndpoint(std::unique_ptr<State> state) : state_(std::move(state)) {}

MetricsEndpoint::~MetricsEndpoint() {
  // The exposer's threads stop before the collector and the block they read go away.
  if (state_) state_->exposer.reset();
}

Result<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::start(const Config& config) {
  if (config.metrics.listen.empty()) {
    ::unsetenv(kMetricsFdEnv);
    return std::unique_ptr<MetricsEndpoint>();
  }
  auto address = parse_listen_address(config.metrics.listen);
  if (!address) return Error{"metrics.listen: " + address.error().message};
  auto block = MetricsBlock::create();
  if (!block) return block.error();
  auto state = std::make_unique<State>(config, std::move(block).value());
  ::setenv(kMetricsFdEnv, std::to_string(state->block.fd()).c_str(), 1);
  state->collector = std::make_shared<ScrapeCollector>(config, state->block);
  try {
    state->exposer = std::make_unique<prometheus::Exposer>(address->bind_form(), 1);
    state->exposer->RegisterCollectable(state->collector, "/metrics");
    const auto ports = state->exposer->GetListeningPorts();
    const int port = ports.empty() ? address->port : ports.front();
    spdlog::info("metrics: serving http://{}/metrics (metrics.listen)",
                 ListenAddress{address->host, address->ipv6, port}.bind_form());
    if (!address->loopback()) {
      spdlog::warn(
          "metrics: metrics.listen {} is reachable from other hosts; /metrics has no "
          "authentication, so keep it behind a firewall or a TLS proxy (README, Operating QSC)",
          config.metrics.listen);
    }
  } catch (const std::exception& e) {
    state->exposer.reset();
    spdlog::error(
        "metrics: cannot serve on metrics.listen {} ({}); monitoring goes on without /metrics. "
        "Fix: free the port or set metrics.listen to another address (\"\" disables it)",
        config.metrics.listen, e.what());
  }
  return std::unique_ptr<MetricsEndpoint>(new MetricsEndpoint(std::move(state)));
}

void MetricsEndpoint::linger(const std::function<void()>& alive) {
  if (!state_->exposer || state_->config.metrics.linger.count() <= 0) return;
  const auto seen = state_->collector->scrapes();
  const auto until = std::chrono::steady_clock::now() + state_->config.metrics.linger;
  spdlog::info("metrics: serving the final figures for up to {} (metrics.linger)",
               format_duration(state_->config.metrics.linger));
  auto last_alive = std::chrono::steady_clock::now();
  alive();
  while (std::chrono::steady_clock::now() < until && state_->collector->scrapes() == seen &&
         !stop_requested()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (std::chrono::steady_clock::now() - last_alive >= std::chrono::seconds(1)) {
      alive();
      last_alive = std::chrono::steady_clock::now();
    }
  }
}

}  // namespace qsc::agent::metrics
