// The canary's recorded state (data/qsc_state.json): what is active, since when, until when.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/timestamp.hpp"
#include "lifecycle/weights.hpp"
#include "qsc/result.hpp"

namespace qsc::agent {

/// Where the canary is in its life.
enum class Phase {
  kIdle,          ///< no canary
  kCanaryActive,  ///< activated, monitoring not yet started
  kMonitoring,    ///< a monitoring period is running (or was, if the agent died: resume it)
  kCompleted,     ///< the last period ended; see last_result
  kRolledBack,    ///< rolled back (no canary active)
  kPromoted,      ///< weight raised; a new period must be monitored
  kFinalized,     ///< the canary became the live weights (no canary active)
  /// A rollback ran but its postconditions did not hold: part of the canary may still be live.
  /// Not active (nothing may monitor or promote it), but still to roll back.
  kRollbackIncomplete,
};
/// "idle", "canary_active", "monitoring", "completed", "rolled_back", "promoted", "finalized",
/// "rollback_incomplete".
std::string phase_name(Phase p);

/// Where an activation put the canary: its configuration's paths and unit at the time. A
/// rollback checks these as well as the current configuration's, so an edit of paths.* or
/// plugins.config.systemd while the canary is live cannot move the check away from a file the
/// canary still lives in.
struct CanaryPlaces {
  std::string live_weights;
  std::string baseline_weights;
  std::string canary_weights;
  std::string override_dir;  ///< the local drop-in's directory
  std::string dropin_dir;    ///< the installed drop-in's directory
  std::string unit;
  /// Written by an activation (a state from before they were recorded has none).
  bool recorded() const { return !canary_weights.empty(); }
  bool operator==(const CanaryPlaces&) const = default;
};

/// The recorded state. Times are epoch milliseconds (0 = not set).
struct CanaryState {
  Phase phase = Phase::kIdle;
  std::string model;
  double weight = 0.0;
  Weights weights;              ///< the canary weights in force
  CanaryPlaces places;          ///< where the activation put the canary
  EpochMs cutover_ms = 0;       ///< the cutover the gate judged
  EpochMs activated_ms = 0;     ///< activation time; with model, identifies the canary
  EpochMs weight_since_ms = 0;  ///< when the current weight took effect (the window's start)
  EpochMs period_start_ms = 0;  ///< the current monitoring period
  EpochMs period_end_ms = 0;
  std::uint64_t checks_done = 0;    ///< interval checks done in the current period
  std::uint64_t checks_total = 0;   ///< interval checks planned for the period
  std::string last_verdict;         ///< GO / WAIT / NO-GO at the last check
  std::string last_result;          ///< safe / inconclusive / violation / interrupted / ""
  double last_result_weight = 0.0;  ///< the weight the last completed period judged
  /// The length of the last completed period (its planned end minus its start): promotion
  /// needs a clean one of at least canary.duration. 0 when none was recorded.
  std::int64_t last_result_period_ms = 0;
  std::int64_t interval_ms = 0;  ///< the current period's check interval (0: not recorded)
  EpochMs last_watched_ms = 0;   ///< the last check, or when a monitor started or resumed
  /// last_watched_ms on this boot's clock (core/boot_clock.hpp): a resumed period's gap is at
  /// least the real time since, which a wall clock stepped back while no monitor ran hides.
  std::string last_watched_boot_id;
  std::int64_t last_watched_boot_ms = 0;
  std::uint64_t checks_missed = 0;  ///< checks that fell due while no monitor ran (or skipped)
  std::int64_t unwatched_ms = 0;    ///< time of the period no monitor watched (restarts)
  /// Of unwatched_ms, the time the system clock skipped by stepping forward while a monitor
  /// ran (the period's end and checks fall due by the wall clock, watching takes real time).
  std::int64_t clock_skipped_ms = 0;
  /// Of unwatched_ms, the time a running monitor's worker was held up between two reads of the
  /// source (stopped, swapped out, a stalled disk) below the supervisor's heartbeat limit:
  /// whatever the engine published meanwhile arrives at once, so a silence in it is not seen.
  std::int64_t held_up_ms = 0;
  /// The effective configuration's digest (Config::sha256) the current period started under.
  /// A period is judged under one configuration: parts judged under a laxer one are not the
  /// judgement its completion would vouch for, so a monitor that resumes it under another sets
  /// period_config_changed, for the rest of the period (back to the first one too), and the
  /// period can then no longer end clean.
  std::string period_config_sha256;
  bool period_config_changed = false;
  /// The detectors that judged the current period from its start: name -> SHA-256 of the
  /// library loaded (PluginRecord::sha256). nullopt when not recorded (a period started by a qsc
  /// before session 11, or none started yet). The configuration digest does not cover the
  /// libraries: a detector replaced in the plugin directory and loaded by SIGHUP (qsc plugins
  /// reload) or a restart judges the rest of the period with other code under the same digest.
  std::optional<std::map<std::string, std::string>> period_detectors;
  /// The detectors whose code differs from period_detectors in a monitor of this period
  /// (replaced, added or removed; "(not recorded)" when the period has no record), sticky for
  /// the period like period_config_changed: the period can then no longer end clean.
  std::vector<std::string> period_detectors_changed;
  /// A look at the engine's unit during the current period (its start, a check, its end) found
  /// the canary not deployed at its weight (deployment_problem): the period can then no longer
  /// end clean, since for part of it the engine did not run what it is said to have judged.
  bool period_not_deployed = false;
  /// What the last finalization, or its latest re-check (qsc promote --finalize on a finalized
  /// canary), found still live, one line each with its fix; empty when it held. The phase is
  /// finalized either way (the live weights are the canary's): `qsc state` says the
  /// finalization is incomplete while this is not empty.
  std::vector<std::string> finalize_still_live;
  /// Crash-loop accounting of the supervised monitor (agent/supervisor/crash_loop.hpp): a
  /// monitor is running, or ended without closing its session (killed, crashed, OOM).
  bool monitor_session_open = false;
  /// Monitor sessions that ended uncleanly for the canary at weight_since_ms
  /// monitor_unclean_since_ms (a new activation or weight starts the count again).
  std::uint64_t monitor_unclean_ends = 0;
  EpochMs monitor_unclean_since_ms = 0;

  /// A canary is active: its weights are (or should be) in force.
  bool active() const;
  /// A rollback is owed: a canary is active, or an earlier rollback was incomplete.
  bool needs_rollback() const;
  /// A clean monitoring period completed at the current weight (promotion allowed).
  bool clean_at_current_weight() const;

  nlohmann::ordered_json to_json() const;
};

/// Ok unless the state is rollback_incomplete; then an error for `command` naming the fix.
Status refuse_if_rollback_incomplete(const CanaryState& state, const std::string& command);

/// Reads the state; a missing file is the idle state, an unreadable one an error naming it.
Result<CanaryState> load_state(const std::filesystem::path& path);
/// Writes the state atomically.
Status save_state(const std::filesystem::path& path, const CanaryState& state);

}  // namespace qsc::agent
