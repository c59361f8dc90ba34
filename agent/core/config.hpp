// The configuration file (docs/design.md, configuration): one JSON document, strict about its keys.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qsc/canary_files.hpp"
#include "qsc/result.hpp"

namespace qsc::agent {

/// The smallest telemetry.min_events a configuration may set: docs/design.md's 200, below which a
/// window is too small to judge. Only a test build may lower it (CMake QSC_MIN_EVENTS_FLOOR).
#ifdef QSC_MIN_EVENTS_FLOOR
inline constexpr std::size_t kMinEventsFloor = QSC_MIN_EVENTS_FLOOR;
#else
inline constexpr std::size_t kMinEventsFloor = 200;
#endif

/// Where events come from.
struct TelemetryConfig {
  std::string source = "shm";  ///< "shm", "redis" or "file"
  std::string redis_url = "redis://127.0.0.1:6379/0";
  std::string stream = "quantum:stream:trade.intent";
  std::string shm_name = "qsc_trade_intent";
  /// Who besides QSC's own user may own the ring segment (the AI engine's user): a user name
  /// or uid; empty trusts only QSC's own uid. A segment owned by anyone else is refused.
  std::string shm_owner;
  std::string file;  ///< JSONL replay file when source is "file"
  std::size_t min_events = 200;
  std::size_t window_events = 2000;
  std::chrono::milliseconds stale_after{300'000};
  /// How far in the future of the agent's clock an event may be stamped before it is rejected
  /// as unreadable (future_timestamp): producers' clocks drift a little, never by hours.
  std::chrono::milliseconds max_clock_skew{5'000};
  double max_rejected_pct = 1.0;
  /// "spin", "spin_then_sleep" or "block". block (a futex wake-up) by default: measured, it
  /// detected faster at a fraction of the spinning waits' CPU and kept up where they lost events
  /// (docs/PERFORMANCE.md, "Figures behind choices in the code").
  std::string shm_wait = "block";
};

/// The canary's shape and supervision.
struct CanaryConfig {
  std::vector<std::string> models{"xgb", "lgbm", "nhits", "patchtst"};
  std::map<std::string, double> default_weights{
      {"xgb", 0.25}, {"lgbm", 0.25}, {"nhits", 0.30}, {"patchtst", 0.20}};
  double weight = 0.10;
  std::chrono::milliseconds duration{6 * 3'600'000};
  std::chrono::milliseconds interval{30'000};
  /// Unclean ends of the supervised monitor (killed, crashed) tolerated for one canary weight;
  /// a monitor started after more rolls back instead (trigger qsc_monitor_crash_loop).
  std::size_t max_restarts = 2;
};

/// Every file QSC reads or writes.
struct PathsConfig {
  std::string live_weights;  ///< empty: docs/design.md's default live weights
  std::string baseline_weights{kDefaultBaselineWeights};
  std::string canary_weights{kDefaultCanaryWeights};
  std::string override_dir{kDefaultOverrideDir};
  std::string audit_log = "logs/qsc_canary.jsonl";
  std::string reports_dir = "reports/safety";
  std::string state = "data/qsc_state.json";
};

/// The AI engine's unit: the systemd action's settings in plugins.config.systemd that the agent
/// reads too (its built-in rollback path, its rollback checks and `--cutover auto` need the unit
/// and where its drop-in is installed). The top-level "systemd" section is their deprecated alias
/// for one release (README, "Configuration").
struct SystemdConfig {
  std::string unit{kDefaultUnit};
  std::string dropin_dir{kDefaultDropinDir};
  std::string systemctl = "systemctl";
  bool operator==(const SystemdConfig&) const = default;
};

/// The plugins without which no command that judges or changes a canary may run: the eleven
/// built-in detectors (the runbook's ten and distribution_shift, the only default detector that
/// sees a confidence drift: docs/ACCURACY.md) and the rollback action. plugins.required may
/// extend it, never shrink it.
inline const std::vector<std::string> kRequiredPlugins{
    "action_collapse",      "dead_zone",   "flat_predictions", "narrow_range",    "quality_gate",
    "ensemble_dysfunction", "model_chaos", "constant_output",  "telemetry_stale", "inactive_canary",
    "distribution_shift",   "rollback"};

/// The descriptor flags (QSC_FLAG_* of qsc/plugin_abi.h) of the built-in actions, for the paths
/// that cannot read a plugin's own descriptor: the supervisor's rollback (no plugin code runs in
/// that process) and the built-in rollback standing in for an action that is not loaded. A
/// loaded plugin's own flags are used everywhere else. 0 (essential, no role) for other names.
std::uint64_t default_action_flags(std::string_view action);

/// Plugin directory, action order and per-plugin sections.
struct PluginsConfig {
  std::string dir;  ///< empty: the installation's (or build tree's) plugin directory
  std::vector<std::string> actions{"rollback", "systemd", "notify"};
  std::vector<std::string> required = kRequiredPlugins;  ///< must be loaded (see above)
  nlohmann::json config = nlohmann::json::object();      ///< plugin name -> its section
  /// Longest a detector call (or the monitor worker between two heartbeats) may take before the
  /// supervisor kills the worker and rolls back.
  std::chrono::milliseconds check_timeout{2'000};
  /// Memory the monitor worker (which runs the plugins) may use, in bytes.
  std::uint64_t max_rss_bytes = 512ull << 20;
  /// How the supervisor watches max_rss_bytes: "page_faults" (the worker's page faults wake it,
  /// resident-set rounds every 250 ms as a backstop, where the kernel lets it count them; else
  /// "rounds") or "rounds" (rounds spaced so that growth up to 12 GiB/s passes the limit by at
  /// most 20 ms of it, whatever the growth: 25 wake-ups a second at the default max_rss).
  std::string memory_watch = "page_faults";
  /// Deadline of one action run in its child process (killed and failed when late).
  std::chrono::milliseconds action_timeout{60'000};
};

/// The monitor's Prometheus endpoint (README, "Operating QSC").
struct MetricsConfig {
  /// "IPV4:PORT" or "[IPV6]:PORT" (core/listen_address.hpp); "" disables the endpoint.
  std::string listen = "127.0.0.1:9464";
  /// After the monitor ends, how long the endpoint stays up waiting for one more scrape (so the
  /// final figures, a rollback among them, reach Prometheus). 0: the monitor exits at once.
  std::chrono::milliseconds linger{0};
};

/// The whole configuration.
struct Config {
  TelemetryConfig telemetry;
  CanaryConfig canary;
  PathsConfig paths;
  SystemdConfig systemd;
  PluginsConfig plugins;
  MetricsConfig metrics;
  std::string loaded_from;  ///< the file read, or "built-in defaults"
  /// What the file still spells the deprecated way (each naming the key and its new place);
  /// the qsc command prints them on stderr. Not part of to_json().
  std::vector<std::string> warnings;
  /// SHA-256 (hex) of the effective configuration (config_sha256 below), set once by
  /// parse_config and load_config; every audit entry and report carries it.
  std::string sha256;

  /// The effective configuration as JSON (same key names as the file); handed to plugins.
  nlohmann::json to_json() const;
  /// Every plugin's section (plugins.config), with the systemd settings above in "systemd" when
  /// that section was given or they are not the defaults (a section for a plugin that is not
  /// installed is refused, and the systemd action's defaults are the same constants).
  nlohmann::json plugin_sections() const;
  /// The section for one plugin (an empty object when absent), as the plugin receives it.
  nlohmann::json plugin_section(const std::string& name) const;
  /// The path of the lock file that serialises qsc invocations (beside the state file).
  std::filesystem::path lock_path() const;
  /// The lock a running `qsc monitor` holds (shared) for its whole life, beside the state file:
  /// `qsc state` calls a period watched only while someone holds it.
  std::filesystem::path monitor_lock_path() const;
};

/// SHA-256 (hex) of to_json() dumped compactly with sorted keys: the same effective settings give
/// the same digest whatever the file's key order or whitespace, and any threshold change changes
/// it.
std::string config_sha256(const Config& config);

/// Reads a configuration document; errors name the key and what is allowed.
Result<Config> parse_config(const nlohmann::json& doc, const std::string& source);

/// Loads `explicit_path` if given, else ./qsc.json, else /etc/qsc/qsc.json, else the defaults;
/// then applies QSC_REDIS_URL from the environment.
Result<Config> load_config(const std::optional<std::string>& explicit_path);

/// The plugin directory: the configured one, else beside the installed or built qsc binary.
std::filesystem::path resolve_plugin_dir(const Config& config);

}  // namespace qsc::agent
