// The canary's transitions: activate, roll back, promote, finalize. Each is one function that
// either completes or leaves the previous state intact, records itself in the audit log, and
// runs the configured actions through a callback (the plugin host, in production).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/audit_log.hpp"
#include "core/config.hpp"
#include "lifecycle/gate.hpp"
#include "lifecycle/state.hpp"
#include "lifecycle/weights.hpp"
#include "qsc/action.hpp"

namespace qsc::agent {

/// Runs the named actions, in order, for an incident; returns each outcome.
using RunActions = std::function<std::vector<ActionOutcome>(const std::vector<std::string>& order,
                                                            const Incident& incident)>;

/// The descriptor flags (QSC_FLAG_*) of an action, by its name.
using ActionFlags = std::function<std::uint64_t(const std::string& action)>;

/// Everything a transition needs.
struct LifecycleContext {
  const Config& config;
  RunActions run_actions;  ///< the plugin host's run_actions, in production
  /// What each action is (essential or best effort, privileged, which role): the loaded
  /// plugins' descriptors (action_flags_of), or when empty default_action_flags.
  ActionFlags action_flags = {};
};

/// ctx.action_flags(action), or default_action_flags(action) when the context has none.
std::uint64_t action_flags(const LifecycleContext& ctx, const std::string& action);

/// The text of the systemd drop-in for a canary.
std::string render_dropin(const Config& config, const std::string& model, double weight);
/// `<override_dir>/qsc_canary.conf`.
std::string local_dropin_path(const Config& config);

/// The outcome of a transition.
struct TransitionResult {
  int exit_code = 0;    ///< as docs/design.md fixes it for the command
  std::string message;  ///< what happened, or what failed and what to do
  std::vector<ActionOutcome> outcomes;
  CanaryState state;  ///< the state after the transition
  /// Rollback and finalization: what was still live after the actions ran (empty when the
  /// transition holds).
  std::vector<std::string> still_live;
  /// A step the transition could not take itself and the operator must (activation's and
  /// promotion's drop-in install without permission to write the unit directory), with its
  /// commands; empty when none.
  std::string manual_step;
};

/// Activation after a PASS: backs up the live weights, writes the canary weights and drop-in,
/// records the state (the commit point), runs the activate actions, logs canary_activated.
/// Refuses (exit 2) when a canary is active. Any failure before the commit point undoes what
/// was written (exit 2).
TransitionResult activate_canary(const LifecycleContext& ctx, const std::string& model,
                                 double weight, const GateReport& gate);

/// What caused a rollback.
struct RollbackRequest {
  std::string trigger = "manual";  ///< "manual" or "qsc_monitor_violation"
  std::string reason;
  std::vector<std::string> violations;
  nlohmann::ordered_json figures = nlohmann::ordered_json::object();
};

/// Rolls back: runs every configured action, then checks the postconditions on disk
/// (rollback_still_live). They hold and no rollback/systemd action failed: state rolled_back,
/// audit rollback_executed with result ok, exit 0. Otherwise: state rollback_incomplete, audit
/// rollback_failed naming what is still live, notify run again with the failure (severity
/// critical), exit 1 with a message starting "ROLLBACK INCOMPLETE". Nothing to roll back: exit 0
/// and says so. Baseline backup missing or unreadable: exit 1, nothing touched. An unreadable
/// state file does not stop it: the files on disk say what to undo (the message says so).
TransitionResult rollback_canary(const LifecycleContext& ctx, const RollbackRequest& request);

/// Ok when the active canary may be promoted or finalized (`what`: "promotion" or
/// "finalization") at `now`: the last period at its current weight completed clean, lasted at
/// least canary.duration, ended at most canary.duration before `now` (no monitor watched the
/// canary since) and ran under this configuration (its monitoring_completed audit entry carries
/// config.sha256). Otherwise the refusal naming what is missing and what to run.
Status check_promotable(const Config& config, const CanaryState& state, const std::string& what,
                        EpochMs now);

/// Raises the canary to `weight` (> current), only after a clean monitoring period at the
/// current weight (check_promotable). Exit 0 promoted, 1 refused.
TransitionResult promote_canary(const LifecycleContext& ctx, double weight);

/// Adopts the canary weights as the live weights (paths.live_weights), removes the drop-in,
/// ends the canary. Same condition as promotion. Then checks on disk that the live weights are
/// the canary's and that no canary weights or drop-in (local or installed) is left: otherwise
/// exit 1 with a message starting "FINALIZATION INCOMPLETE" and still_live naming each with its
/// fix (state finalized all the same, audit canary_finalized result incomplete). On a finalized
/// state it only checks again (audit finalization_verified). Exit 0 finalized, 1 refused.
TransitionResult finalize_canary(const LifecycleContext& ctx);

/// Removes canary files left by an activation interrupted before its commit point (the state
/// says no canary is active, yet canary weights or a drop-in exist). Logs what it removed.
Status clean_interrupted_activation(const Config& config, const CanaryState& state);

/// Why the engine's unit is not set up to run `state`'s canary at its weight, "" when it is or
/// when QSC does not manage the unit (no systemd action in plugins.actions: the canary then
/// reaches the engine through the files alone). The drop-in installed in
/// plugins.config.systemd.dropin_dir must exist, name the canary and its weight, and equal the
/// one qsc wrote in paths.override_dir: an activation without permission to write the unit
/// directory (manual install printed, never done) or a promotion without it (the installed
/// drop-in still at the old weight) leaves the engine without the canary at this weight, and a
/// period watched then says nothing of it.
std::string deployment_problem(const Config& config, const CanaryState& state);

/// Test hook: when QSC_FAULT_INJECT equals `point`, the process kills itself with SIGKILL
/// there, so tests can prove a crash at that step leaves no half-written canary. A point named
/// `...:pause_...` stops the process with SIGSTOP instead (tests of the lock).
void fault_point(const char* point);

}  // namespace qsc::agent
