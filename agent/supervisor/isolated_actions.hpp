// Actions in child processes: each configured action runs in a forked child with a deadline
// (plugins.action_timeout), its outcome sent back through a pipe. An action that crashes or
// hangs is killed and recorded as failed; when it was the rollback or systemd action, the
// built-in rollback runs in its place, and the rollback's postconditions decide the outcome.
#pragma once

#include <cstdint>

#include "core/config.hpp"
#include "lifecycle/canary.hpp"
#include "plugin_host/plugin_host.hpp"
#include "supervisor/heartbeat_block.hpp"

namespace qsc::agent {

/// The monitor's action runner: `host`'s actions, each in its own child process. While it
/// waits it beats `heartbeat` (when given) and publishes the action's name. An action `host`
/// lacks (the rollback plugin lost on a reload) is done by the built-in rollback for
/// rollback/systemd, and reported as not loaded otherwise.
RunActions isolated_actions(PluginHost& host, const Config& config,
                            HeartbeatBlock* heartbeat = nullptr);

/// How long a rollback may run host code without a heartbeat: the lock wait, the built-in
/// systemctl calls, and one action deadline per configured action.
std::int64_t rollback_budget_ms(const Config& config);

}  // namespace qsc::agent
