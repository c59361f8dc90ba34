// Services shared by the lifecycle commands and the monitor.
#include "lifecycle/services.hpp"

#include "qsc/process.hpp"

namespace qsc::agent {

Result<EpochMs> resolve_cutover(const std::string& text, const Config& config) {
  std::string ts = text;
  if (text == "auto") {
    const auto shown = run_program({config.systemd.systemctl, "show", config.systemd.unit, "-p",
                                    "ActiveEnterTimestamp", "--value"},
                                   "", /*timeout_ms=*/10'000);
    if (!shown.started) {
      return Error{"--after/--cutover auto: " + shown.error +
                   " (plugins.config.systemd.systemctl); give the timestamp instead: " +
                   std::string(kTimestampForms)};
    }
    std::string out = shown.output;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    if (const auto eq = out.find('='); eq != std::string::npos) out = out.substr(eq + 1);
    if (!shown.succeeded() || out.empty()) {
      return Error{"cutover auto: `" + config.systemd.systemctl + " show " + config.systemd.unit +
                   " -p ActiveEnterTimestamp` gave no timestamp (is the unit running?): " +
                   (shown.output.empty() ? describe(shown) : shown.output) +
                   "; give the timestamp instead: " + std::string(kTimestampForms)};
    }
    ts = out;
  }
  auto ms = parse_timestamp(ts);
  if (!ms) {
    // Every rejected timestamp shows the accepted forms, an impossible date too.
    std::string message = ms.error().message;
    if (message.find(kTimestampForms) == std::string::npos) {
      message += "; use " + std::string(kTimestampForms);
    }
    return Error{message};
  }
  // A little slack for clock skew between the engine host and this one.
  if (*ms > now_ms() + 60'000) {
    return Error{"cutover " + format_iso(*ms) +
                 " is in the future: give the engine's restart "
                 "time (" +
                 std::string(kTimestampForms) + ")"};
  }
  return *ms;
}

nlohmann::ordered_json loaded_detectors_json(const PluginHost& host) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& r : host.records()) {
    if (!r.loaded() || r.kind != "detector") continue;
    out[r.name] = {{"scope", r.scope}, {"config", r.effective_config}};
  }
  return out;
}

Result<GateReport> run_gate(const Config& config, PluginHost& host, TelemetrySource& source,
                            EpochMs cutover_ms) {
  auto post = source.range(cutover_ms, std::nullopt, config.telemetry.window_events);
  if (!post) return post.error();
  // The comparison is informative only: a source that cannot give it does not fail the gate.
  auto pre = source.range(0, cutover_ms, config.telemetry.window_events);
  GateRequest request{cutover_ms,
                      config.telemetry.window_events,
                      config.telemetry.min_events,
                      config.telemetry.max_rejected_pct,
                      config.telemetry.stale_after,
                      loaded_detectors_json(host),
                      config.sha256};
  GateEvidence evidence;
  evidence.post = post->events;
  if (pre) evidence.pre = pre->events;
  evidence.counts = post->counts;
  evidence.rejections = post->rejections;
  evidence.events_lost = post->events_lost;
  evidence.source = source.describe();
  return evaluate_gate(request, evidence, detectors_of(host));
}

Result<std::unique_ptr<PluginHost>> open_plugin_host(const Config& config, LibraryDigests digests,
                                                     RefusedFiles refused) {
  auto host = PluginHost::open(config, std::move(refused), digests);
  if (!host) return host.error();
  if (auto s = host->startup_status(); !s) return s.error();
  if (auto s = require_plugins(config, *host); !s) return s.error();
  return std::make_unique<PluginHost>(std::move(host).value());
}

std::vector<std::string> missing_required_plugins(const Config& config, const PluginHost& host) {
  std::vector<std::string> missing;
  for (const auto& name : config.plugins.required) {
    if (host.has(name)) continue;
    std::string why;
    for (const auto& r : host.records()) {
      if (r.name == name && !r.loaded()) {
        why += (why.empty() ? "" : "; ") + r.file + " rejected: " + r.reason;
      }
    }
    if (why.empty()) why = "no " + name + ".so in the plugin directory";
    missing.push_back(name + " (" + why + ")");
  }
  return missing;
}

Status require_plugins(const Config& config, const PluginHost& host) {
  const auto missing = missing_required_plugins(config, host);
  if (missing.empty()) return ok_status();
  std::string message = "required plugins not loaded from " + host.dir().string() + ":";
  for (const auto& m : missing) message += "\n  - " + m;
  message +=
      "\nWithout them a violation could go unseen or not be rolled back, so nothing starts. "
      "Reinstall the plugins (mode 0755 files in a directory only their owner may write), then "
      "check with qsc plugins list. (plugins.required)";
  return Error{message};
}

RunActions actions_of(PluginHost& host) {
  return [&host](const std::vector<std::string>& order, const Incident& incident) {
    return host.run_actions(order, incident);
  };
}

Scoreboard scoreboard_for(const Config& config, PluginHost& host, WindowStats window,
                          const TelemetryHealth& telemetry, const std::string& source,
                          const std::string& canary,
                          const std::vector<std::string>& telemetry_reasons) {
  const auto verdicts =
      judge_window(detectors_of(host), window, telemetry, config.telemetry.min_events);
  auto board = compute_scoreboard(std::move(window), verdicts, config.telemetry.min_events, canary,
                                  telemetry_reasons);
  board.source = source;
  board.config_sha256 = config.sha256;
  return board;
}

}  // namespace qsc::agent
