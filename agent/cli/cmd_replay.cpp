// `qsc replay --file REC.jsonl [--model M] [--activated-at TS] [--duration 6h] [--interval 30s]
// [--json OUT] [--metrics-textfile OUT.prom] [--html OUT.html]`: would the monitor have rolled back
// on this recording, and when? Plays the recording through the monitor's own evaluation step and
// detectors on event time (replay/replay.hpp). Exit 0 clean, 1 would have rolled back, 3
// inconclusive, 2 bad input.
#include <filesystem>
#include <iostream>

#include "cli/command.hpp"
#include "core/duration.hpp"
#include "core/files.hpp"
#include "lifecycle/services.hpp"
#include "lifecycle/state.hpp"
#include "metrics/metrics_textfile.hpp"
#include "replay/replay.hpp"
#include "replay/replay_html.hpp"
#include "replay/replay_report.hpp"

namespace qsc::agent {
namespace {

class ReplayCommand final : public Command {
 public:
  std::string name() const override { return "replay"; }
  std::string summary() const override {
    return "would the monitor have rolled back on a recording, and when? (writes nothing)";
  }
  void setup(CLI::App& app) override {
    app.add_option("--file", file_, "the recording: JSONL as qsc telemetry --record FILE writes it")
        ->option_text("REC.jsonl")
        ->required();
    app.add_option("--model", model_, "the canary model, default the state file's active canary")
        ->option_text("M");
    app.add_option("--activated-at", activated_at_,
                   "the period's start (the canary's activation), default the first entry's "
                   "time: ISO-8601 (2026-01-10T05:43:15Z) or systemd's form (\"Fri 2026-01-10 "
                   "05:43:15 UTC\")")
        ->option_text("TS");
    app.add_option("--duration", duration_, "the period, default canary.duration (6h)");
    app.add_option("--interval", interval_, "between interval checks, default canary.interval");
    app.add_option("--json", json_path_, "also write the figures as JSON to OUT (atomically)")
        ->option_text("OUT");
    app.add_option("--metrics-textfile", metrics_path_,
                   "also write the Prometheus families the monitor would have served (at its "
                   "rollback, else at the end) as a node_exporter textfile (atomically)")
        ->option_text("OUT.prom");
    app.add_option("--html", html_path_,
                   "also write the timeline as a self-contained HTML report (atomically)")
        ->option_text("OUT.html");
    app.footer(
        "Plays the recording through the monitor's own code: the same canary window, the same "
        "detector plugins with the same configuration (plugins.dir, plugins.config), the "
        "interval checks, telemetry.stale_after, the rejected share and the required plugins, "
        "all on event time (the entries' stream IDs) instead of the wall clock. Evaluates after "
        "every entry, at every check's due time and when a gap between events passes "
        "stale_after. Prints each check's status, each detector's first violation, the event at "
        "which the monitor would have rolled back (index, ID, time, line, messages) and the "
        "scoreboard at the end.\n"
        "Exit 0: the period would have completed clean. 1: the monitor would have rolled back. "
        "3: inconclusive (the recording ends before the period does, or too few canary "
        "predictions). 2: bad input (named, with the fix).\n"
        "Writes no weights, state, audit log or report; only the files --json, --metrics-textfile "
        "and --html name.");
  }

  int run(CommandContext& ctx) override {
    const Config& cfg = ctx.config;
    ReplayOptions options;
    options.file = file_;
    options.duration = cfg.canary.duration;
    options.interval = cfg.canary.interval;
    for (auto [text, out, flag] : {std::tuple{&duration_, &options.duration, "--duration"},
                                   std::tuple{&interval_, &options.interval, "--interval"}}) {
      if (text->empty()) continue;
      auto d = parse_duration(*text);
      if (!d) return bad_input(std::string(flag) + ": " + d.error().message);
      *out = *d;
    }
    if (!activated_at_.empty()) {
      auto ts = parse_timestamp(activated_at_);
      if (!ts) return bad_input("--activated-at: " + ts.error().message);
      options.activated_at_ms = *ts;
    }
    // Refused before the replay runs, so a bad name never costs a long replay's output.
    if (!metrics_path_.empty() && std::filesystem::path(metrics_path_).extension() != ".prom") {
      return bad_input("--metrics-textfile " + metrics_path_ +
                       ": node_exporter's textfile collector reads only *.prom files; name it "
                       "e.g. qsc_replay.prom");
    }
    options.model = model_;
    if (options.model.empty()) {
      // Read only: replay never writes the state.
      auto state = load_state(cfg.paths.state);
      if (!state || !state->active()) {
        return bad_input("no --model given and no active canary in " + cfg.paths.state +
                         ": name the canary, e.g. --model patchtst");
      }
      options.model = state->model;
    }
    auto host = open_plugin_host(cfg, LibraryDigests::kSkip);
    if (!host) return bad_input("plugins: " + host.error().message);
    std::vector<std::string> detectors;
    for (const auto& r : host.value()->records()) {
      if (r.loaded() && r.kind == "detector") detectors.push_back(r.name);
    }
    auto result = run_replay(cfg, *host.value(), options);
    if (!result) return bad_input(result.error().message);
    std::cout << replay_text(*result, detectors) << std::flush;
    if (!json_path_.empty()) {
      const auto doc = replay_json(*result, detectors, cfg.sha256);
      if (auto w = write_file_atomic(
              json_path_, doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
          !w) {
        return bad_input("--json: " + w.error().message);
      }
      std::cout << "Figures written to " << json_path_ << std::endl;
    }
    if (!metrics_path_.empty()) {
      if (auto w = metrics::write_textfile(result->metrics, metrics_path_); !w) {
        return bad_input("--metrics-textfile: " + w.error().message);
      }
      std::cout << "Metrics written to " << metrics_path_ << std::endl;
    }
    if (!html_path_.empty()) {
      if (auto w = write_file_atomic(html_path_, replay_html(*result)); !w) {
        return bad_input("--html: " + w.error().message);
      }
      std::cout << "Report written to " << html_path_ << std::endl;
    }
    return replay_exit_code(*result);
  }

 private:
  static int bad_input(const std::string& message) {
    std::cerr << "qsc replay: " << message << "\n";
    return exit_code::kError;
  }

  std::string file_;
  std::string model_;
  std::string activated_at_;
  std::string duration_;
  std::string interval_;
  std::string json_path_;
  std::string metrics_path_;
  std::string html_path_;
};

QSC_REGISTER_COMMAND(ReplayCommand);

}  // namespace
}  // namespace qsc::agent
