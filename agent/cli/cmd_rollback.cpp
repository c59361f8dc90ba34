// `qsc rollback [--reason TEXT]`: the runbook's manual rollback. Exit 0 rolled back or nothing to
// roll back; 1 failed.
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli/command.hpp"
#include "cli/lifecycle_support.hpp"
#include "core/lock.hpp"
#include "lifecycle/builtin_rollback.hpp"
#include "lifecycle/services.hpp"
#include "supervisor/isolated_actions.hpp"
#include "supervisor/plugin_probe.hpp"

namespace qsc::agent {
namespace {

// Why the plugin directory cannot be loaded safely (a library crashed or hung the throwaway
// child that loaded it); empty when it loaded. An emergency rollback takes no chances with a
// directory that held such a library: any refusal means the built-in path.
std::string plugins_unloadable(const Config& config) {
  auto refusals = probe_plugin_dir(config, config.plugins.action_timeout.count());
  if (!refusals) return refusals.error().message;
  if (refusals->empty()) return {};
  const auto& first = refusals->front();
  return "loading the plugin directory " + first.failure + " while loading " +
         std::filesystem::path(first.file).filename().string() + ": remove that library from " +
         resolve_plugin_dir(config).string();
}

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
    // Loading runs plugin code (static constructors): it is tried first in a throwaway child,
    // so a library that crashes or hangs as it loads means the built-in path, not a rollback
    // that dies with it (this command is also the systemd OnFailure= unit's last resort).
    std::string bypassed = plugins_unloadable(cfg);
    Result<std::unique_ptr<PluginHost>> host = Error{bypassed};
    if (bypassed.empty()) host = open_plugin_host(cfg);
    if (!host) bypassed = host.error().message;
    // Each action runs in its own child with plugins.action_timeout; a rollback or systemd
    // action that crashes or hangs is replaced by the built-in rollback.
    LifecycleContext lc{cfg, host ? isolated_actions(**host, cfg) : builtin_actions(cfg, bypassed),
                        action_flags_of(host ? host->get() : nullptr)};
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
