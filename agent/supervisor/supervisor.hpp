// `qsc monitor` as a supervisor (the watchdog pattern). It loads no plugin code: it starts the
// worker (this program with --worker: the monitor proper, which reads the telemetry ring and
// runs the plugins), watches its heartbeat block, its exit and its memory, and when the worker
// cannot judge any more rolls the canary back itself through the built-in path.
//
//   qsc monitor (supervisor) ──fork/exec──▶ qsc monitor --worker
//        │   reads ◀── heartbeat block (memfd) ◀── beats, names the plugin being called
//        └── worker crashed / hung past plugins.check_timeout / over plugins.max_rss
//              → built-in rollback, postconditions, notify in a fresh child, exit 1
#pragma once

#include "core/config.hpp"

namespace qsc::agent {

/// Runs the supervisor; returns the monitor's exit code (the worker's own 0/1/2/3 passed
/// through; 1 after the supervisor's verified rollback, 2 when it could not complete it).
int run_supervised_monitor(const Config& config);

}  // namespace qsc::agent
