// What must hold after a rollback, checked on disk after the actions ran: a rollback is a fact
// only when nothing of the canary is left live, never because the actions said "ok".
#pragma once

#include <string>
#include <vector>

#include "core/config.hpp"
#include "lifecycle/state.hpp"

namespace qsc::agent {

/// `<plugins.config.systemd.dropin_dir>/qsc_canary.conf`: where the systemd action installs the
/// drop-in.
std::string installed_dropin_path(const Config& config);

/// The user this process runs as ("root", "qsc", or "uid 1234" without a passwd entry).
std::string current_user_name();

/// Checks the rollback's postconditions and returns what is still live, one line each naming
/// the file and what to do (empty: the rollback holds):
///  - paths.live_weights, when configured, is byte-equal to the baseline backup. Without it the
///    engine's own weights are the baseline and the canary reaches the engine only through the
///    canary weights file and the drop-in, so the next three are then what "rolled back" means;
///  - the canary weights file is gone;
///  - the local drop-in <paths.override_dir>/qsc_canary.conf is gone;
///  - the installed drop-in <plugins.config.systemd.dropin_dir>/qsc_canary.conf is gone (the
///  message gives the
///    commands to finish the job and the user to run them as).
/// A path whose existence cannot be told (a directory that cannot be searched) counts as live.
std::vector<std::string> rollback_still_live(const Config& config);

/// The canary's files still on disk after a rollback or a finalization (`what` names it in the
/// installed drop-in's fix): the canary weights, the local drop-in and the installed drop-in,
/// one line each with the command that removes it (empty: none is left; `what` empty: the
/// installed drop-in's line names no transition and no command). Both transitions end
/// the canary, so neither holds while the engine's unit can still start it.
std::vector<std::string> canary_files_left(const Config& config, const std::string& what);

/// Where `config` puts the canary (recorded by an activation in CanaryState::places).
CanaryPlaces canary_places(const Config& config);

/// rollback_still_live for `config`, and also for the places the activation recorded when the
/// configuration has moved them since (a changed plugins.config.systemd.dropin_dir left the
/// installed drop-in where the activation put it, and the old check never looked there).
std::vector<std::string> rollback_still_live(const Config& config, const CanaryPlaces& recorded);

}  // namespace qsc::agent
