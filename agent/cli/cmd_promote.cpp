// `qsc promote --weight W` / `qsc promote --finalize`: the runbook's step 5 after a clean period.
// Exit 0 promoted, 1 refused.
#include <iostream>

#include "cli/command.hpp"
#include "cli/current_window.hpp"
#include "cli/lifecycle_support.hpp"
#include "core/duration.hpp"

namespace qsc::agent {
namespace {

// The clean period ended before now and no monitor has watched the canary since: promotion also
// needs the canary's current window to be GO as `qsc scoreboard` judges it (fresh, complete,
// readable telemetry and every detector passing), so a canary that went silent or bad after its
// period is not promoted on the period's word.
Status check_current_window(const Config& cfg, PluginHost* host, const CanaryState& state,
                            const std::string& what) {
  if (host == nullptr) {
    return Error{what + " refused: no plugin host to judge the canary's current window"};
  }
  auto source = open_source(cfg);
  if (!source) {
    return Error{what + " refused: the canary's current telemetry cannot be read (" +
                 source.error().message + ")"};
  }
  auto window = read_current_window(cfg, **source, state);
  if (!window) {
    return Error{what + " refused: the canary's current telemetry cannot be read (" +
                 window.error().message + ")"};
  }
  const auto board = judge_current_window(cfg, *host, (*source)->describe(), *window, state);
  const ScoreboardRow* row = board.find(state.model);
  if (row != nullptr && row->status == "GO") return ok_status();
  const std::string status = row == nullptr ? "no row" : row->status;
  const std::vector<std::string> reasons =
      row == nullptr ? std::vector<std::string>{} : row->reasons;
  return Error{what + " refused: " + state.model + "'s current window (since " +
               format_iso(window->from_ms) + ") is " + status +
               (reasons.empty() ? std::string() : ": " + join_reasons(reasons)) +
               ". The clean period ended " + format_iso(state.period_end_ms) +
               " and says nothing of the canary now: check the engine and qsc scoreboard, then "
               "run qsc monitor for a new period; there is no override."};
}

class PromoteCommand final : public Command {
 public:
  std::string name() const override { return "promote"; }
  std::string summary() const override {
    return "raise a clean canary's weight (--weight W) or adopt it as live (--finalize)";
  }
  void setup(CLI::App& app) override {
    auto* w = app.add_option("--weight", weight_, "new canary weight, above the current one")
                  ->check(CLI::Range(0.0, 1.0));
    auto* f = app.add_flag("--finalize", finalize_,
                           "adopt the canary weights as the live weights and end the canary");
    w->excludes(f);
    app.footer(
        "Only after a monitoring_completed with no violations for the current canary at its "
        "current weight; there is no override. Promotion starts a new monitoring period: run qsc "
        "monitor again. --finalize writes paths.live_weights, removes the drop-in and restarts, "
        "then checks on disk that the live weights are the canary's and that no canary weights "
        "or drop-in (local or installed) is left: otherwise FINALIZATION INCOMPLETE, exit 1, "
        "with the commands that finish it; run --finalize again to check once more. "
        "Refused too when that period ended more than canary.duration ago (no monitor watched "
        "the canary since), ran under another configuration (its audit entry's config_sha256), "
        "or when the canary's current window is not GO as qsc scoreboard "
        "judges it (stale, lost or unreadable telemetry, a failing detector): monitor again.");
  }
  int run(CommandContext& ctx) override {
    if (!finalize_ && weight_ <= 0.0) {
      std::cerr << "qsc promote: give --weight W (e.g. 0.25) or --finalize\n";
      return exit_code::kRefused;
    }
    const Config& cfg = ctx.config;
    auto opening = TransitionSession::open(cfg, "promote", TransitionSession::Actions::kPluginHost,
                                           exit_code::kRefused);
    if (!opening.session) return opening.exit_code;
    const auto& lc = opening.session->context();
    const std::string what = finalize_ ? "finalization" : "promotion";
    // The period's verdict first (its refusals say what to run), then the canary now. A
    // finalized canary is only checked again (the retry after an incomplete finalization).
    auto state = load_state(cfg.paths.state);
    const bool recheck = finalize_ && state && state->phase == Phase::kFinalized;
    if (state && !recheck) {
      auto allowed = check_promotable(cfg, *state, what, now_ms());
      if (allowed) allowed = check_current_window(cfg, opening.session->host(), *state, what);
      if (!allowed) {
        std::cerr << "qsc promote: " << allowed.error().message << "\n";
        return exit_code::kRefused;
      }
    }
    auto result = finalize_ ? finalize_canary(lc) : promote_canary(lc, weight_);
    if (!result.still_live.empty()) {
      std::cerr << "❌ " << result.message << "\n";
      print_outcomes(result.outcomes);
      return exit_code::kRefused;
    }
    if (result.exit_code != 0) {
      std::cerr << "qsc promote: " << result.message << "\n";
      print_outcomes(result.outcomes);
      return exit_code::kRefused;
    }
    // Without the drop-in installed the promotion is in the files only: not a check mark.
    std::cout << (result.manual_step.empty() ? "✅ " : "⚠️  ") << result.message
              << "\n\nWeights:\n"
              << format_weights_block(result.state.weights, result.state.model, cfg.canary.models);
    print_outcomes(result.outcomes);
    if (!result.manual_step.empty()) std::cout << "\n⚠️  " << result.manual_step;
    return exit_code::kOk;
  }

 private:
  double weight_ = 0.0;
  bool finalize_ = false;
};

QSC_REGISTER_COMMAND(PromoteCommand);

}  // namespace
}  // namespace qsc::agent
