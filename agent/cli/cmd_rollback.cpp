// `qsc rollback [--reason TEXT]`: the runbook's manual rollback. Exit 0 rolled back or nothing to
// roll back; 1 failed.
#include <iostream>

#include "cli/command.hpp"
#include "cli/lifecycle_support.hpp"
#include "core/lock.hpp"

namespace qsc::agent {
namespace {

class RollbackCommand final : public Command {
 public:
  std::string name() const override { return "rollback"; }
  std::string summary() const override {
    return "restore the baseline weights and remove the canary (manual rollback)";
  }
  void setup(CLI::App& app) override {
    app.add_option("--reason", reason_, "why, recorded in the audit log");
    app.footer(
        "Runs the configured actions (rollback, systemd, notify): restores the baseline weights, "
        "removes data/qsc_canary_weights.json and the drop-in (local and installed), reloads and "
        "restarts the unit, logs rollback_executed with trigger manual. Harmless to run twice. "
        "Refuses (exit 1) when the baseline backup is missing or unreadable.");
  }
  int run(CommandContext& ctx) override {
    const Config& cfg = ctx.config;
    auto lock = FileLock::acquire(cfg.lock_path(), std::chrono::seconds(30));
    if (!lock) {
      std::cerr << "qsc rollback: " << lock.error().message << "\n";
      return exit_code::kRefused;
    }
    auto host = open_plugin_host(cfg);
    if (!host) {
      std::cerr << "qsc rollback: plugins: " << host.error().message << "\n";
      return exit_code::kRefused;
    }
    LifecycleContext lc{cfg, actions_of(**host)};
    RollbackRequest request;
    request.trigger = "manual";
    request.reason = reason_;
    auto result = rollback_canary(lc, request);
    if (result.outcomes.empty()) {
      (result.exit_code == 0 ? std::cout : std::cerr) << result.message << "\n";
      return result.exit_code;
    }
    std::cout << kRule << "\nMANUAL ROLLBACK\n"
              << kRule << "\nCanary Model: " << result.state.model << "\n";
    if (!reason_.empty()) std::cout << "Reason:       " << reason_ << "\n";
    std::cout << "\nActions:\n";
    print_outcomes(result.outcomes);
    std::cout << "\n" << (result.exit_code == 0 ? "✅ " : "❌ ") << result.message << "\n";
    return result.exit_code;
  }

 private:
  std::string reason_;
};

QSC_REGISTER_COMMAND(RollbackCommand);

}  // namespace
}  // namespace qsc::agent
