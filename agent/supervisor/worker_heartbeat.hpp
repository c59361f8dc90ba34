// The worker's side of supervision: the plugin host's call observer publishes each plugin call
// in the heartbeat block, so the supervisor can tell a hung or crashed plugin by name.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "plugin_host/plugin_host.hpp"
#include "supervisor/heartbeat_block.hpp"

namespace qsc::agent {

/// Beats and names the plugin at each call into plugin code.
class WorkerHeartbeat final : public PluginCallObserver {
 public:
  explicit WorkerHeartbeat(HeartbeatBlock& block) : block_(block) {}
  void entering(std::string_view plugin, std::string_view activity) noexcept override {
    block_.enter_plugin(plugin, activity);
  }
  void left() noexcept override { block_.leave_plugin(); }

  // A worker whose plugin was refused memory is out of its limit: it cannot judge, so it does
  // not return a verdict but ends at once, the plugin still published, and the supervisor
  // rolls back as for a crash. No allocation here (the process may have none to spare).
  void allocation_refused(std::string_view plugin, std::string_view activity,
                          std::string_view detail) noexcept override {
    char why[400];
    std::snprintf(why, sizeof why,
                  "plugin %.*s: an allocation was refused during its %.*s (%.*s): the worker is "
                  "out of its memory limit (plugins.max_rss; address-space backstop)",
                  static_cast<int>(plugin.size()), plugin.data(), static_cast<int>(activity.size()),
                  activity.data(), static_cast<int>(std::min<std::size_t>(detail.size(), 120)),
                  detail.data());
    block_.publish_failure(why);
    std::_Exit(kWorkerAllocationRefusedExit);
  }

 private:
  HeartbeatBlock& block_;
};

}  // namespace qsc::agent
