// `qsc state [--json]`: where the canary is, and whether telemetry is flowing.
#include <iostream>

#include "cli/command.hpp"
#include "cli/lifecycle_support.hpp"
#include "core/duration.hpp"
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
    nlohmann::ordered_json telemetry;
    auto source = open_source(cfg);
    if (!source) {
      telemetry = {{"ok", false}, {"error", source.error().message}};
    } else {
      auto summary = (*source)->summary(std::nullopt);
      telemetry = {{"source", (*source)->describe()}, {"ok", static_cast<bool>(summary)}};
      if (!summary) {
        telemetry["error"] = summary.error().message;
      } else {
        telemetry["events"] = summary->total_events;
        if (summary->newest_event_ms) {
          telemetry["newest_event"] = format_iso(*summary->newest_event_ms);
          telemetry["newest_event_age_s"] = (now - *summary->newest_event_ms) / 1000;
        }
        telemetry["events_lost"] = summary->events_lost;
      }
    }
    doc["telemetry"] = telemetry;
    if (json_) {
      std::cout << doc.dump(2) << "\n";
      return exit_code::kOk;
    }
    std::cout << "Phase:         " << phase_name(state->phase) << "\n";
    if (state->phase == Phase::kRollbackIncomplete) {
      std::cout << "               ❌ the last rollback is INCOMPLETE: part of the canary may "
                   "still be live. Run qsc rollback: it names what is left and how to remove it "
                   "(rollback_failed in the audit log lists it too).\n";
    }
    if (!state->model.empty()) {
      std::cout << "Canary:        " << state->model << " at " << weight_percent(state->weight)
                << "\n"
                << "Activated:     " << format_iso(state->activated_ms) << "\n";
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
    if (!state->last_verdict.empty()) std::cout << "Last verdict:  " << state->last_verdict << "\n";
    if (!state->last_result.empty()) std::cout << "Last result:   " << state->last_result << "\n";
    std::cout << "Telemetry:     "
              << (telemetry.value("ok", false)
                      ? telemetry.value("source", std::string()) + ", " +
                            std::to_string(telemetry.value("events", 0)) + " events"
                      : "UNAVAILABLE: " + telemetry.value("error", std::string()))
              << "\n";
    return exit_code::kOk;
  }

 private:
  bool json_ = false;
};

QSC_REGISTER_COMMAND(StateCommand);

}  // namespace
}  // namespace qsc::agent
