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
    app.add_option("--duration", duration_, "monitoring period, default canary.duration (6h)");
    app.add_option("--interval", interval_, "check interval, default canary.interval (30s)");
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
    if (options.interval && options.interval->count() < 100) {
      std::cerr << "qsc monitor: --interval must be at least 100ms\n";
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
