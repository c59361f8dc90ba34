// Crash-loop accounting.
#include "supervisor/crash_loop.hpp"

#include "lifecycle/state.hpp"

namespace qsc::agent {

Result<MonitorSession> open_monitor_session(const Config& config) {
  auto loaded = load_state(config.paths.state);
  if (!loaded) return loaded.error();
  CanaryState state = *loaded;
  MonitorSession session;
  if (!state.active()) return session;
  session.tracked = true;
  if (state.monitor_unclean_since_ms != state.weight_since_ms) {
    state.monitor_unclean_ends = 0;
    state.monitor_unclean_since_ms = state.weight_since_ms;
  }
  if (state.monitor_session_open) ++state.monitor_unclean_ends;
  session.unclean_ends = state.monitor_unclean_ends;
  session.crash_loop = state.monitor_unclean_ends > config.canary.max_restarts;
  state.monitor_session_open = !session.crash_loop;
  if (auto s = save_state(config.paths.state, state); !s) return s.error();
  return session;
}

void close_monitor_session(const Config& config) {
  auto loaded = load_state(config.paths.state);
  if (!loaded || !loaded->monitor_session_open) return;
  CanaryState state = *loaded;
  state.monitor_session_open = false;
  (void)save_state(config.paths.state, state);
}

}  // namespace qsc::agent
