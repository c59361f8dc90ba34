// The canary's transitions.
#include "lifecycle/canary.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "core/console_text.hpp"
#include "core/duration.hpp"
#include "core/files.hpp"
#include "core/host_name.hpp"
#include "core/timestamp.hpp"
#include "lifecycle/builtin_rollback.hpp"
#include "lifecycle/rollback_postconditions.hpp"
#include "qsc/json_limits.hpp"
#include "qsc/plugin_abi.h"

namespace qsc::agent {
namespace {

namespace fs = std::filesystem;

// Whether this process may install the drop-in: the unit directory, or the nearest existing
// ancestor it would be created under, must be writable. Without permission the runbook's
// manual install is printed instead of failing the activation.
bool dropin_dir_writable(const Config& config) {
  fs::path dir = config.systemd.dropin_dir;
  std::error_code ec;
  while (!dir.empty() && !fs::exists(dir, ec)) {
    if (dir == dir.parent_path()) break;
    dir = dir.parent_path();
  }
  return !dir.empty() && fs::is_directory(dir, ec) && ::access(dir.c_str(), W_OK) == 0;
}

std::string manual_install_commands(const Config& config) {
  return "  sudo mkdir -p " + config.systemd.dropin_dir + "\n  sudo cp " +
         local_dropin_path(config) + " " + config.systemd.dropin_dir + "/\n" +
         "  sudo systemctl daemon-reload\n  sudo systemctl restart " + config.systemd.unit + "\n";
}

bool has_flag(const LifecycleContext& ctx, const std::string& action, std::uint64_t flag) {
  return (action_flags(ctx, action) & flag) != 0;
}

// The configured action order for activation and promotion, without the actions that need the
// privilege to write the unit directory when it is not writable (the runbook's manual install
// is printed instead). A rollback always runs every configured action: what it could not undo
// is found by the postcondition check and reported with the commands that finish it, never
// skipped in silence.
std::vector<std::string> action_order(const LifecycleContext& ctx, bool* skipped_privileged) {
  std::vector<std::string> order;
  const bool permitted = dropin_dir_writable(ctx.config);
  for (const auto& a : ctx.config.plugins.actions) {
    if (has_flag(ctx, a, QSC_FLAG_NEEDS_PRIVILEGE) && !permitted) {
      if (skipped_privileged) *skipped_privileged = true;
      continue;
    }
    order.push_back(a);
  }
  return order;
}

// The actions of a transition that ends the canary (rollback, finalization), split into those
// run before the postcondition check and the best-effort ones (notify) run after it: a page
// saying "done" before the check would be false whenever the check then fails. Every configured
// action runs, systemd too when the unit directory is not writable: what it cannot remove, the
// check reports with the commands. Only when no drop-in is installed (activation printed the
// manual install instead) is there nothing for it to remove, and a restart it is not permitted
// to do would fail the transition for nothing.
void ending_action_order(const LifecycleContext& ctx, bool installed,
                         std::vector<std::string>* order, std::vector<std::string>* after_check) {
  for (const auto& a : ctx.config.plugins.actions) {
    if (has_flag(ctx, a, QSC_FLAG_NEEDS_PRIVILEGE) && !installed &&
        !dropin_dir_writable(ctx.config)) {
      continue;
    }
    (has_flag(ctx, a, QSC_FLAG_BEST_EFFORT) ? *after_check : *order).push_back(a);
  }
}

// Whether a drop-in (or a dangling link in its place) is installed in the unit directory.
bool dropin_installed(const Config& config) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(installed_dropin_path(config), ec));
}

Incident make_incident(IncidentKind kind, const CanaryState& state, std::string trigger) {
  Incident i;
  i.kind = kind;
  i.trigger = std::move(trigger);
  i.canary_model = state.model;
  i.canary_weight = state.weight;
  i.state_json = state.to_json().dump();
  i.hostname = host_name();
  i.timestamp = format_iso(now_ms());
  return i;
}

nlohmann::ordered_json outcomes_json(const std::vector<ActionOutcome>& outcomes) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& o : outcomes) {
    out.push_back({{"action", o.action},
                   {"result", o.ok ? "ok" : "failed"},
                   {"detail", o.detail},
                   {"duration_ms", o.duration_ms}});
  }
  return out;
}

nlohmann::ordered_json weights_object(const Weights& w) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& [k, v] : w) j[k] = v;
  return j;
}

// A best-effort action's failure (a notification) is reported but never fails a transition: the
// rollback itself must not depend on a pager being reachable. Nor does an action the built-in
// rollback bypassed.
bool essential_failed(const LifecycleContext& ctx, const std::vector<ActionOutcome>& outcomes,
                      std::string* which) {
  bool failed = false;
  for (const auto& o : outcomes) {
    if (!o.ok && !has_flag(ctx, o.action, QSC_FLAG_BEST_EFFORT) &&
        o.detail.rfind(kBypassedPrefix, 0) != 0) {
      failed = true;
      if (which) *which += (which->empty() ? "" : "; ") + o.action + ": " + o.detail;
    }
  }
  return failed;
}

TransitionResult fail(int code, std::string message, CanaryState state = {}) {
  TransitionResult r;
  r.exit_code = code;
  r.message = std::move(message);
  r.state = std::move(state);
  return r;
}

// One `Environment=NAME=VALUE` line of the drop-in.
std::string environment_line(std::string_view name, const std::string& value) {
  return "Environment=" + std::string(name) + "=" + value + "\n";
}

bool canary_files_exist(const Config& config) {
  std::error_code ec;
  return fs::exists(config.paths.canary_weights, ec) || fs::exists(local_dropin_path(config), ec);
}

// The model of an activation that was interrupted before it recorded its state: the drop-in
// names it once written, and before that the activation's first audit entry does.
std::string interrupted_model(const Config& config) {
  if (auto text = read_file(local_dropin_path(config))) {
    const std::string key = std::string(kCanaryModelVariable) + "=";
    if (const auto at = text->find(key); at != std::string::npos) {
      const auto begin = at + key.size();
      return text->substr(begin, text->find('\n', begin) - begin);
    }
  }
  auto log = read_file(config.paths.audit_log);
  if (!log) return "";
  constexpr std::string_view kStarted = "\"action\":\"canary_activation_started\"";
  const auto at = log->rfind(kStarted);
  if (at == std::string::npos) return "";
  const auto line_begin = log->rfind('\n', at);
  const auto begin = line_begin == std::string::npos ? 0 : line_begin + 1;
  const auto line = std::string_view(*log).substr(begin, log->find('\n', at) - begin);
  if (qsc::json_too_deep_at(line)) return "";
  auto entry = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  return entry.is_object() ? entry.value("canary_model", "") : "";
}

}  // namespace

void fault_point(const char* point) {
  const char* want = std::getenv("QSC_FAULT_INJECT");
  if (!want || std::string_view(want) != point) return;
  // A `pause_` point stops the process (holding whatever it holds) until SIGCONT.
  ::raise(std::string_view(point).find(":pause_") != std::string_view::npos ? SIGSTOP : SIGKILL);
}

std::string local_dropin_path(const Config& config) {
  return dropin_path(config.paths.override_dir);
}

std::uint64_t action_flags(const LifecycleContext& ctx, const std::string& action) {
  return ctx.action_flags ? ctx.action_flags(action) : default_action_flags(action);
}

std::string render_dropin(const Config& config, const std::string& model, double weight) {
  std::error_code ec;
  auto weights_path = fs::absolute(config.paths.canary_weights, ec);
  char traffic[32];
  std::snprintf(traffic, sizeof traffic, "%.2f", weight);
  return "# Written by qsc activate; removed by qsc rollback. Do not edit.\n[Service]\n" +
         environment_line(kCanaryWeightsVariable,
                          ec ? config.paths.canary_weights : weights_path.string()) +
         environment_line(kCanaryModelVariable, model) +
         environment_line(kCanaryTrafficVariable, traffic);
}

std::string deployment_problem(const Config& config, const CanaryState& state) {
  const auto& actions = config.plugins.actions;
  if (std::find(actions.begin(), actions.end(), "systemd") == actions.end()) return {};
  const std::string installed_path = installed_dropin_path(config);
  std::error_code ec;
  if (!fs::exists(installed_path, ec)) {
    return "no drop-in is installed at " + installed_path + " (" +
           (ec ? ec.message() : std::string("no such file")) + "): the engine's unit " +
           config.systemd.unit + " does not run the canary";
  }
  auto installed = read_file(installed_path);
  if (!installed) {
    return "the installed drop-in " + installed_path + " cannot be read (" +
           installed.error().message + "), so what the engine runs cannot be told";
  }
  char traffic[32];
  std::snprintf(traffic, sizeof traffic, "%.2f", state.weight);
  if (installed->find(environment_line(kCanaryModelVariable, state.model)) == std::string::npos ||
      installed->find(environment_line(kCanaryTrafficVariable, traffic)) == std::string::npos) {
    return "the drop-in installed at " + installed_path + " does not run " + state.model + " at " +
           traffic + " (" + std::string(kCanaryModelVariable) + " and " +
           std::string(kCanaryTrafficVariable) + " differ)";
  }
  const std::string local_path = local_dropin_path(config);
  auto local = read_file(local_path);
  if (!local || *local != *installed) {
    return "the drop-in installed at " + installed_path + " is not the one qsc wrote (" +
           local_path + (local ? ")" : ", " + local.error().message + ")");
  }
  return {};
}

Status clean_interrupted_activation(const Config& config, const CanaryState& state) {
  if (state.active() || !canary_files_exist(config)) return ok_status();
  for (const auto& path : {config.paths.canary_weights, local_dropin_path(config)}) {
    if (auto s = remove_file_durable(path); !s) return s;
  }
  return AuditLog(config).append(
      "activation_abandoned", {{"detail",
                                "removed canary files left by an activation interrupted before it "
                                "recorded its state"}});
}

namespace {

// Takes a just-activated canary out again. Should the rollback refuse (it leaves the files for a
// retry), the state still must not say canary_active for an activation that exited non-zero:
// it is marked rollback_incomplete, which qsc rollback retries and every other command refuses.
TransitionResult take_back(const LifecycleContext& ctx, const RollbackRequest& request) {
  auto rolled = rollback_canary(ctx, request);
  if (rolled.exit_code != 0 && rolled.state.active()) {
    rolled.state.phase = Phase::kRollbackIncomplete;
    (void)save_state(ctx.config.paths.state, rolled.state);
  }
  return rolled;
}

}  // namespace

TransitionResult activate_canary(const LifecycleContext& ctx, const std::string& model,
                                 double weight, const GateReport& gate) {
  const Config& cfg = ctx.config;
  auto loaded = load_state(cfg.paths.state);
  if (!loaded) return fail(2, loaded.error().message);
  CanaryState previous = *loaded;
  if (auto s = refuse_if_rollback_incomplete(previous, "activation"); !s) {
    return fail(2, s.error().message, previous);
  }
  if (previous.active()) {
    return fail(2,
                "a canary is already active: " + previous.model + " at " +
                    weight_percent(previous.weight) + " since " +
                    format_iso(previous.activated_ms) + " (phase " + phase_name(previous.phase) +
                    "). Roll it back (qsc rollback) or promote it (qsc promote) first.",
                previous);
  }
  if (auto s = clean_interrupted_activation(cfg, previous); !s) return fail(2, s.error().message);
  auto live = load_live_weights(cfg);
  if (!live) return fail(2, live.error().message);
  auto weights = canary_weights(live->weights, model, weight);
  if (!weights) return fail(2, weights.error().message);

  // Undo for a failure before the commit point: put back what was there.
  const auto old_baseline = read_file(cfg.paths.baseline_weights);
  auto undo = [&](const std::string& why) {
    (void)remove_file_durable(cfg.paths.canary_weights);
    (void)remove_file_durable(local_dropin_path(cfg));
    if (old_baseline) {
      (void)write_file_atomic(cfg.paths.baseline_weights, *old_baseline);
    } else {
      (void)remove_file_durable(cfg.paths.baseline_weights);
    }
    return fail(2, "activation failed and was undone: " + why, previous);
  };

  // Logged before anything is written: a crash or a hung action from here on still leaves the
  // activation (and the weights to restore) in the log.
  if (auto s = AuditLog(cfg).append("canary_activation_started",
                                    {{"canary_model", model},
                                     {"canary_weight", weight},
                                     {"weights", weights_object(*weights)},
                                     {"baseline_weights", weights_object(live->weights)},
                                     {"cutover_ts", format_iso(gate.request.cutover_ms)}});
      !s) {
    return fail(2,
                "nothing was activated: the audit log could not be written: " + s.error().message,
                previous);
  }
  fault_point("activate:before_backup");
  if (auto s = write_file_atomic(cfg.paths.baseline_weights, live->bytes); !s) {
    return undo(s.error().message);
  }
  fault_point("activate:after_backup");
  fault_point("activate:pause_after_backup");
  if (auto s = write_file_atomic(cfg.paths.canary_weights, weights_json(*weights)); !s) {
    return undo(s.error().message);
  }
  fault_point("activate:after_canary_weights");
  if (auto s = write_file_atomic(local_dropin_path(cfg), render_dropin(cfg, model, weight)); !s) {
    return undo(s.error().message);
  }
  fault_point("activate:after_dropin");

  CanaryState state;
  state.phase = Phase::kCanaryActive;
  state.model = model;
  state.weight = weight;
  state.weights = *weights;
  state.cutover_ms = gate.request.cutover_ms;
  state.activated_ms = now_ms();
  state.weight_since_ms = state.activated_ms;
  state.places = canary_places(cfg);
  // The commit point: from here on the canary exists, and qsc rollback can always undo it.
  if (auto s = save_state(cfg.paths.state, state); !s) return undo(s.error().message);
  fault_point("activate:after_state");

  TransitionResult r;
  r.state = state;
  bool skipped_systemd = false;
  const auto order = action_order(ctx, &skipped_systemd);
  r.outcomes = ctx.run_actions(order, make_incident(IncidentKind::kActivate, state, "activation"));
  fault_point("activate:after_actions");
  std::string failures;
  if (essential_failed(ctx, r.outcomes, &failures)) {
    // The engine may be down or half-configured: take the canary out again, at once.
    RollbackRequest undo_request;
    undo_request.trigger = "activation_failed";
    undo_request.reason = failures;
    auto rolled = take_back(ctx, undo_request);
    r.exit_code = 2;
    r.message = "activation failed in an action (" + failures +
                "); rolled back: " + (rolled.exit_code == 0 ? "yes" : "NO - " + rolled.message);
    r.state = rolled.state;
    return r;
  }

  nlohmann::ordered_json entry{
      {"canary_model", model},
      {"canary_weight", weight},
      {"weights", weights_object(*weights)},
      {"baseline_weights", weights_object(live->weights)},
      {"cutover_ts", format_iso(gate.request.cutover_ms)},
      {"quality_gate_events", gate.events_analysed},
      {"monitoring_duration_hours",
       std::chrono::duration<double, std::ratio<3600>>(cfg.canary.duration).count()},
      {"rollback_cmd", "qsc rollback"},
      {"files",
       {{"baseline_weights", cfg.paths.baseline_weights},
        {"canary_weights", cfg.paths.canary_weights},
        {"dropin", local_dropin_path(cfg)},
        {"state", cfg.paths.state}}},
      {"dropin_installed", !skipped_systemd},
      {"actions", outcomes_json(r.outcomes)}};
  if (auto s = AuditLog(cfg).append("canary_activated", entry); !s) {
    // An activation that exits non-zero must not leave a live canary behind.
    RollbackRequest undo_request;
    undo_request.trigger = "activation_failed";
    undo_request.reason = "the audit log could not be written: " + s.error().message;
    auto rolled = take_back(ctx, undo_request);
    r.exit_code = 2;
    r.message = "activation failed: the audit log could not be written (" + s.error().message +
                "); fix paths.audit_log (" + cfg.paths.audit_log +
                "). Rolled back: " + (rolled.exit_code == 0 ? "yes" : "NO - " + rolled.message);
    r.outcomes.insert(r.outcomes.end(), rolled.outcomes.begin(), rolled.outcomes.end());
    r.state = rolled.state;
    return r;
  }
  r.exit_code = 0;
  if (skipped_systemd) {
    r.manual_step = "Systemd override not installed (no permission to write " +
                    cfg.systemd.dropin_dir + "). Install it manually:\n" +
                    manual_install_commands(cfg);
  }
  return r;
}

TransitionResult rollback_canary(const LifecycleContext& ctx, const RollbackRequest& request) {
  const Config& cfg = ctx.config;
  // An unreadable state file must not keep a canary live: what is on disk (canary files,
  // drop-ins, the baseline backup) says what to undo.
  CanaryState state;
  std::string state_problem;
  if (auto loaded = load_state(cfg.paths.state)) {
    state = *loaded;
  } else {
    state_problem = loaded.error().message;
  }
  const bool installed = dropin_installed(cfg);
  if (!state.needs_rollback() && !canary_files_exist(cfg) && !installed) {
    TransitionResult r;
    r.exit_code = 0;
    r.message =
        state_problem.empty()
            ? "Nothing to roll back: no canary is active (phase " + phase_name(state.phase) + ")."
            : "Nothing to roll back: no canary weights and no drop-in on disk (the "
              "state could not be read: " +
                  state_problem + ").";
    r.state = state;
    return r;
  }
  if (auto baseline = read_weights(cfg.paths.baseline_weights); !baseline) {
    return fail(1,
                "rollback refused: the baseline backup is missing or unreadable (" +
                    baseline.error().message + "). Check " + cfg.paths.baseline_weights +
                    " (written by qsc activate) and the canary_activated entry in " +
                    cfg.paths.audit_log + " for the weights to restore.",
                state);
  }
  // An activation interrupted before it recorded its state left only its files: name the
  // model from the drop-in, so the log never holds a rollback of nobody.
  // (The state may still name an earlier canary that was rolled back.)
  const std::string model = state.needs_rollback() ? state.model : interrupted_model(cfg);
  auto incident = make_incident(IncidentKind::kRollback, state, request.trigger);
  incident.canary_model = model;
  incident.reason = request.reason;
  incident.violations = request.violations;
  incident.figures_json = request.figures.dump();
  std::vector<std::string> order;
  std::vector<std::string> after_check;
  ending_action_order(ctx, installed, &order, &after_check);
  TransitionResult r;
  r.outcomes = ctx.run_actions(order, incident);
  std::string failures;
  essential_failed(ctx, r.outcomes, &failures);
  // The verdict is what is on disk now, not what the actions said.
  r.still_live = rollback_still_live(cfg, state.places);
  if (!failures.empty()) r.still_live.push_back("actions failed: " + failures);
  const bool holds = r.still_live.empty();
  if (!after_check.empty()) {
    incident.earlier = r.outcomes;
    if (!holds) {
      ActionOutcome verdict;
      verdict.action = "postconditions";
      verdict.ok = false;
      for (const auto& l : r.still_live) {
        verdict.detail += (verdict.detail.empty() ? "" : "; ") + l;
      }
      // A failed earlier step makes the notification critical (the notify action's severity).
      incident.earlier.push_back(verdict);
    }
    for (auto& o : ctx.run_actions(after_check, incident)) r.outcomes.push_back(std::move(o));
  }
  if (!state_problem.empty()) {
    // Keep what could be read of the unreadable state for the post-mortem before replacing it.
    if (auto bytes = read_file(cfg.paths.state)) {
      (void)write_file_atomic(cfg.paths.state + ".unreadable", *bytes, 0600);
    }
    state = CanaryState{};
    state.model = model;
  }
  state.phase = holds ? Phase::kRolledBack : Phase::kRollbackIncomplete;
  if (request.trigger == "qsc_monitor_violation") state.last_result = "violation";
  std::string state_error;
  if (auto s = save_state(cfg.paths.state, state); !s) state_error = s.error().message;
  nlohmann::ordered_json entry{
      {"canary_model", model},      {"trigger", request.trigger},
      {"reason", request.reason},   {"violations", request.violations},
      {"figures", request.figures}, {"result", holds ? "ok" : "incomplete"},
      {"still_live", r.still_live}, {"actions", outcomes_json(r.outcomes)}};
  if (!state_problem.empty()) entry["state_unreadable"] = state_problem;
  auto logged = AuditLog(cfg).append(holds ? "rollback_executed" : "rollback_failed", entry);
  r.state = state;
  std::string notes;
  if (!state_problem.empty()) {
    notes += "\nThe state file could not be read (" + state_problem +
             "): rolled back from the files on disk and the baseline backup; the old state was "
             "kept as " +
             cfg.paths.state + ".unreadable.";
  }
  if (!state_error.empty()) notes += "\nThe state could not be saved: " + state_error;
  if (!logged) notes += "\nThe audit log could not be written: " + logged.error().message;
  if (!holds) {
    r.exit_code = 1;
    r.message = "ROLLBACK INCOMPLETE - the canary " + (model.empty() ? "" : model + " ") +
                "is not fully rolled back. Still live:";
    for (const auto& l : r.still_live) r.message += "\n   - " + l;
    r.message += "\nFinish these, then run qsc rollback again to verify (state " +
                 std::string("rollback_incomplete") + " until it holds)." + notes;
    return r;
  }
  r.exit_code = state_error.empty() ? 0 : 1;
  r.message = "Rollback completed successfully" + notes;
  return r;
}

namespace {

// Promotion and finalization share their precondition: a clean period at the current weight.
std::optional<TransitionResult> refuse_unless_clean(const Config& cfg, const CanaryState& state,
                                                    const char* what) {
  if (auto s = check_promotable(cfg, state, what, now_ms()); !s) {
    return fail(1, s.error().message, state);
  }
  return std::nullopt;
}

// The clean period's verdict was made under the configuration it ran with: one changed since (a
// longer stale_after, a laxer detector) could have passed what today's would not, so a period
// vouches only under the configuration whose digest its monitoring_completed entry carries.
Status check_period_configuration(const Config& cfg, const CanaryState& state,
                                  const std::string& what) {
  auto entries = AuditLog(cfg).read_all();
  if (!entries) {
    return Error{what +
                 " refused: the audit log cannot be read to find the configuration the "
                 "clean period ran under (" +
                 entries.error().message + ")"};
  }
  const nlohmann::json* completed = nullptr;
  for (const auto& entry : *entries) {
    if (entry.value("action", "") == "monitoring_completed" &&
        entry.value("canary_model", "") == state.model) {
      completed = &entry;
    }
  }
  const bool recorded = completed != nullptr && completed->value("result", "") == "safe" &&
                        std::fabs(completed->value("canary_weight", -1.0) - state.weight) < 1e-12;
  if (!recorded) {
    return Error{what + " refused: the audit log " + cfg.paths.audit_log +
                 " has no monitoring_completed entry (result safe) for " + state.model + " at " +
                 weight_percent(state.weight) +
                 ", so the configuration its clean period ran under is unknown. Run qsc monitor "
                 "for a new period; there is no override."};
  }
  const std::string period_sha = completed->value("config_sha256", "");
  if (period_sha == cfg.sha256) return ok_status();
  return Error{what + " refused: the configuration changed since the clean period of " +
               state.model + " at " + weight_percent(state.weight) + " (it ran under " +
               "config_sha256 " + (period_sha.empty() ? std::string("(none)") : period_sha) +
               ", this one is " + cfg.sha256 +
               "): its verdict was made under other settings. Run qsc monitor for a new period "
               "under this configuration (or restore the one it ran under); there is no "
               "override."};
}

}  // namespace

Status check_promotable(const Config& cfg, const CanaryState& state, const std::string& what,
                        EpochMs now) {
  if (auto s = refuse_if_rollback_incomplete(state, what); !s) return s;
  if (!state.active()) {
    return Error{what + " refused: no canary is active (phase " + phase_name(state.phase) + ")."};
  }
  if (!state.clean_at_current_weight()) {
    return Error{what + " refused: " + state.model + " at " + weight_percent(state.weight) +
                 " has no clean monitoring period (monitoring_completed with result safe). "
                 "Run qsc monitor to the end first; there is no override."};
  }
  // Promotion writes the canary's files where this configuration puts them: moved since the
  // activation, the activation's would stay behind (an installed drop-in at the old weight).
  if (state.places.recorded() && state.places != canary_places(cfg)) {
    return Error{what +
                 " refused: the configuration has moved the canary's files (paths.* or "
                 "plugins.config.systemd) since " +
                 state.model +
                 " was activated, and its files are still where the activation "
                 "put them. Roll back (qsc rollback checks both places) and "
                 "activate again under this configuration; there is no override."};
  }
  // A short clean period (qsc monitor --duration 6s) watched too little to vouch for the canary.
  if (std::chrono::milliseconds(state.last_result_period_ms) < cfg.canary.duration) {
    return Error{what + " refused: the last clean period of " + state.model + " at " +
                 weight_percent(state.weight) + " lasted " +
                 format_duration(std::chrono::milliseconds(state.last_result_period_ms)) +
                 ", less than canary.duration " + format_duration(cfg.canary.duration) +
                 ": promotion needs a clean period of at least canary.duration. Run qsc "
                 "monitor for a full period (qsc monitor --duration " +
                 format_duration(cfg.canary.duration) + "); there is no override."};
  }
  // No monitor has watched the canary since its period ended. A period vouches for it at most as
  // long again as it watched it (canary.duration): later, the canary has run unwatched longer
  // than it was ever watched, and its weights, the market and the engine may all have changed.
  const auto since_end = std::chrono::milliseconds(now - state.period_end_ms);
  std::string ended;
  if (state.period_end_ms <= 0) {
    ended = "has no recorded end";
  } else if (since_end.count() < 0) {
    // A completed period ends in the future only if this host's clock was stepped back: its age
    // cannot be known, so it vouches for nothing.
    ended = "ends at " + format_iso(state.period_end_ms) + ", after this host's clock (" +
            format_iso(now) + "; was the clock stepped back?)";
  } else if (since_end > cfg.canary.duration) {
    ended = "ended " + format_duration(std::chrono::floor<std::chrono::seconds>(since_end)) +
            " ago (" + format_iso(state.period_end_ms) + "), longer ago than canary.duration " +
            format_duration(cfg.canary.duration);
  }
  if (!ended.empty()) {
    return Error{what + " refused: the last clean period of " + state.model + " at " +
                 weight_percent(state.weight) + " " + ended +
                 ": no monitor has watched the canary since, and a clean period vouches for it "
                 "at most canary.duration after its end. Run qsc monitor for a new period, then "
                 "promote when it ends; there is no override."};
  }
  return check_period_configuration(cfg, state, what);
}

TransitionResult promote_canary(const LifecycleContext& ctx, double weight) {
  const Config& cfg = ctx.config;
  auto loaded = load_state(cfg.paths.state);
  if (!loaded) return fail(1, loaded.error().message);
  CanaryState state = *loaded;
  if (auto refused = refuse_unless_clean(cfg, state, "promotion")) return *refused;
  if (!(weight > state.weight && weight < 1.0)) {
    return fail(1,
                "promotion refused: --weight must be above the current " +
                    weight_percent(state.weight) +
                    " and below 100% (use qsc promote --finalize to adopt the canary weights)",
                state);
  }
  auto baseline = read_weights(cfg.paths.baseline_weights);
  if (!baseline) return fail(1, "promotion refused: " + baseline.error().message, state);
  auto weights = canary_weights(*baseline, state.model, weight);
  if (!weights) return fail(1, "promotion refused: " + weights.error().message, state);
  const double from = state.weight;
  if (auto s = write_file_atomic(cfg.paths.canary_weights, weights_json(*weights)); !s) {
    return fail(1, s.error().message, state);
  }
  if (auto s = write_file_atomic(local_dropin_path(cfg), render_dropin(cfg, state.model, weight));
      !s) {
    return fail(1, s.error().message, state);
  }
  state.phase = Phase::kPromoted;
  state.weight = weight;
  state.weights = *weights;
  state.weight_since_ms = now_ms();
  state.period_start_ms = state.period_end_ms = 0;
  state.checks_done = state.checks_total = 0;
  state.last_result.clear();
  if (auto s = save_state(cfg.paths.state, state); !s) return fail(1, s.error().message, state);
  // Tests kill a promotion here: its state says the new weight before the engine's unit does.
  fault_point("promote:after_state");
  TransitionResult r;
  r.state = state;
  bool skipped_systemd = false;
  r.outcomes = ctx.run_actions(action_order(ctx, &skipped_systemd),
                               make_incident(IncidentKind::kPromote, state, "promotion"));
  (void)AuditLog(cfg).append("canary_promoted", {{"canary_model", state.model},
                                                 {"from_weight", from},
                                                 {"canary_weight", weight},
                                                 {"weights", weights_object(*weights)},
                                                 {"dropin_installed", !skipped_systemd},
                                                 {"actions", outcomes_json(r.outcomes)}});
  std::string failures;
  if (essential_failed(ctx, r.outcomes, &failures)) {
    r.exit_code = 1;
    r.message = "promoted in the files, but an action failed: " + failures +
                ". Restart the engine by hand or roll back (qsc rollback).";
    return r;
  }
  r.exit_code = 0;
  const std::string promoted =
      "Promoted " + state.model + " from " + weight_percent(from) + " to " + weight_percent(weight);
  r.message = skipped_systemd ? promoted +
                                    " in the canary weights and the local drop-in only (not yet "
                                    "in the engine's unit)"
                              : promoted + ". Monitor the new weight: qsc monitor";
  if (skipped_systemd) {
    // As at activation (the runbook's manual install), but never "promoted" alone: the engine's
    // unit still runs the drop-in installed before, at the old weight, until it is replaced.
    r.manual_step = "Systemd override not updated (no permission to write " +
                    cfg.systemd.dropin_dir + "): the engine still runs " + state.model + " at " +
                    weight_percent(from) + " until the new drop-in is installed. Install it " +
                    "manually:\n" + manual_install_commands(cfg) +
                    "A monitoring period before the install is inconclusive (CANARY NOT "
                    "DEPLOYED), never clean.";
  }
  return r;
}

namespace {

// What must hold after a finalization, checked on disk after its actions ran (never taken from
// the actions' word): the live weights are the adopted canary weights (within 1e-12 each: they
// were written from the state's doubles, which JSON round-trips exactly) and nothing of the
// canary is left that the engine's unit could start again. One line each, with its fix.
std::vector<std::string> finalization_still_live(const Config& cfg, const CanaryState& state) {
  std::vector<std::string> left;
  const std::string rewrite = "; write it again: qsc promote --finalize";
  auto live = read_weights(cfg.paths.live_weights);
  if (!live) {
    left.push_back("live weights " + cfg.paths.live_weights + " cannot be read (" +
                   live.error().message + ")" + rewrite);
  } else {
    bool same = live->size() == state.weights.size();
    for (const auto& [model, weight] : state.weights) {
      const auto it = live->find(model);
      same = same && it != live->end() && std::fabs(it->second - weight) <= 1e-12;
    }
    if (!same) {
      left.push_back("live weights " + cfg.paths.live_weights + " are not " + state.model +
                     "'s adopted canary weights" + rewrite);
    }
  }
  for (auto& line : canary_files_left(cfg, "finalization")) left.push_back(std::move(line));
  return left;
}

// The finalization's verdict from what is on disk (r.still_live): "Finalized" only when it holds.
void finalization_verdict(const Config& cfg, const CanaryState& state, TransitionResult& r) {
  if (r.still_live.empty()) {
    r.exit_code = 0;
    r.message = "Finalized: " + state.model + "'s canary weights are now the live weights in " +
                cfg.paths.live_weights;
    return;
  }
  r.exit_code = 1;
  r.message = "FINALIZATION INCOMPLETE - " + state.model + "'s canary weights were adopted in " +
              cfg.paths.live_weights + ", but the canary is not fully ended. Still live:";
  for (const auto& l : r.still_live) r.message += "\n   - " + l;
  r.message +=
      "\nFinish these, then run qsc promote --finalize again to verify (state finalized; qsc "
      "state and the audit log say incomplete until it holds).";
}

// A finalized canary is checked again, nothing run: the retry after the commands the incomplete
// finalization printed. What it finds is kept in the state (qsc state reports it).
TransitionResult verify_finalization(const Config& cfg, CanaryState state) {
  TransitionResult r;
  r.still_live = finalization_still_live(cfg, state);
  finalization_verdict(cfg, state, r);
  if (state.finalize_still_live != r.still_live) {
    state.finalize_still_live = r.still_live;
    if (auto s = save_state(cfg.paths.state, state); !s) {
      r.exit_code = 1;
      r.message += "\nThe state could not be updated with this check (" + s.error().message +
                   "): qsc state may still report the previous one.";
    }
  }
  r.state = state;
  (void)AuditLog(cfg).append("finalization_verified",
                             {{"canary_model", state.model},
                              {"result", r.still_live.empty() ? "ok" : "incomplete"},
                              {"still_live", r.still_live}});
  return r;
}

}  // namespace

TransitionResult finalize_canary(const LifecycleContext& ctx) {
  const Config& cfg = ctx.config;
  auto loaded = load_state(cfg.paths.state);
  if (!loaded) return fail(1, loaded.error().message);
  CanaryState state = *loaded;
  if (state.phase == Phase::kFinalized && !cfg.paths.live_weights.empty()) {
    return verify_finalization(cfg, state);
  }
  if (auto refused = refuse_unless_clean(cfg, state, "finalization")) return *refused;
  if (cfg.paths.live_weights.empty()) {
    return fail(1,
                "finalization refused: paths.live_weights is not configured, so there is no "
                "file to adopt the canary weights into. Set it in the configuration.",
                state);
  }
  if (auto s = write_file_atomic(cfg.paths.live_weights, weights_json(state.weights)); !s) {
    return fail(1, s.error().message, state);
  }
  std::vector<std::string> order;
  std::vector<std::string> after_check;
  ending_action_order(ctx, dropin_installed(cfg), &order, &after_check);
  auto incident = make_incident(IncidentKind::kFinalize, state, "finalize");
  TransitionResult r;
  r.outcomes = ctx.run_actions(order, incident);
  std::string failures;
  essential_failed(ctx, r.outcomes, &failures);
  // The verdict is what is on disk now, not what the actions said.
  r.still_live = finalization_still_live(cfg, state);
  if (!failures.empty()) r.still_live.push_back("actions failed: " + failures);
  for (auto& o : ctx.run_actions(after_check, incident)) r.outcomes.push_back(std::move(o));
  // Finalized either way: the live weights are the canary's and a retry must not write them or
  // run the actions again, only check (verify_finalization).
  state.phase = Phase::kFinalized;
  state.finalize_still_live = r.still_live;
  if (auto s = save_state(cfg.paths.state, state); !s) return fail(1, s.error().message, state);
  r.state = state;
  (void)AuditLog(cfg).append("canary_finalized",
                             {{"canary_model", state.model},
                              {"canary_weight", state.weight},
                              {"weights", weights_object(state.weights)},
                              {"live_weights", cfg.paths.live_weights},
                              {"result", r.still_live.empty() ? "ok" : "incomplete"},
                              {"still_live", r.still_live},
                              {"actions", outcomes_json(r.outcomes)}});
  finalization_verdict(cfg, state, r);
  return r;
}

}  // namespace qsc::agent
