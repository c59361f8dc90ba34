// `qsc state [--json]`: where the canary is, and whether its telemetry could be judged now.
#include <iostream>
#include <string>
#include <vector>

#include "cli/command.hpp"
#include "cli/current_window.hpp"
#include "cli/lifecycle_support.hpp"
#include "core/console_text.hpp"
#include "core/duration.hpp"
#include "core/lock.hpp"
#include "lifecycle/canary.hpp"
#include "lifecycle/rollback_postconditions.hpp"
#include "lifecycle/state.hpp"

namespace qsc::agent {
namespace {

class StateCommand final : public Command {
 public:
  std::string name() const override { return "state"; }
  std::string summary() const override {
    return "the canary's phase, weights, monitoring progress and telemetry health";
  }
  void setup(CLI::App& app) override {
    app.add_flag("--json", json_, "print one JSON document for scripts");
    app.footer(
        "Telemetry is ok only when the scoreboard's window (the events since the canary's current "
        "weight, else the newest telemetry.window_events) holds an event and the gate's "
        "conditions hold: newest event at most telemetry.stale_after old, none lost, unreadable "
        "entries at most telemetry.max_rejected_pct; otherwise NOT OK with the reasons. In phase "
        "monitoring, NOT WATCHED when no qsc monitor runs (none holds the monitor lock beside the "
        "state file) or the one that runs has recorded no watch for an interval and a minute: "
        "the phase is what the last monitor wrote, and a stopped one leaves it. Exit 0 "
        "(the telemetry is reported, not an exit code); 2 when the state file is unreadable.");
  }
  /// The current window's telemetry judged by the gate's own conditions (the scoreboard's
  /// window): "ok" only when the window holds an event and none of them fails, never because the
  /// source merely answered.
  static nlohmann::ordered_json telemetry_health(const Config& cfg, const CanaryState& state) {
    auto source = open_source(cfg);
    if (!source) return {{"ok", false}, {"error", source.error().message}};
    nlohmann::ordered_json t = {{"source", (*source)->describe()}};
    auto window = read_current_window(cfg, **source, state);
    if (!window) {
      t["ok"] = false;
      t["error"] = window.error().message;
      return t;
    }
    const auto& counts = window->batch.counts;
    std::vector<std::string> reasons;
    // An empty window says nothing of the engine's health: no telemetry, no "ok".
    if (!window->newest_ms) {
      reasons.push_back("no trade.intent event " +
                        (window->from_ms != 0 ? "since " + format_iso(window->from_ms) +
                                                    " (the canary's current weight)"
                                              : std::string("in the source")) +
                        ": is the AI engine publishing?");
    }
    reasons.insert(reasons.end(), window->unfit.begin(), window->unfit.end());
    t["ok"] = reasons.empty();
    t["events"] = counts.accepted;
    if (window->from_ms != 0) t["window_from"] = format_iso(window->from_ms);
    if (window->newest_ms) {
      t["newest_event"] = format_iso(*window->newest_ms);
      t["newest_event_age_s"] = (window->read_ms - *window->newest_ms) / 1000;
    }
    t["events_lost"] = window->batch.events_lost;
    t["rejected"] = counts.rejected_total();
    t["rejected_pct"] = counts.rejected_pct();
    t["reasons"] = reasons;
    return t;
  }

  /// Why a period in phase "monitoring" is not being watched now, "" when it is. The phase is
  /// what the last monitor wrote, and a monitor stopped (SIGTERM, Ctrl-C), killed, or lost with
  /// its host leaves it so: a period is watched only while a `qsc monitor` holds the monitor lock
  /// (the kernel drops it when the process dies) and has recorded a watch (a check, its start or
  /// resume) within an interval and the supervisor's one-minute heartbeat floor (a monitor
  /// stopped with Ctrl-Z or SIGSTOP holds the lock and watches nothing).
  static std::string unwatched_problem(const Config& cfg, const CanaryState& state, EpochMs now) {
    const auto held = FileLock::held_by_anyone(cfg.monitor_lock_path());
    const std::string resume =
        ". Its canary is live at " + weight_percent(state.weight) +
        " unwatched: resume the period with qsc monitor (the gap is counted: the period ends "
        "inconclusive if it outlasts telemetry.stale_after), or roll back with qsc rollback";
    if (!held) return "cannot tell whether a monitor runs: " + held.error().message + resume;
    const EpochMs age_ms = std::max<EpochMs>(0, now - state.last_watched_ms);
    const std::string watched = "last watched " + format_iso(state.last_watched_ms) + ", " +
                                format_duration(std::chrono::seconds(age_ms / 1000)) + " ago";
    if (!*held) {
      return "no qsc monitor is running (none holds " + cfg.monitor_lock_path().string() + "); " +
             watched + resume;
    }
    constexpr EpochMs kHeartbeatFloorMs = 60'000;
    if (age_ms > state.interval_ms + kHeartbeatFloorMs) {
      return "a qsc monitor holds " + cfg.monitor_lock_path().string() +
             " but has recorded no watch for longer than an interval (" +
             format_duration(std::chrono::milliseconds(state.interval_ms)) +
             ") and a minute: " + watched + " (stopped? SIGSTOP or Ctrl-Z)" + resume;
    }
    return "";
  }

  int run(CommandContext& ctx) override {
    const Config& cfg = ctx.config;
    auto state = load_state(cfg.paths.state);
    if (!state) {
      std::cerr << "qsc state: " << state.error().message << "\n";
      return exit_code::kError;
    }
    auto doc = state->to_json();
    const EpochMs now = now_ms();
    if (state->period_start_ms != 0) {
      doc["elapsed_s"] = std::max<EpochMs>(0, now - state->period_start_ms) / 1000;
      doc["remaining_s"] = std::max<EpochMs>(0, state->period_end_ms - now) / 1000;
    }
    // The state records what qsc did; the engine's unit may run something else (a promotion
    // or activation killed before its systemd action, a manual install not done): said here as
    // the monitor says it (deployment_problem, checked only when QSC manages the unit).
    const std::string not_deployed = state->active() ? deployment_problem(cfg, *state) : "";
    doc["deployment_problem"] = not_deployed.empty() ? nlohmann::ordered_json(nullptr)
                                                     : nlohmann::ordered_json(not_deployed);
    const std::string unwatched =
        state->phase == Phase::kMonitoring ? unwatched_problem(cfg, *state, now) : "";
    if (state->phase == Phase::kMonitoring) {
      doc["monitor_watching"] = unwatched.empty();
      doc["monitor_problem"] =
          unwatched.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(unwatched);
    }
    // A phase with no canary is what the state file says, not what is on disk: a state file
    // lost, deleted or from elsewhere (paths.state changed) reads as idle while the canary's
    // weights and its installed drop-in still run it. Its files present say otherwise.
    const bool says_no_canary = !state->active() && state->phase != Phase::kRollbackIncomplete &&
                                state->finalize_still_live.empty();
    const auto files_left =
        says_no_canary ? canary_files_left(cfg, "") : std::vector<std::string>{};
    if (says_no_canary) doc["canary_files_left"] = files_left;
    doc["telemetry"] = telemetry_health(cfg, *state);
    if (json_) {
      std::cout << doc.dump(2) << "\n";
      return exit_code::kOk;
    }
    std::cout << "Phase:         " << phase_name(state->phase) << "\n";
    if (state->phase == Phase::kFinalized && !state->finalize_still_live.empty()) {
      std::cout << "               ❌ the finalization is INCOMPLETE: the live weights are the "
                   "canary's, but part of it is still live:\n";
      for (const auto& line : state->finalize_still_live) {
        std::cout << "                  - " << line << "\n";
      }
      std::cout << "               Finish these, then run qsc promote --finalize to verify.\n";
    }
    if (state->phase == Phase::kRollbackIncomplete) {
      std::cout << "               ❌ the last rollback is INCOMPLETE: part of the canary may "
                   "still be live. Run qsc rollback: it names what is left and how to remove it "
                   "(rollback_failed in the audit log lists it too).\n";
    }
    if (!files_left.empty()) {
      std::cout << "               ❌ CANARY FILES PRESENT: the state file (" << cfg.paths.state
                << ") says no canary is active, but:\n";
      for (const auto& line : files_left) std::cout << "                  - " << line << "\n";
      std::cout << "               The engine may run a canary no qsc watches. Roll it back: qsc "
                   "rollback (it names the model from the drop-in).\n";
    }
    if (!state->model.empty()) {
      std::cout << "Canary:        " << state->model << " at " << weight_percent(state->weight)
                << "\n"
                << "Activated:     " << format_iso(state->activated_ms) << "\n";
      if (!not_deployed.empty()) {
        std::cout << "               ❌ NOT DEPLOYED at this weight: " << not_deployed
                  << ". A monitoring period is inconclusive (CANARY NOT DEPLOYED) until the "
                     "drop-in is installed; qsc rollback undoes it.\n";
      }
      if (!state->weights.empty()) {
        std::cout << "Weights:\n"
                  << format_weights_block(state->weights, state->model, cfg.canary.models);
      }
    }
    if (state->period_start_ms != 0) {
      std::cout << "Monitoring:    " << format_iso(state->period_start_ms) << " -> "
                << format_iso(state->period_end_ms) << ", checks " << state->checks_done << "/"
                << state->checks_total << ", remaining "
                << format_remaining(
                       std::chrono::milliseconds(std::max<EpochMs>(0, state->period_end_ms - now)))
                << "\n";
    }
    if (!unwatched.empty()) std::cout << "               ❌ NOT WATCHED: " << unwatched << ".\n";
    if (!state->last_verdict.empty()) std::cout << "Last verdict:  " << state->last_verdict << "\n";
    if (!state->last_result.empty()) std::cout << "Last result:   " << state->last_result << "\n";
    const auto& telemetry = doc["telemetry"];
    std::cout << "Telemetry:     ";
    if (telemetry.contains("error")) {
      std::cout << "❌ UNAVAILABLE: " << telemetry["error"].get<std::string>() << "\n";
    } else {
      std::cout << (telemetry["ok"].get<bool>() ? "" : "❌ NOT OK: ")
                << telemetry["source"].get<std::string>() << ", "
                << telemetry["events"].get<std::uint64_t>() << " events in the window";
      const auto& reasons = telemetry["reasons"];
      if (!reasons.empty()) {
        std::cout << ": " << join_reasons(reasons.get<std::vector<std::string>>());
      }
      std::cout << "\n";
    }
    return exit_code::kOk;
  }

 private:
  bool json_ = false;
};

QSC_REGISTER_COMMAND(StateCommand);

}  // namespace
}  // namespace qsc::agent
