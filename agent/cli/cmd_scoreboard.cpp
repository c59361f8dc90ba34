// `qsc scoreboard`: GO / WAIT / NO-GO per model, written to reports/safety/scoreboard_latest.*.
#include <iostream>

#include "cli/command.hpp"
#include "cli/current_window.hpp"
#include "cli/lifecycle_support.hpp"
#include "lifecycle/gate.hpp"
#include "lifecycle/state.hpp"

namespace qsc::agent {
namespace {

class ScoreboardCommand final : public Command {
 public:
  std::string name() const override { return "scoreboard"; }
  std::string summary() const override {
    return "per-model GO/WAIT/NO-GO over the current window, written to reports/safety";
  }
  void setup(CLI::App& app) override {
    app.footer(
        "Window: the events since the canary's activation (or its latest promotion) when one is "
        "active, else the newest "
        "telemetry.window_events events. A model with fewer than telemetry.min_events "
        "predictions is WAIT, never GO; an active canary with any shadow, inactive or fallback "
        "prediction in the window is NO-GO. Exit 0 written, 2 when telemetry or files fail.");
  }
  int run(CommandContext& ctx) override {
    const Config& cfg = ctx.config;
    auto state = load_state(cfg.paths.state);
    if (!state) {
      std::cerr << "qsc scoreboard: " << state.error().message << "\n";
      return exit_code::kError;
    }
    // Judged by the loaded detectors, as the gate and the monitor judge.
    auto host = open_plugin_host(cfg, LibraryDigests::kSkip);
    if (!host) {
      std::cerr << "qsc scoreboard: plugins: " << host.error().message << "\n";
      return exit_code::kError;
    }
    auto source = open_source(cfg);
    if (!source) {
      std::cerr << "qsc scoreboard: " << source.error().message << "\n";
      return exit_code::kError;
    }
    auto window = read_current_window(cfg, **source, *state);
    if (!window) {
      std::cerr << "qsc scoreboard: " << window.error().message << "\n";
      return exit_code::kError;
    }
    auto board = judge_current_window(cfg, **host, (*source)->describe(), *window, *state);
    auto path = write_scoreboard(board, cfg.paths.reports_dir);
    std::cout << scoreboard_markdown(board);
    if (!path) {
      std::cerr << "qsc scoreboard: " << path.error().message << "\n";
      return exit_code::kError;
    }
    std::cout << "\nWritten: " << *path << "\n";
    return exit_code::kOk;
  }
};

QSC_REGISTER_COMMAND(ScoreboardCommand);

}  // namespace
}  // namespace qsc::agent
