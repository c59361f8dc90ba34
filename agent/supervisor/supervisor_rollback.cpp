// The supervisor's rollback.
#include "supervisor/supervisor_rollback.hpp"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "core/console_text.hpp"
#include "core/files.hpp"
#include "core/lock.hpp"
#include "lifecycle/builtin_rollback.hpp"
#include "lifecycle/canary.hpp"
#include "lifecycle/state.hpp"
#include "metrics/supervisor_counters.hpp"
#include "plugin_host/plugin_host.hpp"
#include "qsc/file_trust.hpp"
#include "supervisor/child_process.hpp"
#include "supervisor/heartbeat_block.hpp"

namespace qsc::agent {
namespace {

namespace fs = std::filesystem;

nlohmann::json outcome_json(const ActionOutcome& o) {
  return {{"action", o.action}, {"ok", o.ok}, {"detail", o.detail}, {"duration_ms", o.duration_ms}};
}

// A best-effort action's plugin (notify) alone, in a fresh child: only <name>.so is loaded there
// (through a private directory holding a copy of it), so another plugin's broken constructor
// cannot stop the page.
ActionOutcome best_effort_in_child(const Config& config, const std::string& name,
                                   const Incident& incident) {
  ActionOutcome failed;
  failed.action = name;
  const fs::path library = resolve_plugin_dir(config) / (name + ".so");
  std::string pattern = (fs::temp_directory_path() / ("qsc-" + name + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    failed.detail = "cannot make a private plugin directory for " + name + ": " +
                    std::string(std::strerror(errno));
    return failed;
  }
  const fs::path dir = pattern;
  std::error_code ec;
  // A copy, not a link: the loader refuses symlinks (their target's directory is not checked).
  // The copy is read once from the checked file (owner and mode as the loader requires) and
  // written private to this process, so nothing can be swapped in between.
  if (auto bytes =
          read_trusted_file(library, name + " plugin " + library.string(), FileSecrecy::kShared);
      !bytes) {
    fs::remove_all(dir, ec);
    failed.detail = "the " + name + " plugin cannot be loaded: " + bytes.error().message;
    return failed;
  } else if (auto written = write_file_atomic((dir / (name + ".so")).string(), *bytes, 0700);
             !written) {
    fs::remove_all(dir, ec);
    failed.detail = "cannot copy the " + name + " plugin: " + written.error().message;
    return failed;
  }
  const auto run = run_in_child(
      [&]() -> std::string {
        auto host = PluginHost::open(dir, config.to_json(), {}, LibraryDigests::kSkip);
        ActionOutcome o;
        o.action = name;
        if (!host) {
          o.detail = "the " + name + " plugin cannot be loaded: " + host.error().message;
        } else {
          o = host->run_action(name, incident);
        }
        return outcome_json(o).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      },
      config.plugins.action_timeout.count());
  fs::remove_all(dir, ec);
  if (run.succeeded()) {
    const auto doc = nlohmann::json::parse(run.output, nullptr, false);
    if (doc.is_object() && doc.contains("ok") && doc.contains("detail")) {
      ActionOutcome o;
      o.action = name;
      o.ok = doc.value("ok", false);
      o.detail = doc.value("detail", std::string());
      o.duration_ms = doc.value("duration_ms", 0.0);
      return o;
    }
  }
  failed.duration_ms = run.duration_ms;
  failed.detail = name + " plugin " + describe_failure(run) + " (plugins.action_timeout " +
                  std::to_string(config.plugins.action_timeout.count()) + " ms)";
  return failed;
}

// The actions with a built-in role by the built-in path (once), the best-effort ones (notify)
// each in its own child, any other action not run: its plugin is third-party code this process
// does not load. No plugin code runs here, so the flags are the configuration's defaults.
RunActions supervisor_actions(const Config& config, const std::string& why) {
  return [&config, why](const std::vector<std::string>& order, const Incident& incident) {
    const ActionFlags flags = action_flags_of(nullptr);
    std::vector<ActionOutcome> outcomes;
    bool builtin_done = false;
    for (const auto& name : order) {
      if ((flags(name) & kBuiltinRoles) != 0) {
        if (incident.kind != IncidentKind::kRollback || builtin_done) continue;
        builtin_done = true;
        for (auto& o : builtin_rollback(config, flags)) outcomes.push_back(std::move(o));
      } else if ((flags(name) & QSC_FLAG_BEST_EFFORT) != 0) {
        Incident seen = incident;
        seen.earlier.insert(seen.earlier.end(), outcomes.begin(), outcomes.end());
        outcomes.push_back(best_effort_in_child(config, name, seen));
      } else {
        ActionOutcome skipped;
        skipped.action = name;
        skipped.detail = std::string(kBypassedPrefix) + " (" + why + ")";
        outcomes.push_back(std::move(skipped));
      }
    }
    return outcomes;
  };
}

}  // namespace

int supervisor_rollback(const Config& config, const SupervisorIncident& incident) {
  const auto state = load_state(config.paths.state);
  const std::string model = state ? state->model : std::string();
  const bool crash_loop = incident.trigger == "qsc_monitor_crash_loop";
  std::cout << "\n"
            << kRule << "\n🚨 " << (crash_loop ? "MONITOR CRASH LOOP" : "MONITOR WORKER FAILED")
            << " - EXECUTING ROLLBACK\n"
            << kRule << "\nCanary Model: " << model
            << "\nPlugin:       " << (incident.plugin.empty() ? "(none running)" : incident.plugin)
            << "\n\nViolations:\n  ❌ " << incident.failure << "\n"
            << std::flush;
  // Every rollback log line names the canary and the trigger (journalctl -p filters them).
  spdlog::critical("rollback of canary {} (trigger {}): {}", model, incident.trigger,
                   incident.failure);
  auto lock = FileLock::acquire(config.lock_path(), std::chrono::seconds(5));
  if (!lock) {
    spdlog::warn("rollback of canary {} (trigger {}): rolling back without the lock: {}", model,
                 incident.trigger, lock.error().message);
  }
  RollbackRequest request;
  request.trigger = incident.trigger;
  request.reason = incident.plugin.empty() ? incident.failure
                                           : "plugin " + incident.plugin + ": " + incident.failure;
  request.violations = {incident.failure};
  request.figures = incident.figures;
  const std::string why =
      crash_loop ? "the monitor is in a crash loop" : "the monitor's worker failed in plugin code";
  auto result = rollback_canary(LifecycleContext{config, supervisor_actions(config, why)}, request);
  std::cout << "\nRollback:     built-in path (run by the supervisor; no plugin code in this "
               "process)\n\nActions:\n";
  for (const auto& o : result.outcomes) {
    std::cout << "  " << (o.ok ? "✅ " : "❌ ") << o.action << ": " << o.detail << "\n";
  }
  if (incident.fault_ns != 0) {
    char text[96];
    std::snprintf(text, sizeof text, "%.1f ms",
                  static_cast<double>(monotonic_ns() - incident.fault_ns) / 1e6);
    std::cout << "\nFault to verified rollback: " << text << "\n";
  }
  const bool nothing_done = result.message.rfind("Nothing to roll back", 0) == 0;
  const bool verified = result.exit_code == 0 && result.still_live.empty();
  if (!nothing_done) metrics::note_supervisor_rollback(incident.trigger, !verified);
  if (verified && !nothing_done) {
    spdlog::info("rollback of canary {} (trigger {}): completed, postconditions hold", model,
                 incident.trigger);
    std::cout << "\n✅ Rollback completed successfully" << std::endl;
    return 1;
  }
  spdlog::critical("rollback of canary {} (trigger {}): {}", model, incident.trigger,
                   result.message);
  std::cout << "\n❌ " << result.message << std::endl;
  return 2;
}

}  // namespace qsc::agent
