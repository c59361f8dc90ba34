// The canary-file contract: the files a canary consists of, their default places and what each
// holds. The agent (activation, its built-in rollback, the rollback checks) and the actions that
// write or remove them (rollback, systemd) read it from here only, so that they cannot disagree
// about where a canary lives. Every default is a configuration key's default (README,
// "Configuration"); relative paths are relative to the working directory.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace qsc {

/// paths.baseline_weights: the live weights as they were just before activation, byte for byte
/// (a JSON object of model name to weight). A rollback copies it back over paths.live_weights and
/// refuses to touch anything when it is missing or not a weights document.
inline constexpr std::string_view kDefaultBaselineWeights = "data/baseline_model_weights.json";

/// paths.canary_weights: the ensemble's weights with the canary at canary.weight (a JSON object of
/// model name to weight, summing to 1). The drop-in points the engine at it; a rollback removes it.
inline constexpr std::string_view kDefaultCanaryWeights = "data/qsc_canary_weights.json";

/// paths.override_dir: where activation writes the drop-in (the "local drop-in") before the
/// systemd action installs a copy in the unit's drop-in directory.
inline constexpr std::string_view kDefaultOverrideDir = "data/systemd_overrides";

/// plugins.config.systemd.unit: the AI engine's unit, which the drop-in reconfigures.
inline constexpr std::string_view kDefaultUnit = "quantum-ai_engine.service";

/// plugins.config.systemd.dropin_dir: the unit's drop-in directory, where the systemd action
/// installs the drop-in (the "installed drop-in").
inline constexpr std::string_view kDefaultDropinDir =
    "/etc/systemd/system/quantum-ai_engine.service.d";

/// The drop-in's file name, the same in paths.override_dir and in the unit's drop-in directory: a
/// systemd [Service] section whose Environment= lines set the three variables below.
inline constexpr std::string_view kDropinFileName = "qsc_canary.conf";

/// The canary weights file's absolute path, which the engine loads instead of its live weights.
inline constexpr std::string_view kCanaryWeightsVariable = "QSC_CANARY_WEIGHTS";
/// The canary model's name (an interrupted activation is recognised by it).
inline constexpr std::string_view kCanaryModelVariable = "QSC_CANARY_MODEL";
/// The canary's share of the traffic, two decimals ("0.10").
inline constexpr std::string_view kCanaryTrafficVariable = "QSC_CANARY_TRAFFIC";

/// The drop-in's path in `dir` (paths.override_dir or the unit's drop-in directory).
inline std::string dropin_path(const std::string& dir) {
  return (std::filesystem::path(dir) / kDropinFileName).string();
}

}  // namespace qsc
