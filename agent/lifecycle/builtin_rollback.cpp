// The built-in rollback path.
#include "lifecycle/builtin_rollback.hpp"

#include <sys/stat.h>

#include <chrono>

#include "core/console_text.hpp"
#include "core/files.hpp"
#include "lifecycle/rollback_postconditions.hpp"
#include "lifecycle/weights.hpp"
#include "plugin_host/plugin_host.hpp"
#include "qsc/process.hpp"

namespace qsc::agent {
namespace {

using Clock = std::chrono::steady_clock;

// The same bound the systemd action gives one systemctl call by default.
constexpr long kSystemctlTimeoutMs = 30'000;

double elapsed_ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

/// The name of the action the built-in rollback stands in for in `role`: the first configured
/// action with that flag, else the first of the default action list with it.
std::string stand_in_name(const Config& config, const ActionFlags& flags, std::uint64_t role) {
  for (const auto& a : config.plugins.actions) {
    if ((flags(a) & role) != 0) return a;
  }
  for (const auto& a : PluginsConfig{}.actions) {
    if ((default_action_flags(a) & role) != 0) return a;
  }
  return "built-in";
}

ActionOutcome restore_files(const Config& config, std::string name, bool* removed_installed) {
  const auto started = Clock::now();
  ActionOutcome out;
  out.action = std::move(name);
  const auto& paths = config.paths;
  std::vector<std::string> done;
  std::vector<std::string> failed;
  // Without a valid baseline, touching anything could leave the engine with neither the
  // canary's weights nor the baseline's: refuse and leave the canary files for a retry.
  auto baseline = read_file(paths.baseline_weights);
  if (baseline) {
    if (auto valid = parse_weights(*baseline, paths.baseline_weights); !valid) {
      baseline = valid.error();
    }
  }
  if (!baseline) {
    out.ok = false;
    out.detail = "built-in: cannot roll back: the baseline backup " + paths.baseline_weights +
                 " is missing or not a weights document (" + baseline.error().message +
                 "); nothing was changed. Restore it from the canary_activated entry in " +
                 paths.audit_log + " (baseline_weights) and run qsc rollback again.";
    out.duration_ms = elapsed_ms(started);
    return out;
  }
  if (!paths.live_weights.empty()) {
    struct stat st {};
    const unsigned mode =
        ::stat(paths.live_weights.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
    if (auto s = write_file_atomic(paths.live_weights, *baseline, mode); !s) {
      failed.push_back("cannot restore " + paths.live_weights + ": " + s.error().message);
    } else {
      done.push_back("restored " + paths.live_weights + " from " + paths.baseline_weights);
    }
  }
  for (const auto& path : {paths.canary_weights, local_dropin_path(config)}) {
    std::error_code ec;
    const bool was_there = std::filesystem::exists(std::filesystem::symlink_status(path, ec));
    if (auto s = remove_file_durable(path); !s) {
      failed.push_back(s.error().message);
    } else if (was_there) {
      done.push_back("removed " + path);
    }
  }
  const auto installed = installed_dropin_path(config);
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(installed, ec))) {
    if (auto s = remove_file_durable(installed); !s) {
      failed.push_back("cannot remove the installed drop-in: " + s.error().message);
    } else {
      done.push_back("removed " + installed);
      *removed_installed = true;
    }
  }
  out.ok = failed.empty();
  out.detail =
      "built-in: " + (done.empty() && failed.empty()
                          ? std::string("no canary files to remove")
                          : join_reasons(failed.empty() ? done : failed) +
                                (failed.empty() || done.empty() ? "" : "; " + join_reasons(done)));
  out.duration_ms = elapsed_ms(started);
  return out;
}

// The engine must drop the canary's environment: reload units, then restart.
ActionOutcome reload_and_restart(const Config& config, std::string name, bool removed_installed) {
  const auto started = Clock::now();
  ActionOutcome out;
  out.action = std::move(name);
  if (!removed_installed) {
    out.ok = true;
    out.detail = "built-in: no installed drop-in was removed, so no restart";
    return out;
  }
  std::vector<std::string> steps;
  out.ok = true;
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{config.systemd.systemctl, "daemon-reload"},
        std::vector<std::string>{config.systemd.systemctl, "restart", config.systemd.unit}}) {
    const auto ran = run_program(argv, "", kSystemctlTimeoutMs);
    steps.push_back(join_argv(argv) + ": " + describe(ran));
    if (!ran.succeeded()) {
      out.ok = false;
      break;
    }
  }
  out.detail = "built-in: " + join_reasons(steps);
  if (!out.ok) {
    out.detail +=
        "; finish it as root: systemctl daemon-reload && systemctl restart " + config.systemd.unit;
  }
  out.duration_ms = elapsed_ms(started);
  return out;
}

}  // namespace

ActionFlags action_flags_of(const PluginHost* host) {
  return [host](const std::string& action) {
    if (host != nullptr) {
      if (auto flags = host->flags_of(action)) return *flags;
    }
    return default_action_flags(action);
  };
}

std::vector<ActionOutcome> builtin_rollback(const Config& config, const ActionFlags& flags) {
  bool removed_installed = false;
  auto files = restore_files(config, stand_in_name(config, flags, QSC_FLAG_RESTORES_WEIGHTS),
                             &removed_installed);
  auto restart = reload_and_restart(
      config, stand_in_name(config, flags, QSC_FLAG_RESTARTS_SERVICES), removed_installed);
  return {std::move(files), std::move(restart)};
}

RunActions builtin_actions(const Config& config, std::string why, PluginHost* notifier) {
  return [&config, why = std::move(why), notifier](const std::vector<std::string>& order,
                                                   const Incident& incident) {
    const ActionFlags flags = action_flags_of(notifier);
    std::vector<ActionOutcome> outcomes;
    Incident seen = incident;
    bool builtin_done = false;
    // The whole reason is printed once by the caller; each skipped action gets its first line.
    std::string short_why = why.substr(0, why.find('\n'));
    if (short_why.size() > 120) short_why = short_why.substr(0, 117) + "...";
    for (const auto& name : order) {
      if ((flags(name) & kBuiltinRoles) != 0) {
        // Every role is one built-in step, run once, where the first of them stands in the order.
        if (incident.kind != IncidentKind::kRollback || builtin_done) continue;
        builtin_done = true;
        for (auto& o : builtin_rollback(config, flags)) outcomes.push_back(std::move(o));
      } else if (notifier != nullptr && notifier->has(name)) {
        seen.earlier = incident.earlier;
        seen.earlier.insert(seen.earlier.end(), outcomes.begin(), outcomes.end());
        outcomes.push_back(notifier->run_action(name, seen));
      } else {
        ActionOutcome skipped;
        skipped.action = name;
        skipped.ok = false;
        skipped.detail = std::string(kBypassedPrefix) + " (" + short_why + ")";
        outcomes.push_back(std::move(skipped));
      }
    }
    return outcomes;
  };
}

}  // namespace qsc::agent
