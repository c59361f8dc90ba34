// The supervisor's own rollback, for a worker that failed (crashed, hung, ran out of memory,
// refused to start because a plugin failed as it loaded) and for a crash loop. It runs no plugin
// code in this process: the built-in rollback (lifecycle/builtin_rollback.hpp) restores the
// files, rollback_canary checks the postconditions, and the notify plugin runs in a fresh child
// process with plugins.action_timeout, so a broken notify plugin cannot stop the rollback.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/config.hpp"

namespace qsc::agent {

/// Why the supervisor rolls back.
struct SupervisorIncident {
  std::string trigger;  ///< "qsc_monitor_worker_failed" or "qsc_monitor_crash_loop"
  std::string plugin;   ///< the plugin running when the worker failed ("" when none was)
  std::string failure;  ///< one line: what happened
  nlohmann::ordered_json figures = nlohmann::ordered_json::object();
  std::int64_t fault_ns = 0;  ///< CLOCK_MONOTONIC of the fault (0: unknown), for the timing
};

/// Rolls back, prints the runbook block, and returns the monitor's exit code: 1 rolled back
/// (postconditions hold), 2 rollback incomplete or nothing could be done.
int supervisor_rollback(const Config& config, const SupervisorIncident& incident);

}  // namespace qsc::agent
