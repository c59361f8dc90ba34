// `qsc plugins list [--json]` and `qsc plugins reload [--pid PID]`: what the agent loads from the
// plugin directory, and why a plugin was refused, so a user who dropped in a detector can see at
// once whether it is in use.
#include <spdlog/spdlog.h>
#include <sys/types.h>

#include <csignal>
#include <cstring>
#include <iostream>
#include <sstream>

#include "cli/command.hpp"
#include "lifecycle/services.hpp"
#include "plugin_host/plugin_host.hpp"
#include "qsc/plugin_abi.h"
#include "supervisor/child_process.hpp"
#include "supervisor/heartbeat_block.hpp"
#include "supervisor/plugin_probe.hpp"
#include "supervisor/worker_heartbeat.hpp"

namespace qsc::agent {
namespace {

std::string abi_text(const PluginRecord& r) {
  if (r.abi_major == 0 && r.abi_minor == 0) return "-";
  return std::to_string(r.abi_major) + "." + std::to_string(r.abi_minor);
}

/// The descriptor flags by name ("best_effort", ...); an essential action with no role has none.
nlohmann::ordered_json flag_names(std::uint64_t flags) {
  nlohmann::ordered_json names = nlohmann::ordered_json::array();
  const std::pair<std::uint64_t, const char*> known[] = {
      {QSC_FLAG_BEST_EFFORT, "best_effort"},
      {QSC_FLAG_NEEDS_PRIVILEGE, "needs_privilege"},
      {QSC_FLAG_RESTORES_WEIGHTS, "restores_weights"},
      {QSC_FLAG_RESTARTS_SERVICES, "restarts_services"}};
  for (const auto& [bit, name] : known) {
    if ((flags & bit) != 0) names.push_back(name);
  }
  return names;
}

std::string file_name(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

nlohmann::ordered_json to_json(const PluginHost& host, const Config& config) {
  nlohmann::ordered_json plugins = nlohmann::ordered_json::array();
  for (const auto& r : host.records()) {
    nlohmann::ordered_json p;
    p["name"] = r.name;
    p["kind"] = r.kind;
    p["version"] = r.version;
    p["abi"] = abi_text(r);
    p["file"] = r.file;
    p["sha256"] = r.sha256;
    p["status"] = r.status;
    p["reason"] = r.reason;
    p["description"] = r.description;
    if (r.kind == "detector") p["scope"] = r.scope;
    p["flags"] = flag_names(r.flags);
    p["effective_config"] = r.effective_config;
    p["config_schema"] = r.config_schema;
    plugins.push_back(std::move(p));
  }
  nlohmann::ordered_json errors = nlohmann::ordered_json::array();
  if (auto s = host.startup_status(); !s) errors.push_back(s.error().message);
  nlohmann::ordered_json doc;
  doc["dir"] = host.dir().string();
  doc["plugins"] = std::move(plugins);
  doc["startup_errors"] = std::move(errors);
  doc["required_missing"] = missing_required_plugins(config, host);
  return doc;
}

void print_table(std::ostream& out, const PluginHost& host, const Config& config) {
  out << "Plugin directory: " << host.dir().string() << "\n";
  std::size_t loaded = 0;
  for (const auto& r : host.records()) {
    if (r.loaded()) ++loaded;
    char line[256];
    std::snprintf(line, sizeof line, "%-22s %-9s %-8s ABI %-4s %s", r.name.c_str(),
                  r.kind.empty() ? "?" : r.kind.c_str(),
                  r.version.empty() ? "-" : r.version.c_str(), abi_text(r).c_str(),
                  file_name(r.file).c_str());
    out << line << "\n";
    if (r.loaded()) {
      out << "    loaded: " << r.description << "\n";
      // What a monitoring period records of the code that judged it.
      out << "    sha256: " << r.sha256 << "\n";
      if (r.kind == "detector") out << "    judges: " << r.scope << "\n";
      // A detector's configuration is its thresholds; an action's is its settings.
      out << (r.kind == "detector" ? "    thresholds: " : "    config: ")
          << r.effective_config.dump() << "\n";
    } else {
      out << "    rejected: " << r.reason << "\n";
    }
  }
  out << loaded << " loaded, " << host.records().size() - loaded << " rejected\n";
  if (auto s = host.startup_status(); !s) {
    out << "Startup errors (the agent refuses to start until they are fixed):\n  "
        << s.error().message << "\n";
  }
  if (auto s = require_plugins(config, host); !s) out << "❌ " << s.error().message << "\n";
}

class PluginsCommand final : public Command {
 public:
  std::string name() const override { return "plugins"; }
  std::string summary() const override {
    return "list the detector and action plugins (loaded, or rejected with the reason)";
  }
  void setup(CLI::App& app) override {
    app.require_subcommand(1);
    list_ = app.add_subcommand("list",
                               "show every plugin: name, kind, version, ABI, file, status "
                               "and effective thresholds");
    list_->add_flag("--json", json_, "print one JSON document for scripts");
    reload_ = app.add_subcommand(
        "reload", "load the plugin directory as the agent does on SIGHUP and show the result");
    reload_->add_option("--pid", pid_,
                        "a running `qsc monitor` to signal (SIGHUP) so it swaps in this set");
    app.footer(
        "Exit 0 when the directory was read and every required plugin (plugins.required) is "
        "loaded (other rejected plugins are listed with their reason); 2 when the plugin "
        "directory is missing or unreadable or a required plugin is not loaded. reload exits 1 "
        "when a plugin refused "
        "its configuration section (the agent would not start) or the signal could not be sent.");
  }

  // Loading runs the plugins' code (static constructors, factories): the probe loads the
  // directory in throwaway children first, so a library that crashes or hangs as it loads is
  // listed as rejected with that reason instead of taking this command down. The listing itself
  // runs in one more child that sends back its exit code and what it printed.
  int run(CommandContext& context) override {
    // Every rejection is reported in the output; log lines would only break --json.
    spdlog::set_level(spdlog::level::off);
    auto refusals = probe_plugin_dir(context.config);
    if (!refusals) {
      std::cerr << "qsc plugins: " << refusals.error().message << "\n";
      return exit_code::kError;
    }
    const auto refused = refused_files(*refusals);
    auto block = HeartbeatBlock::create();
    if (!block) {
      std::cerr << "qsc plugins: " << block.error().message << "\n";
      return exit_code::kError;
    }
    const auto run = run_in_child(
        [&]() -> std::string {
          WorkerHeartbeat observer(*block);
          set_plugin_call_observer(&observer);
          std::ostringstream out;
          std::ostringstream err;
          const int rc = run_loaded(context, refused, out, err);
          set_plugin_call_observer(nullptr);
          return nlohmann::json{{"rc", rc}, {"out", out.str()}, {"err", err.str()}}.dump(
              -1, ' ', false, nlohmann::json::error_handler_t::replace);
        },
        kPluginProbeTimeoutMs);
    const auto doc =
        run.succeeded() ? nlohmann::json::parse(run.output, nullptr, false) : nlohmann::json();
    if (!doc.is_object() || !doc.contains("rc")) {
      const auto file = block->plugin();
      std::cerr << "qsc plugins: loading the plugin directory "
                << resolve_plugin_dir(context.config).string() << " " << describe_failure(run)
                << (file.empty() ? std::string() : " while loading " + file)
                << ": that library is unsafe to load; remove it from the directory (the monitor "
                   "would roll the canary back on it)\n";
      return exit_code::kError;
    }
    std::cout << doc.value("out", std::string()) << std::flush;
    std::cerr << doc.value("err", std::string()) << std::flush;
    return doc.value("rc", exit_code::kError);
  }

 private:
  int run_loaded(CommandContext& context, const RefusedFiles& refused, std::ostream& out,
                 std::ostream& err) {
    auto host = PluginHost::open(context.config, refused, LibraryDigests::kCompute);
    if (!host) {
      err << "qsc plugins: " << host.error().message << "\n";
      return exit_code::kError;
    }
    // A required plugin that is not loaded stops monitor, gate, activate and promote: exit 2,
    // so a script or an install check sees it.
    const bool complete = missing_required_plugins(context.config, host.value()).empty();
    if (list_->parsed()) {
      if (json_) {
        out << to_json(host.value(), context.config).dump(2) << "\n";
      } else {
        print_table(out, host.value(), context.config);
      }
      return complete ? exit_code::kOk : exit_code::kError;
    }
    // reload keeps its own contract: 1 when the agent would not start with this set.
    const int rc = reload(out, err, host.value(), context.config);
    return complete ? rc : exit_code::kRefused;
  }

  int reload(std::ostream& out, std::ostream& err, const PluginHost& host, const Config& config) {
    print_table(out, host, config);
    int rc = host.startup_status() ? exit_code::kOk : exit_code::kRefused;
    if (pid_ <= 1) {
      out << "To make a running qsc monitor load this set: kill -HUP <its pid> (or "
             "`qsc plugins reload --pid <pid>`); it keeps its window and state.\n";
      return rc;
    }
    if (::kill(static_cast<pid_t>(pid_), SIGHUP) != 0) {
      err << "qsc plugins reload: cannot signal pid " << pid_ << ": " << std::strerror(errno)
          << " (is the qsc monitor running, and as this user?)\n";
      return exit_code::kRefused;
    }
    out << "Sent SIGHUP to pid " << pid_
        << ": the monitor swaps in this plugin set and keeps its window.\n";
    return rc;
  }

  CLI::App* list_ = nullptr;
  CLI::App* reload_ = nullptr;
  bool json_ = false;
  long pid_ = 0;
};

QSC_REGISTER_COMMAND(PluginsCommand);

}  // namespace
}  // namespace qsc::agent
