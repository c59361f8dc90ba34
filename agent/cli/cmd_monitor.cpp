// `qsc monitor [--duration 6h] [--interval 30s]`: the runbook's step 4.
// Exit 0 clean, 1 violation rolled back, 2 error or interrupted, 3 inconclusive.
#include <cstdlib>
#include <optional>

#include "cli/command.hpp"
#include "core/duration.hpp"
#include "core/lock.hpp"
#include "metrics/metrics_block.hpp"
#include "metrics/metrics_publisher.hpp"
#include "monitor/monitor.hpp"
#include "supervisor/heartbeat_block.hpp"
#include "supervisor/supervisor.hpp"
#include "supervisor/worker_heartbeat.hpp"

namespace qsc::agent {
namespace {

constexpr const char* kWorkerFlagName = "--worker";

// The worker: the monitor proper, beating in the block the supervisor handed down and naming
// each plugin it calls there.
int run_worker(const Config& config, MonitorOptions options) {
  const char* fd_text = std::getenv(kHeartbeatFdEnv);
  auto block = HeartbeatBlock::attach(fd_text ? std::atoi(fd_text) : -1);
  if (!fd_text || !block) {
    std::cerr << "qsc monitor: --worker is started by qsc monitor itself, not by hand"
              << (block ? "" : " (" + block.error().message + ")") << "\n";
    return exit_code::kError;
  }
  WorkerHeartbeat observer(*block);
  set_plugin_call_observer(&observer);
  options.heartbeat = &*block;
  // The supervisor's /metrics block, when it serves one (metrics.listen not "").
  std::optional<metrics::MetricsBlock> metrics_block;
  std::optional<metrics::MetricsPublisher> publisher;
  if (const char* metrics_fd = std::getenv(metrics::kMetricsFdEnv)) {
    auto attached = metrics::MetricsBlock::attach(std::atoi(metrics_fd));
    if (!attached) {
      std::cerr << "qsc monitor: " << attached.error().message << "\n";
      return exit_code::kError;
    }
    metrics_block.emplace(std::move(attached).value());
    publisher.emplace(&*metrics_block);
    options.metrics = &*publisher;
  }
  const int code = run_monitor(config, options);
  set_plugin_call_observer(nullptr);
  return code;
}

class MonitorCommand final : public Command {
 public:
  std::string name() const override { return "monitor"; }
  std::string summary() const override {
    return "watch the active canary; roll back at once on any violation (runbook step 4)";
  }
  void setup(CLI::App& app) override {
    app.add_option("--duration", duration_,
                   "monitoring period, default canary.duration (6h); promotion needs a clean "
                   "period of at least canary.duration");
    app.add_option("--interval", interval_,
                   "check interval, default canary.interval (30s); at least 100ms and no longer "
                   "than the period");
    app.add_option("--min-eval-gap", gap_,
                   "least time between two event-driven evaluations (default 2ms)");
    app.footer(
        "Evaluates every detector plugin as events arrive (at most once per --min-eval-gap) and "
        "at every interval: prints [Check k/N], rewrites reports/safety/scoreboard_latest.*, logs "
        "a check entry. On any violation runs the actions (rollback, systemd, notify) at once and "
        "exits 1. A killed monitor resumes the same period when started again. SIGTERM/SIGINT: "
        "logs monitoring_interrupted and exits 2, leaving the canary as it is. SIGHUP: reloads "
        "plugins. Background form: nohup qsc monitor > logs/qsc_monitor.log 2>&1 &\n"
        "Process model: this command is a supervisor that loads no plugin code; a worker process "
        "(the same command with --worker) reads the telemetry and runs the plugins. A worker that "
        "crashes, hangs past plugins.check_timeout or exceeds plugins.max_rss is killed and the "
        "canary rolled back by the supervisor (trigger qsc_monitor_worker_failed), exit 1.");
    // The worker: started by the supervisor only (hidden).
    app.add_flag(kWorkerFlagName, worker_, "run as the supervised worker")->group("");
  }
  int run(CommandContext& ctx) override {
    MonitorOptions options;
    for (auto [text, out] :
         {std::pair{&duration_, &options.duration}, {&interval_, &options.interval}}) {
      if (text->empty()) continue;
      auto d = parse_duration(*text);
      if (!d) {
        std::cerr << "qsc monitor: " << d.error().message << "\n";
        return exit_code::kError;
      }
      *out = *d;
    }
    if (!gap_.empty()) {
      auto d = parse_duration(gap_);
      if (!d) {
        std::cerr << "qsc monitor: " << d.error().message << "\n";
        return exit_code::kError;
      }
      options.min_evaluation_gap = *d;
    }
    // The names say where each value came from, so the message points at what to change.
    const auto duration = options.duration.value_or(ctx.config.canary.duration);
    const auto interval = options.interval.value_or(ctx.config.canary.interval);
    if (auto period =
            check_period(duration, interval, options.duration ? "--duration" : "canary.duration",
                         options.interval ? "--interval" : "canary.interval");
        !period) {
      std::cerr << "qsc monitor: " << period.error().message << "\n";
      return exit_code::kError;
    }
    if (worker_) return run_worker(ctx.config, options);
    // Held (shared, so a second monitor is not refused by it) for the supervisor's whole life
    // and dropped by the kernel when it dies however it dies: `qsc state` reads "monitoring"
    // from the state file, which a stopped or killed monitor leaves as it was, and calls the
    // period watched only while this lock is held. Not inherited by the exec'd worker
    // (O_CLOEXEC), which dies with the supervisor anyway.
    auto watching =
        FileLock::acquire_shared(ctx.config.monitor_lock_path(), std::chrono::seconds(5));
    if (!watching) {
      std::cerr << "qsc monitor: " << watching.error().message << "\n";
      return exit_code::kError;
    }
    return run_supervised_monitor(ctx.config);
  }

 private:
  std::string duration_;
  std::string interval_;
  std::string gap_;
  bool worker_ = false;
};

QSC_REGISTER_COMMAND(MonitorCommand);

}  // namespace
}  // namespace qsc::agent
