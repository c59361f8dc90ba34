// The worker's side of supervision: the plugin host's call observer publishes each plugin call
// in the heartbeat block, so the supervisor can tell a hung or crashed plugin by name.
#pragma once

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

 private:
  HeartbeatBlock& block_;
};

}  // namespace qsc::agent
