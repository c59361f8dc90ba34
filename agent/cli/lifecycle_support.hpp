// What the lifecycle commands share: the session a transition runs in (the lock, the plugin host,
// the lifecycle context) and how they print the runbook's rule and the actions' outcomes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/console_text.hpp"
#include "core/lock.hpp"
#include "lifecycle/services.hpp"
#include "qsc/action.hpp"

namespace qsc::agent {

/// What activate, promote and rollback work under, held for the command's lifetime: the lock that
/// serialises qsc invocations and the monitor's rollback, the plugin host, and the lifecycle
/// context whose actions the host (or the built-in rollback) runs.
class TransitionSession {
 public:
  /// How a session's actions are run.
  enum class Actions {
    /// In this process by the plugin host, which must load every required plugin (probed in a
    /// throwaway child first): activate and promote.
    kPluginHost,
    /// Each in its own child with plugins.action_timeout; when the plugin directory cannot be
    /// loaded safely, the built-in rollback instead (bypassed() says why): rollback, which must
    /// never depend on a healthy plugin host.
    kIsolatedOrBuiltin,
  };

  /// A session, or the exit code of a command that could not open one (why was printed).
  struct Opening {
    std::unique_ptr<TransitionSession> session;  ///< null when it could not be opened
    int exit_code = 0;                           ///< the command's exit code then
  };

  /// Takes the lock (waiting up to 30 s), then loads the plugins. Each failure is printed on
  /// stderr as "qsc <command>: ..."; a lock that cannot be taken exits `lock_exit_code`, plugins
  /// that cannot be loaded exit 2.
  static Opening open(const Config& config, const std::string& command, Actions actions,
                      int lock_exit_code);

  TransitionSession(const TransitionSession&) = delete;
  TransitionSession& operator=(const TransitionSession&) = delete;

  /// The context the lifecycle's transitions take.
  const LifecycleContext& context() const { return context_; }
  /// The plugin host (null when the built-in rollback bypassed it).
  PluginHost* host() const { return host_.get(); }
  /// Why the plugins were bypassed (empty when they were not).
  const std::string& bypassed() const { return bypassed_; }

 private:
  TransitionSession(const Config& config, FileLock lock, std::unique_ptr<PluginHost> host,
                    std::string bypassed, RunActions actions);

  FileLock lock_;
  std::unique_ptr<PluginHost> host_;
  std::string bypassed_;
  LifecycleContext context_;
};

/// Prints each action's outcome, one line each.
void print_outcomes(const std::vector<ActionOutcome>& outcomes);

}  // namespace qsc::agent
