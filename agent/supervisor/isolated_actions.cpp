// Actions in child processes.
#include "supervisor/isolated_actions.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "lifecycle/builtin_rollback.hpp"
#include "supervisor/child_process.hpp"

namespace qsc::agent {
namespace {

std::string outcome_text(const ActionOutcome& o) {
  return nlohmann::json{
      {"action", o.action}, {"ok", o.ok}, {"detail", o.detail}, {"duration_ms", o.duration_ms}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool parse_outcome(const std::string& text, ActionOutcome* out) {
  const auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return false;
  try {
    out->action = doc.at("action").get<std::string>();
    out->ok = doc.at("ok").get<bool>();
    out->detail = doc.at("detail").get<std::string>();
    out->duration_ms = doc.at("duration_ms").get<double>();
  } catch (const nlohmann::json::exception&) {
    return false;
  }
  return true;
}

}  // namespace

std::int64_t rollback_budget_ms(const Config& config) {
  // The lock wait (5 s), two built-in systemctl calls (30 s each), every action's deadline and
  // the notify run again after failed postconditions, plus slack for the disk.
  const auto actions = static_cast<std::int64_t>(config.plugins.actions.size()) + 1;
  return 5'000 + 60'000 + actions * config.plugins.action_timeout.count() + 10'000;
}

RunActions isolated_actions(PluginHost& host, const Config& config, HeartbeatBlock* heartbeat) {
  return
      [&host, &config, heartbeat](const std::vector<std::string>& order, const Incident& incident) {
        const ActionFlags flags = action_flags_of(&host);
        // Whether the built-in rollback can do this action's job when its plugin cannot.
        const auto restores_canary = [&flags](const std::string& name) {
          return (flags(name) & kBuiltinRoles) != 0;
        };
        std::vector<ActionOutcome> outcomes;
        std::optional<std::vector<ActionOutcome>> builtin;  // run at most once
        const bool rolling_back = incident.kind == IncidentKind::kRollback;
        for (const auto& name : order) {
          Incident seen = incident;
          seen.earlier.insert(seen.earlier.end(), outcomes.begin(), outcomes.end());
          if (!host.has(name)) {
            if (restores_canary(name) && rolling_back) {
              // Without the plugin the built-in rollback does the job (both steps, once).
              if (builtin) continue;
              builtin = builtin_rollback(config, flags);
              for (auto o : *builtin) {
                o.detail = "the " + name + " plugin is not loaded; " + o.detail;
                outcomes.push_back(std::move(o));
              }
            } else {
              outcomes.push_back(host.run_action(name, seen));  // "not loaded", naming why
            }
            continue;
          }
          if (heartbeat != nullptr) heartbeat->enter_plugin(name, "action", false);
          const auto run = run_in_child(
              [&] {
                // The child's plugin calls are bounded by this deadline, not the check timeout.
                set_plugin_call_observer(nullptr);
                return outcome_text(host.run_action(name, seen));
              },
              config.plugins.action_timeout.count(),
              [heartbeat] {
                if (heartbeat != nullptr) heartbeat->beat();
              });
          if (heartbeat != nullptr) heartbeat->leave_plugin();
          ActionOutcome outcome;
          if (run.succeeded() && parse_outcome(run.output, &outcome)) {
            outcomes.push_back(std::move(outcome));
            continue;
          }
          outcome.action = name;
          outcome.ok = false;
          outcome.duration_ms = run.duration_ms;
          outcome.detail = "action plugin " + name + " " + describe_failure(run) +
                           " (plugins.action_timeout " +
                           std::to_string(config.plugins.action_timeout.count()) + " ms)";
          spdlog::error("action {} failed for canary {} (trigger {}): {}", name,
                        incident.canary_model, incident.trigger, outcome.detail);
          if (restores_canary(name) && rolling_back) {
            // The canary must still come out: the built-in rollback does this plugin's job, and
            // the postconditions checked afterwards say whether it holds.
            if (!builtin) builtin = builtin_rollback(config, flags);
            for (const auto& b : *builtin) {
              if (b.action == name) {
                outcome.ok = b.ok;
                outcome.detail += "; the built-in rollback ran in its place: " + b.detail;
              }
            }
          }
          outcomes.push_back(std::move(outcome));
        }
        return outcomes;
      };
}

}  // namespace qsc::agent
