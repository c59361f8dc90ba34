// The systemd action: install or remove the canary drop-in in the unit's drop-in directory,
// `systemctl daemon-reload`, `systemctl restart UNIT`, then wait for `systemctl is-active UNIT`.
//
// systemctl runs with an argument vector (posix_spawn, never a shell), each call under a timeout
// that kills it, its output quoted in the outcome. Where the unit directory cannot be written
// (not root), the outcome spells out the exact commands to run by hand, as the runbook does.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "common/host_config.hpp"
#include "qsc/action.hpp"
#include "qsc/canary_files.hpp"
#include "qsc/config_section.hpp"
#include "qsc/durable_file.hpp"
#include "qsc/plugin.hpp"
#include "qsc/process.hpp"

namespace qsc::actions {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kUnitKey = "plugins.config.systemd.unit";

constexpr std::string_view kUnitSuffixes[] = {".service",   ".socket", ".device", ".mount",
                                              ".automount", ".swap",   ".target", ".path",
                                              ".timer",     ".slice",  ".scope"};

/// A unit name as systemd spells it: letters, digits and `:_.-@`, a known suffix, no leading
/// '-' (it would read as an option). Everything else, '/' and shell metacharacters included, is
/// refused, since the name ends up in commands printed for a person to paste into a shell.
Status validate_unit(const std::string& unit) {
  std::string suffixes;
  for (auto s : kUnitSuffixes) suffixes += (suffixes.empty() ? "" : ", ") + std::string(s);
  const std::string rule =
      " (a unit name has letters, digits and the characters :_.-@ only and ends in one of " +
      suffixes + ")";
  if (unit.empty()) return Error{std::string(kUnitKey) + " is empty" + rule};
  if (unit.size() > 255)
    return Error{std::string(kUnitKey) + " is longer than 255 characters" + rule};
  if (unit.front() == '-')
    return Error{std::string(kUnitKey) + " \"" + unit + "\" starts with '-'" + rule};
  for (char c : unit) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == ':' || c == '_' || c == '.' || c == '-' ||
                         c == '@';
    if (!allowed) {
      const std::string shown =
          (c == ' ' || c == '\t' || c == '\n') ? "whitespace" : "'" + std::string(1, c) + "'";
      return Error{std::string(kUnitKey) + " \"" + unit + "\" is refused: " + shown +
                   " is not allowed" + rule};
    }
  }
  const bool has_suffix =
      std::any_of(std::begin(kUnitSuffixes), std::end(kUnitSuffixes),
                  [&](std::string_view s) { return unit.size() > s.size() && unit.ends_with(s); });
  if (!has_suffix)
    return Error{std::string(kUnitKey) + " \"" + unit + "\" has no unit suffix" + rule};
  return ok_status();
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : std::string(separator)) + p;
  return out;
}

}  // namespace

/// Installs or removes the drop-in and restarts the unit, verifying that it comes back active.
// clang-format off
constexpr const char kSystemdSchema[] = R"json({
    "unit": {"type": "string", "default": "quantum-ai_engine.service"},
    "dropin_dir": {"type": "string", "default": "/etc/systemd/system/quantum-ai_engine.service.d"},
    "systemctl": {"type": "string", "default": "systemctl"},
    "verify_timeout_ms": {"type": "number", "min": 0, "max": 3600000, "default": 30000},
    "verify_interval_ms": {"type": "number", "min": 10, "max": 60000, "default": 500},
    "command_timeout_ms": {"type": "number", "min": 100, "max": 3600000, "default": 60000}
})json";
// clang-format on

class SystemdAction final : public Action {
 public:
  // Writes the unit's drop-in directory (skipped with the manual commands when this process may
  // not) and restarts the engine; the agent's built-in rollback can stand in for it.
  static constexpr std::uint64_t kPluginFlags =
      QSC_FLAG_RESTARTS_SERVICES | QSC_FLAG_NEEDS_PRIVILEGE;
  static constexpr const char* kConfigSchema = kSystemdSchema;
  /// Section keys: unit, dropin_dir, systemctl, verify_timeout_ms, verify_interval_ms,
  /// command_timeout_ms (the agent hands the first three over whether the file set them here or
  /// in their deprecated top-level `systemd` place). The drop-in's source is in the host's
  /// paths.override_dir.
  static Result<std::unique_ptr<SystemdAction>> create(const nlohmann::json& section,
                                                       const nlohmann::json& host) {
    ConfigSection cfg(section, "plugins.config.systemd");
    auto action = std::unique_ptr<SystemdAction>(new SystemdAction());
    action->verify_timeout_ms_ =
        static_cast<long>(cfg.number("verify_timeout_ms", 30000, 0, 3'600'000));
    action->verify_interval_ms_ =
        static_cast<long>(cfg.number("verify_interval_ms", 500, 10, 60'000));
    action->command_timeout_ms_ =
        static_cast<long>(cfg.number("command_timeout_ms", 60000, 100, 3'600'000));
    action->unit_ = cfg.string("unit", std::string(kDefaultUnit));
    action->dropin_dir_ = cfg.string("dropin_dir", std::string(kDefaultDropinDir));
    action->systemctl_ = cfg.string("systemctl", "systemctl");
    if (auto done = cfg.finish(); !done.ok()) return done.error();

    if (auto valid = validate_unit(action->unit_); !valid.ok()) return valid.error();
    if (action->dropin_dir_.empty()) return Error{"plugins.config.systemd.dropin_dir is empty"};
    if (action->systemctl_.empty()) return Error{"plugins.config.systemd.systemctl is empty"};
    const std::string override_dir =
        host_string(host, "paths", "override_dir", std::string(kDefaultOverrideDir));
    action->local_dropin_ = dropin_path(override_dir);
    action->installed_dropin_ = dropin_path(action->dropin_dir_);
    return action;
  }

  ActionOutcome execute(const Incident& incident) override {
    ActionOutcome out;
    out.action = "systemd";
    std::vector<std::string> steps;
    bool ok = true;
    switch (incident.kind) {
      case IncidentKind::kActivate:
      case IncidentKind::kPromote:
        ok = install(steps) && reload_restart_verify(steps);
        break;
      case IncidentKind::kRollback:
      case IncidentKind::kFinalize:
        ok = remove(steps) && reload_restart_verify(steps);
        break;
      case IncidentKind::kResolved:
        steps.push_back("nothing to do for resolved");
        break;
    }
    out.ok = ok;
    out.detail = join(steps, "; ");
    return out;
  }

  std::string effective_config() const override {
    const std::string resolved = find_program(systemctl_);
    return nlohmann::json{{"unit", unit_},
                          {"dropin_dir", dropin_dir_},
                          {"systemctl", systemctl_},
                          {"systemctl_resolved", resolved.empty() ? "(not found)" : resolved},
                          {"local_dropin", local_dropin_},
                          {"verify_timeout_ms", verify_timeout_ms_},
                          {"verify_interval_ms", verify_interval_ms_},
                          {"command_timeout_ms", command_timeout_ms_}}
        .dump();
  }

 private:
  SystemdAction() = default;

  /// The commands a person with sudo runs instead, one a line, after `first` (cp or rm).
  std::string manual_commands(const std::string& first) const {
    return "\n  " + first + "\n  sudo " + systemctl_ + " daemon-reload\n  sudo " + systemctl_ +
           " restart " + unit_;
  }

  bool install(std::vector<std::string>& steps) const {
    auto content = read_file(local_dropin_);
    if (!content.ok()) {
      steps.push_back("cannot install the drop-in: " + content.error().message +
                      " (activation writes it; check paths.override_dir)");
      return false;
    }
    std::error_code ec;
    const bool dir_existed = fs::is_directory(dropin_dir_, ec);
    std::string why;
    if (!dir_existed) {
      fs::create_directories(dropin_dir_, ec);
      if (ec) why = ec.message();
    }
    if (why.empty()) {
      if (auto wrote = write_file_atomic(installed_dropin_, content.value(), 0644); !wrote.ok()) {
        why = wrote.error().message;
      }
    }
    if (!why.empty()) {
      const std::string mkdir = dir_existed ? "" : "sudo mkdir -p " + dropin_dir_ + "\n  ";
      steps.push_back(
          "cannot write the unit directory " + dropin_dir_ + " (" + why +
          "): the drop-in was not installed; run as root, or by hand:" +
          manual_commands(mkdir + "sudo cp " + local_dropin_ + " " + dropin_dir_ + "/"));
      return false;
    }
    steps.push_back("installed " + installed_dropin_);
    return true;
  }

  bool remove(std::vector<std::string>& steps) const {
    auto removed = remove_file_durable(installed_dropin_);
    if (!removed.ok()) {
      steps.push_back(
          "cannot remove the drop-in (" + removed.error().message +
          "); run as root, or by hand:" + manual_commands("sudo rm -f " + installed_dropin_));
      return false;
    }
    steps.push_back(removed.value() ? "removed " + installed_dropin_
                                    : "no drop-in installed at " + installed_dropin_);
    return true;
  }

  /// Runs `systemctl <args>`; records the step and returns whether it exited 0.
  bool systemctl(std::vector<std::string>& steps, const std::vector<std::string>& args) const {
    std::vector<std::string> argv{systemctl_};
    argv.insert(argv.end(), args.begin(), args.end());
    const ProcessResult r = run_program(argv, "", command_timeout_ms_);
    const std::string shown = join_argv(argv);
    if (r.succeeded()) {
      steps.push_back(shown + ": " + describe(r));
      return true;
    }
    std::string hint;
    if (!r.started) hint = " (set plugins.config.systemd.systemctl to systemctl's path)";
    steps.push_back(shown + " failed: " + describe(r) + hint);
    return false;
  }

  bool reload_restart_verify(std::vector<std::string>& steps) const {
    if (!systemctl(steps, {"daemon-reload"})) return false;
    if (!systemctl(steps, {"restart", unit_})) return false;
    return verify_active(steps);
  }

  /// Polls `systemctl is-active UNIT` until it prints "active" and exits 0, or the verify
  /// timeout passes (a unit that is still "activating" then counts as failed).
  bool verify_active(std::vector<std::string>& steps) const {
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::milliseconds(verify_timeout_ms_);
    const std::vector<std::string> argv{systemctl_, "is-active", unit_};
    int checks = 0;
    ProcessResult last;
    for (;;) {
      const auto left_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      // Each call gets the smaller of the command timeout and what is left of the verify time
      // (but a moment at least, so that the last check can still answer).
      const long call_timeout_ms =
          std::min<long>(command_timeout_ms_, std::max<long>(left_ms, 100));
      last = run_program(argv, "", call_timeout_ms);
      ++checks;
      std::string state = last.output;
      while (!state.empty() && (state.back() == '\n' || state.back() == ' ')) state.pop_back();
      if (last.succeeded() && state == "active") {
        const auto elapsed_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
        steps.push_back(unit_ + " is active (" + std::to_string(checks) + " check" +
                        (checks == 1 ? "" : "s") + ", " + std::to_string(elapsed_ms) + " ms)");
        return true;
      }
      if (!last.started) break;
      if (Clock::now() + std::chrono::milliseconds(verify_interval_ms_) >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(verify_interval_ms_));
    }
    steps.push_back(unit_ + " did not become active within " + std::to_string(verify_timeout_ms_) +
                    " ms (" + std::to_string(checks) + " checks; last " + join_argv(argv) + ": " +
                    describe(last) + "); check: systemctl status " + unit_ + " and journalctl -u " +
                    unit_ + " -n 50");
    return false;
  }

  std::string unit_;
  std::string dropin_dir_;
  std::string systemctl_;
  std::string local_dropin_;
  std::string installed_dropin_;
  long verify_timeout_ms_ = 30000;
  long verify_interval_ms_ = 500;
  long command_timeout_ms_ = 60000;
};

}  // namespace qsc::actions

QSC_ACTION_PLUGIN(qsc::actions::SystemdAction, "systemd", "1.0.0",
                  "Installs or removes the canary drop-in, restarts the unit, verifies is-active")
