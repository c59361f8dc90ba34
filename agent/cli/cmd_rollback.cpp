// `qsc rollback [--reason TEXT]`: the runbook's manual rollback. Exit 0 rolled back or nothing to
// roll back; 1 failed.
#include <iostream>

#include "cli/command.hpp"
#include "cli/lifecycle_support.hpp"
#include "core/lock.hpp"
#include "lifecycle/builtin_rollback.hpp"

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
        "restarts the unit. Then verifies: live weights byte-equal to the baseline backup, no "
        "canary weights, no drop-in left; logs rollback_executed (exit 0) or, when something is "
        "still live, prints ROLLBACK INCOMPLETE with what to do, logs rollback_failed and exits "
        "1. When the plugins cannot be loaded it uses a built-in rollback and says why. Harmless "
        "to run twice. Refuses (exit 1) when the baseline backup is missing or unreadable.");
  }
  int run(CommandContext& ctx) override {
    const Config& cfg = ctx.config;
    auto lock = FileLock::acquire(cfg.lock_path(), std::chrono::seconds(30));
    if (!lock) {
      std::cerr << "qsc rollback: " << lock.error().message << "\n";
      return exit_code::kRefused;
    }
    // An emergency rollback must not depend on a healthy plugin host: when it cannot be opened
    // (a bad plugin section, an insecure directory, a required plugin missing) the built-in
    // path restores the baseline, and the postcondition check judges it all the same.
    auto host = open_plugin_host(cfg);
    std::string bypassed;
    if (!host) bypassed = host.error().message;
    LifecycleContext lc{cfg, host ? actions_of(**host) : builtin_actions(cfg, bypassed)};
    RollbackRequest request;
    request.trigger = "manual";
    request.reason = reason_;
    auto result = rollback_canary(lc, request);
    if (result.outcomes.empty()) {
      if (!bypassed.empty() && result.exit_code != 0) {
        std::cerr << "Plugins bypassed: " << bypassed << "\n";
      }
      (result.exit_code == 0 ? std::cout : std::cerr) << result.message << "\n";
      return result.exit_code;
    }
    std::cout << kRule << "\nMANUAL ROLLBACK\n"
              << kRule << "\nCanary Model: " << result.state.model << "\n";
    if (!reason_.empty()) std::cout << "Reason:       " << reason_ << "\n";
    if (!bypassed.empty()) {
      std::cout << "\n⚠️  Plugins bypassed (built-in rollback used): " << bypassed << "\n";
    }
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
