// What the lifecycle commands share.
#include "cli/lifecycle_support.hpp"

#include <filesystem>
#include <iostream>

#include "cli/command.hpp"
#include "lifecycle/builtin_rollback.hpp"
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

}  // namespace

TransitionSession::TransitionSession(const Config& config, FileLock lock,
                                     std::unique_ptr<PluginHost> host, std::string bypassed,
                                     RunActions actions)
    : lock_(std::move(lock)),
      host_(std::move(host)),
      bypassed_(std::move(bypassed)),
      // host_ is declared (and so initialised) before context_: the flags read the host this
      // session owns, or the defaults when the plugins were bypassed.
      context_{config, std::move(actions), action_flags_of(host_.get())} {}

TransitionSession::Opening TransitionSession::open(const Config& config, const std::string& command,
                                                   Actions actions, int lock_exit_code) {
  auto lock = FileLock::acquire(config.lock_path(), std::chrono::seconds(30));
  if (!lock) {
    std::cerr << "qsc " << command << ": " << lock.error().message << "\n";
    return {nullptr, lock_exit_code};
  }
  if (actions == Actions::kPluginHost) {
    // A canary must not change unless every required detector and the rollback action are
    // loaded to watch it and take it back.
    auto host = open_probed_plugin_host(config);
    if (!host) {
      std::cerr << "qsc " << command << ": plugins: " << host.error().message << "\n";
      return {nullptr, exit_code::kError};
    }
    auto run_actions = actions_of(**host);
    return {std::unique_ptr<TransitionSession>(new TransitionSession(
                config, std::move(lock).value(), std::move(host).value(), "", run_actions)),
            exit_code::kOk};
  }
  // An emergency rollback must not depend on a healthy plugin host: when it cannot be opened
  // (a bad plugin section, an insecure directory, a required plugin missing) the built-in
  // path restores the baseline, and the postcondition check judges it all the same.
  // Loading runs plugin code (static constructors): it is tried first in a throwaway child,
  // so a library that crashes or hangs as it loads means the built-in path, not a rollback
  // that dies with it (this command is also the systemd OnFailure= unit's last resort).
  std::string bypassed = plugins_unloadable(config);
  Result<std::unique_ptr<PluginHost>> host = Error{bypassed};
  if (bypassed.empty()) host = open_plugin_host(config, LibraryDigests::kSkip);
  if (!host) bypassed = host.error().message;
  // Each action runs in its own child with plugins.action_timeout; a rollback or systemd
  // action that crashes or hangs is replaced by the built-in rollback.
  auto run_actions = host ? isolated_actions(**host, config) : builtin_actions(config, bypassed);
  std::unique_ptr<PluginHost> opened = host ? std::move(host).value() : nullptr;
  return {std::unique_ptr<TransitionSession>(new TransitionSession(
              config, std::move(lock).value(), std::move(opened), bypassed, run_actions)),
          exit_code::kOk};
}

void print_outcomes(const std::vector<ActionOutcome>& outcomes) {
  for (const auto& o : outcomes) {
    std::cout << "  " << (o.ok ? "✅ " : "❌ ") << o.action << ": " << o.detail << "\n";
  }
}

}  // namespace qsc::agent
