// `qsc rollback [--reason TEXT]`: the runbook's manual rollback. Exit 0 rolled back or nothing to
// roll back; 1 failed.
#include <iostream>
#include <optional>

#include "cli/command.hpp"
#include "cli/lifecycle_support.hpp"
#include "lifecycle/services.hpp"

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
        "removes " +
        std::string(kDefaultCanaryWeights) +
        " and the drop-in (local and installed), reloads and "
        "restarts the unit. Then verifies: live weights byte-equal to the baseline backup, no "
        "canary weights, no drop-in left; logs rollback_executed (exit 0) or, when something is "
        "still live, prints ROLLBACK INCOMPLETE with what to do, logs rollback_failed and exits "
        "1. When the plugins cannot be loaded it uses a built-in rollback and says why. Harmless "
        "to run twice. Refuses (exit 1) when the baseline backup is missing or unreadable.");
  }
  int run(CommandContext& ctx) override {
    const Config& cfg = ctx.config;
    // The built-in rollback stands in for plugins that cannot be loaded safely.
    auto opening = TransitionSession::open(
        cfg, "rollback", TransitionSession::Actions::kIsolatedOrBuiltin, exit_code::kRefused);
    if (!opening.session) return opening.exit_code;
    const auto& lc = opening.session->context();
    const std::string& bypassed = opening.session->bypassed();
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
