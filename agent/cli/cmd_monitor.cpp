// `qsc monitor [--duration 6h] [--interval 30s]`: the runbook's step 4.
// Exit 0 clean, 1 violation rolled back, 2 error or interrupted, 3 inconclusive.
#include "cli/command.hpp"
#include "core/duration.hpp"
#include "monitor/monitor.hpp"

namespace qsc::agent {
namespace {

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
        "plugins. Background form: nohup qsc monitor > logs/qsc_monitor.log 2>&1 &");
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
    return run_monitor(ctx.config, options);
  }

 private:
  std::string duration_;
  std::string interval_;
  std::string gap_;
};

QSC_REGISTER_COMMAND(MonitorCommand);

}  // namespace
}  // namespace qsc::agent
