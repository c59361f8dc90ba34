// The plugin host: loads every detector and action plugin from the plugin directory (Boost.DLL),
// refuses unsafe or incompatible libraries with a one-line reason, and calls plugins so that a
// failing detector counts as a violation (fail closed) and never takes the agent down.
//
// Usage:
//
//   auto host = qsc::agent::PluginHost::open(config);       // dir = resolve_plugin_dir(config)
//   if (!host) return fail(host.error().message);           // directory missing or unreadable
//   if (auto s = host->startup_status(); !s)                // refused configuration section,
//     return fail(s.error().message);                       // insecure directory, unknown section
//   for (const auto& r : host->records()) ...               // loaded and rejected, name order
//
//   for (const auto& c : host->check_all(input))            // every loaded detector, name order
//     if (c.acts()) violations.push_back(c.result.message); // kViolation or kError
//
//   incident.violations = violations;
//   auto outcomes = host->run_actions(config.plugins.actions, incident);  // in order, all run
//
//   // SIGHUP: swap plugin sets; the caller's own state (windows, counters) is untouched.
//   PluginHost::ReloadReport changes;
//   if (auto s = host->reload(&changes); !s) log(s.error().message);  // old set kept
//
// A PluginHost is not thread-safe: call check_all, run_action(s) and reload from one thread (the
// monitor's SIGHUP handler should only set a flag that its loop acts on).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config.hpp"
#include "qsc/action.hpp"
#include "qsc/checks.hpp"
#include "qsc/detector.hpp"
#include "qsc/result.hpp"

namespace qsc::agent {

namespace detail {
struct PluginHostState;  // defined in plugin_host.cpp
}  // namespace detail

/// What the host knows about one file of the plugin directory, loaded or not.
struct PluginRecord {
  std::string name;  ///< the descriptor's name; the file's stem when the descriptor was not read
  std::string kind;  ///< "detector", "action", or "" when unknown
  std::string version;
  std::string file;  ///< full path of the library
  /// SHA-256 (hex) of the library's bytes as loaded (read through the descriptor dlopen was
  /// handed); "" when it was not read (rejected before, or the host was opened with
  /// LibraryDigests::kSkip). A monitoring period records its detectors' digests: a library
  /// replaced and reloaded mid-period is other code.
  std::string sha256;
  std::string status;  ///< "loaded", "rejected", or "described" (PluginHost::describe)
  std::string reason;  ///< one line, only when rejected
  std::string description;
  std::string scope;            ///< detectors: qsc::detector_scope_name of what it judges; else ""
  std::uint32_t abi_major = 0;  ///< as the plugin declared it (0 when unreadable)
  std::uint32_t abi_minor = 0;
  nlohmann::json effective_config;  ///< the plugin's effective thresholds (null when not loaded)
  std::uint64_t flags = 0;          ///< QSC_FLAG_* of its descriptor (0 when not read)
  /// Its configuration schema (key -> type, range, default), null when it declares none.
  nlohmann::json config_schema;

  /// True when the plugin is in use.
  bool loaded() const noexcept { return status == "loaded"; }
};

/// One detector's result at one check.
struct NamedCheck {
  std::string detector;
  qsc::CheckResult result;

  /// True when the caller must act: a violation, or an error (fail closed).
  bool acts() const noexcept {
    return result.verdict == qsc::Verdict::kViolation || result.verdict == qsc::Verdict::kError;
  }
};

/// How an evaluation of a live period calls the detectors (EvaluationStep): which accepted
/// events its input's new_events hold, and whether a detector may be skipped within its verdict
/// horizon (qsc_check_sink::set_horizon, ABI 2.1). Accepted events are numbered from 1 per owner.
/// How many horizon conditions ABI 2.2 defines on accepted events (QSC_UNLESS_*: bit i is
/// condition i); ABI 2.3's, on the telemetry, follow them and are read from the input.
inline constexpr std::size_t kHorizonConditions = 2;

struct EventSchedule {
  /// Who numbers the events: an id unique in the process (new_schedule_owner(), one per
  /// evaluation step). A detector last called under another owner, or under none, is called as
  /// new.
  std::uint64_t owner = 0;
  /// The number of the newest accepted event: input.new_events are the events numbered
  /// (accepted_events - new_events.size(), accepted_events], oldest first. They must reach back
  /// to oldest_event_needed().
  std::uint64_t accepted_events = 0;
  /// The accepted events when this owner last called check_all: a detector it has not called
  /// before (loaded by a reload since) is shown the events after it, as before horizons.
  std::uint64_t previous_events = 0;
  /// True only for the event-driven evaluation (the worker's per-read evaluation, replay's
  /// per-entry one): a detector whose pass or insufficient verdict came with a horizon that
  /// still covers accepted_events is not called and keeps its result in `out`. False (interval
  /// checks, the period's end, silence, anything that is reported or published): every detector
  /// is called, each with the events it has not seen.
  bool honour_horizons = false;
  /// True when the caller watches every accepted event for the horizons' conditions
  /// (qsc_check_sink::set_horizon_unless, ABI 2.2) and fills condition_events; a horizon with a
  /// condition is honoured only then.
  bool watches_conditions = false;
  /// Per condition (bit i of QSC_UNLESS_*), the number of the newest accepted event that brought
  /// it, 0 when none has: a detector whose horizon names it and that has not seen that event is
  /// called.
  std::array<std::uint64_t, kHorizonConditions> condition_events{};
  /// True when newest_event_ms is given: a horizon with a clock (qsc_check_sink::
  /// set_horizon_clock, ABI 2.3) is honoured only then. The conditions on the telemetry
  /// (QSC_UNLESS_EVENTS_LOST, _REJECTED_ENTRY, _SOURCE_DOWN) are read from the input's telemetry.
  bool watches_clock = false;
  /// The largest time_ms of the accepted events so far (0 before any).
  std::uint64_t newest_event_ms = 0;
  /// Names the storage the caller holds its accepted events in: changed whenever one of them
  /// may have moved (reallocated, compacted). While it stays the same, an event's C form written
  /// for one evaluation is handed again to a detector called later, not written again
  /// (AbiCheckInput::write_held). 0: unnamed, every event is written at every call.
  std::uint64_t storage_generation = 0;
};

/// A new EventSchedule::owner, never handed out before in this process.
std::uint64_t new_schedule_owner() noexcept;

/// The most accepted events a horizon is honoured for, whatever the detector promised: a skipped
/// result (its message and figures, not its verdict) is never older than this, and it bounds
/// the events an evaluation step keeps for its skipped detectors.
inline constexpr std::uint64_t kMaxHorizonEvents = 1000;

/// Told around every call into plugin code (loading a file, a detector's check, an action's
/// execute), so the supervised monitor's worker can publish which plugin is running: a plugin
/// that crashes or hangs the worker is then named in the rollback. Process-wide; none by
/// default. The calls must not throw.
class PluginCallObserver {
 public:
  virtual ~PluginCallObserver() = default;
  /// `activity`: "load" (plugin is then the file name), "check" or "action".
  virtual void entering(std::string_view plugin, std::string_view activity) noexcept = 0;
  virtual void left() noexcept = 0;
  /// Called inside the call (before left()) when a detector's check failed because an
  /// allocation was refused (it reported std::bad_alloc, which the SDK turns into its error
  /// message). The worker treats that as a worker failure, not a verdict: a process out of
  /// memory cannot judge. Default: nothing (the error counts as a violation, as any error).
  virtual void allocation_refused(std::string_view plugin, std::string_view activity,
                                  std::string_view detail) noexcept {
    (void)plugin;
    (void)activity;
    (void)detail;
  }
};
/// Installs `observer` (nullptr: none); returns the previous one.
PluginCallObserver* set_plugin_call_observer(PluginCallObserver* observer) noexcept;

/// Whether the host digests each library before loading it (PluginRecord::sha256). Only the
/// monitor (its period's record of the detectors' code) and `qsc plugins list` read the digests;
/// every other command loads without them (about 1 MiB of SHA-256 per library, in each process
/// that opens the host). Computing is the default so that a new reader of the digests gets them.
enum class LibraryDigests { kCompute, kSkip };

/// Files (full path) the host must reject without loading them, with the reason: libraries whose
/// loading crashed or hung a throwaway child (agent/supervisor/plugin_probe.hpp).
using RefusedFiles = std::map<std::string, std::string>;

/// The loaded plugin set of one plugin directory.
class PluginHost {
 public:
  /// What a reload changed, by plugin name (or file name for files whose name is unknown).
  struct ReloadReport {
    std::vector<std::string> added;     ///< newly loaded
    std::vector<std::string> removed;   ///< unloaded: file gone, or rejected now
    std::vector<std::string> replaced;  ///< file or section changed: unloaded and loaded again
    std::vector<std::string> rejected;  ///< "file: reason" for every rejected file
    /// True when nothing was added, removed or replaced.
    bool unchanged() const noexcept { return added.empty() && removed.empty() && replaced.empty(); }
  };

  /// Loads the directory resolve_plugin_dir(config), handing each plugin
  /// config.plugin_section(name) and config.to_json(). Errors only when the directory itself
  /// cannot be listed; a bad plugin is a rejected record, never an error here. A file of
  /// `refused` is a rejected record with its reason, never opened (reloads keep refusing it).
  /// `digests`: whether records carry sha256 (reloads keep the choice).
  static Result<PluginHost> open(const Config& config, RefusedFiles refused = {},
                                 LibraryDigests digests = LibraryDigests::kCompute);
  /// Same, with the directory given and `host_config` being the whole configuration as JSON (the
  /// plugin sections are read from its plugins.config).
  static Result<PluginHost> open(std::filesystem::path dir, nlohmann::json host_config,
                                 RefusedFiles refused = {},
                                 LibraryDigests digests = LibraryDigests::kCompute);

  /// Reads every plugin's descriptor (kind, flags, config schema) without creating any plugin,
  /// so that `qsc config` checks the sections against the schemas without running plugin code
  /// beyond the library's load. Records read "described"; nothing is loaded for checks or
  /// actions.
  static Result<PluginHost> describe(const Config& config);

  PluginHost(PluginHost&&) noexcept;
  PluginHost& operator=(PluginHost&&) noexcept;
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;
  /// Destroys every instance, then unloads its library.
  ~PluginHost();

  /// The plugin directory in use.
  const std::filesystem::path& dir() const noexcept;
  /// Every `*.so` of the directory, in file name order, with its status.
  const std::vector<PluginRecord>& records() const noexcept;
  /// Problems that must stop the agent from starting: a configuration section a plugin refused,
  /// a plugins.config section naming no plugin in the directory (a typo must not silently keep
  /// the defaults), a directory writable by others. Ok when there is none.
  Status startup_status() const;

  /// Runs every loaded detector in name order. A detector that throws or reports kError yields a
  /// kError result whose message names the detector; it is logged and counts as a violation.
  std::vector<NamedCheck> check_all(const qsc::CheckInput& input);
  /// The same into `out`, written over its previous results: the monitor checks at every event,
  /// and reused results (names, messages, figures) keep their storage.
  void check_all(const qsc::CheckInput& input, std::vector<NamedCheck>& out);
  /// The same for an evaluation of a live period (EventSchedule): each detector gets the events
  /// it has not seen (a skipped one receives them at its next call, oldest first); with
  /// schedule.honour_horizons a detector within its horizon is skipped, unless a result of this
  /// evaluation acts: then every detector is called, so that what a rollback lists is fresh.
  /// Returns how many detectors were skipped.
  std::size_t check_all(const qsc::CheckInput& input, const EventSchedule& schedule,
                        std::vector<NamedCheck>& out);
  /// True when check_all(input, schedule, out), `input.telemetry` being `telemetry`, would call
  /// no detector: every one is within its horizon (check_all's very test) with its result in
  /// `out`, which holds no other. Such a call would only count the skips and change nothing
  /// else, so a caller may leave it (and the figures it would have written) out. `out` is read
  /// once per check (the answer is folded after each, HorizonSummary): between checks of this
  /// host its results must be as the last one left them (EvaluationStep's are: only checks
  /// write them); another vector, or one resized, is read anew.
  bool skips_every_detector(const qsc::TelemetryHealth& telemetry, const EventSchedule& schedule,
                            const std::vector<NamedCheck>& out) const noexcept;
  /// For a caller that may read events late (the monitor's wake, EvaluationStep::
  /// events_before_call): how many more accepted events can arrive after `accepted` with every
  /// detector called under `owner` still skipped by an event-driven evaluation, as check_all
  /// would judge it; 0 when some detector must be called at the next one (no horizon, new to
  /// this owner, a condition already met, or a part of its horizon the caller cannot vouch
  /// for). `prompt_conditions` (QSC_UNLESS_* bits) are the conditions the caller reads at once
  /// when an event or the telemetry brings one; `condition_events` and `telemetry` are what an
  /// evaluation now would be given. A horizon's clock counts only when it holds for any event
  /// stamped up to `latest_event_ms` read after up to `max_silence_s` of silence.
  std::uint64_t events_within_horizons(
      std::uint64_t owner, std::uint64_t accepted, std::uint64_t prompt_conditions,
      const std::array<std::uint64_t, kHorizonConditions>& condition_events,
      const qsc::TelemetryHealth& telemetry, std::uint64_t latest_event_ms,
      double max_silence_s) const noexcept;
  /// The oldest accepted event some detector called under `owner` has not been shown (the first
  /// event an EventSchedule's new_events must hold); `next` when every one has seen up to it.
  std::uint64_t oldest_event_needed(std::uint64_t owner, std::uint64_t next) const noexcept;
  /// Runs the loaded detectors of one scope in name order, as check_all does: the gate and the
  /// scoreboard run kEachModel ones once per model and kEnsemble ones once per window.
  std::vector<NamedCheck> check_scope(const qsc::CheckInput& input, qsc::DetectorScope scope);

  /// Runs one action; an action that is not loaded gives a failed outcome naming it (and why).
  qsc::ActionOutcome run_action(const std::string& name, const qsc::Incident& incident);
  /// Runs the actions in `order`; a failing one does not skip the rest. Each later action sees the
  /// outcomes of the earlier ones in incident.earlier.
  std::vector<qsc::ActionOutcome> run_actions(const std::vector<std::string>& order,
                                              qsc::Incident incident);

  /// Scans the directory again: loads new files, unloads removed ones, reloads changed ones;
  /// unchanged plugins keep their instances. If the directory itself is unusable (missing,
  /// unreadable, writable by others) nothing changes and the error says why.
  Status reload(ReloadReport* report = nullptr);
  /// Same, with a new configuration (a plugin whose section changed is created again).
  Status reload(const Config& config, ReloadReport* report = nullptr);

  /// True when a plugin of that name is loaded.
  bool has(const std::string& name) const noexcept;
  /// The QSC_FLAG_* bits of the loaded plugin of that name; nullopt when none is loaded.
  std::optional<std::uint64_t> flags_of(const std::string& name) const noexcept;
  /// Names of the loaded detectors, in name order.
  std::vector<std::string> detector_names() const;

 private:
  explicit PluginHost(std::unique_ptr<detail::PluginHostState> state);
  // Runs the loaded detectors (of `scope`, or all) in name order into `out`.
  void check_detectors(const qsc::CheckInput& input, std::optional<qsc::DetectorScope> scope,
                       std::vector<NamedCheck>& out);
  // Calls the scheduled detectors (those of `call`, by their index in the loaded set) with the
  // events each has not seen.
  void call_scheduled(const qsc::CheckInput& input, const EventSchedule& schedule,
                      const std::vector<std::pair<std::size_t, std::size_t>>& call,
                      std::vector<NamedCheck>& out);
  std::unique_ptr<detail::PluginHostState> state_;
};

}  // namespace qsc::agent
