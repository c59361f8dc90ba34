// The rollback built into the agent: what `qsc rollback` does when the plugin host cannot be
// opened or has no rollback action, and what a supervisor calls when plugin code failed. It
// needs only the Config (plugin sections are never read, so a broken one cannot stop it) and
// uses the same durable-file code and argv runner as the rollback and systemd actions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "lifecycle/canary.hpp"
#include "qsc/action.hpp"
#include "qsc/plugin_abi.h"

namespace qsc::agent {

class PluginHost;

/// How an action the built-in path did not run is reported (its outcome's detail starts so).
inline constexpr std::string_view kBypassedPrefix = "not run: plugins bypassed";

/// The roles the built-in rollback can stand in for: an action with either flag.
inline constexpr std::uint64_t kBuiltinRoles =
    QSC_FLAG_RESTORES_WEIGHTS | QSC_FLAG_RESTARTS_SERVICES;

/// The flags of each action: the loaded plugin's descriptor when `host` has it, else
/// default_action_flags (a plugin that is not loaded, or no host). `host` must outlive it.
ActionFlags action_flags_of(const PluginHost* host);

/// Restores paths.baseline_weights byte for byte over paths.live_weights (when configured),
/// removes the canary weights and the local drop-in, and, when it removed an installed drop-in,
/// runs `systemctl daemon-reload` and `systemctl restart UNIT`. Returns two outcomes named after
/// the configured actions it stands in for (the first with QSC_FLAG_RESTORES_WEIGHTS, the first
/// with QSC_FLAG_RESTARTS_SERVICES, by `flags`; details start with "built-in:"). Refuses to
/// touch anything when the baseline backup is missing or not a weights document. Whether the
/// rollback holds is decided afterwards by rollback_still_live, not by these outcomes.
std::vector<ActionOutcome> builtin_rollback(const Config& config, const ActionFlags& flags);

/// An action runner for rollback_canary that uses builtin_rollback for the actions with a
/// built-in role (kBuiltinRoles) and, for any other action (notify), the plugin of that name in
/// `notifier` when one is given and loaded; otherwise that action is reported as not run
/// because the plugins were bypassed for `why`. `config` and `notifier` must outlive the
/// returned runner.
RunActions builtin_actions(const Config& config, std::string why, PluginHost* notifier = nullptr);

}  // namespace qsc::agent
