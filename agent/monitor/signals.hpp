// Signal flags for long-running commands: handlers only set flags; the loop acts on them.
#pragma once

namespace qsc::agent {

/// Installs SIGTERM/SIGINT (stop) and SIGHUP (reload) handlers.
void install_signal_flags();
/// True once SIGTERM or SIGINT arrived.
bool stop_requested() noexcept;
/// True once per SIGHUP (reading clears it).
bool take_reload_request() noexcept;

}  // namespace qsc::agent
