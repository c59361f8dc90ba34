// Crash-loop accounting in the state file. The supervisor opens a monitor session before it
// starts the worker and closes it when it ends by itself (any exit code). A session found still
// open at start belongs to a monitor that was killed or crashed (OOM killer, SIGKILL, a bug in
// the supervisor) and counts as an unclean end for the canary at its current weight. More than
// canary.max_restarts of them: the monitor cannot judge this canary, so it is rolled back
// (trigger qsc_monitor_crash_loop) instead of resumed once more.
#pragma once

#include <cstdint>

#include "core/config.hpp"
#include "qsc/result.hpp"

namespace qsc::agent {

/// The session as the supervisor starts it.
struct MonitorSession {
  bool tracked = false;            ///< a canary is active (otherwise nothing is recorded)
  std::uint64_t unclean_ends = 0;  ///< earlier unclean ends at this canary's current weight
  bool crash_loop = false;         ///< unclean_ends > canary.max_restarts
};

/// Counts an earlier session left open, then records this one as open (unless it is a crash
/// loop: then the caller rolls back). Errors when the state cannot be read or written.
Result<MonitorSession> open_monitor_session(const Config& config);

/// Records the session as closed (the monitor ended by itself). Best effort: a state that is
/// gone or unreadable by then is left alone.
void close_monitor_session(const Config& config);

}  // namespace qsc::agent
