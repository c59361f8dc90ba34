// The supervisor's /metrics endpoint (prometheus-cpp's pull exposer, civetweb). It lives in the
// supervisor, which loads no plugin code and outlives its worker, so the endpoint stays up
// while a worker is killed, replaced or rolled back after. At every scrape it reads the worker's
// last published snapshot (metrics_block.hpp), the state file and the supervisor's own
// counters, and renders the families of metrics_families.hpp.
#pragma once

#include <functional>
#include <memory>

#include "core/config.hpp"
#include "metrics/metrics_block.hpp"
#include "qsc/result.hpp"

namespace qsc::agent::metrics {

class MetricsEndpoint {
 public:
  /// Creates the block (its fd number exported in QSC_METRICS_FD for the worker) and starts
  /// serving on metrics.listen. nullptr when metrics.listen is "" (nothing is served and the
  /// variable is removed). An address that cannot be bound (in use, not on this host) is logged
  /// as an error naming metrics.listen and the fix, and monitoring goes on without the
  /// endpoint: a canary is never left unwatched for want of a dashboard.
  static Result<std::unique_ptr<MetricsEndpoint>> start(const Config& config);
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  /// Called when the monitor has ended: serves until one more scrape has been answered or
  /// metrics.linger has passed (or SIGTERM/SIGINT), so the final figures can be collected.
  /// `alive` is called about once a second meanwhile (the supervisor feeds systemd's watchdog
  /// with it: a lingering monitor must not be killed as hung and restarted).
  void linger(const std::function<void()>& alive);

  struct State;

 private:
  explicit MetricsEndpoint(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace qsc::agent::metrics
