// Loading the plugin directory in a throwaway child first.
#include "supervisor/plugin_probe.hpp"

#include <string.h>

#include <optional>

#include "lifecycle/services.hpp"
#include "supervisor/child_process.hpp"
#include "supervisor/heartbeat_block.hpp"
#include "supervisor/worker_heartbeat.hpp"

namespace qsc::agent {
namespace {

std::string load_failure_reason(const ChildRun& run) {
  if (run.timed_out) {
    return "hung while loading: killed after " +
           std::to_string(static_cast<long>(run.duration_ms)) + " ms";
  }
  if (run.signal != 0) {
    const char* name = ::sigabbrev_np(run.signal);
    return std::string("crashed while loading: ") +
           (name ? "SIG" + std::string(name) : "signal " + std::to_string(run.signal));
  }
  return "failed while loading: " + describe_failure(run);
}

}  // namespace

Result<std::vector<LoadRefusal>> probe_plugin_dir(const Config& config, long timeout_ms) {
  const auto dir = resolve_plugin_dir(config);
  auto block = HeartbeatBlock::create();
  if (!block) return block.error();
  std::vector<LoadRefusal> refusals;
  // Each round refuses one more library or ends: at most one round per file, plus the last.
  for (;;) {
    const auto refused = refused_files(refusals);
    const auto run = run_in_child(
        [&]() -> std::string {
          WorkerHeartbeat observer(*block);
          set_plugin_call_observer(&observer);
          // Only whether loading survives is asked here: nothing reads a digest.
          (void)PluginHost::open(config, refused, LibraryDigests::kSkip);
          set_plugin_call_observer(nullptr);
          return "loaded";
        },
        timeout_ms);
    if (run.succeeded()) return refusals;
    const auto file_name = block->plugin();
    const auto file = (dir / file_name).string();
    if (file_name.empty() || block->activity() != "load" || refused.contains(file)) {
      return Error{"loading the plugin directory " + dir.string() + " in a throwaway child " +
                   describe_failure(run) +
                   " outside any one library's loading: nothing of it is loaded; check the "
                   "directory with qsc plugins list"};
    }
    refusals.push_back({file, describe_failure(run),
                        load_failure_reason(run) +
                            " (its constructors ran in a throwaway child; remove it from " +
                            dir.string() + ")"});
  }
}

RefusedFiles refused_files(const std::vector<LoadRefusal>& refusals) {
  RefusedFiles files;
  for (const auto& r : refusals) files.emplace(r.file, r.reason);
  return files;
}

Result<std::unique_ptr<PluginHost>> open_probed_plugin_host(const Config& config) {
  auto refusals = probe_plugin_dir(config);
  if (!refusals) return refusals.error();
  return open_plugin_host(config, LibraryDigests::kSkip, refused_files(*refusals));
}

}  // namespace qsc::agent
