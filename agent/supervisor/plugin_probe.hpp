// Loading the plugin directory in a throwaway child first: dlopen runs a library's static
// constructors before the host can read its ABI, and a plugin's factory runs its constructor, so a
// command that loads plugins in its own process (gate, activate, promote, rollback, plugins list)
// first has a forked child load them all. A library that crashes or hangs that child is named by
// the heartbeat block (the file being loaded), refused, and the child tried again without it,
// until a child loads the rest. The command then loads the rest itself with those files refused
// unopened ("crashed while loading: SIGSEGV"), and the required-plugins rule decides.
// The monitor's worker loads in its own process: it is already the throwaway (the supervisor
// rolls back when it dies).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "plugin_host/plugin_host.hpp"
#include "qsc/result.hpp"

namespace qsc::agent {

/// One library that a probe child could not load.
struct LoadRefusal {
  std::string file;     ///< full path
  std::string failure;  ///< describe_failure of the child: "crashed (SIGSEGV)", "hung: ..."
  std::string reason;   ///< the record's rejection: "crashed while loading: SIGSEGV (...)"
};

/// A generous bound for loading the whole directory once; a library that hangs as it loads is
/// cut there (and costs the command that long once).
inline constexpr long kPluginProbeTimeoutMs = 30'000;

/// Loads the plugin directory of `config` in throwaway children (each within `timeout_ms`) until
/// one succeeds; returns the libraries that crashed or hung one. Error when a child failed
/// outside any library's loading (then nothing of the directory can be trusted) or could not be
/// started. Call from a single-threaded process (fork without exec).
Result<std::vector<LoadRefusal>> probe_plugin_dir(const Config& config,
                                                  long timeout_ms = kPluginProbeTimeoutMs);

/// The refusals as PluginHost::open takes them.
RefusedFiles refused_files(const std::vector<LoadRefusal>& refusals);

/// probe_plugin_dir, then open_plugin_host with the refused files: what gate, activate and
/// promote load. A probe error is a start-up error naming the directory.
Result<std::unique_ptr<PluginHost>> open_probed_plugin_host(const Config& config);

}  // namespace qsc::agent
