// `qsc promote --weight W` / `qsc promote --finalize`: the runbook's step 5 after a clean period.
// Exit 0 promoted, 1 refused.
#include <iostream>

#include "cli/command.hpp"
#include "cli/lifecycle_support.hpp"

namespace qsc::agent {
namespace {

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
        "monitor again. --finalize writes paths.live_weights, removes the drop-in and restarts.");
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
    auto result = finalize_ ? finalize_canary(lc) : promote_canary(lc, weight_);
    if (result.exit_code != 0) {
      std::cerr << "qsc promote: " << result.message << "\n";
      print_outcomes(result.outcomes);
      return exit_code::kRefused;
    }
    std::cout << "✅ " << result.message << "\n\nWeights:\n"
              << format_weights_block(result.state.weights, result.state.model, cfg.canary.models);
    print_outcomes(result.outcomes);
    return exit_code::kOk;
  }

 private:
  double weight_ = 0.0;
  bool finalize_ = false;
};

QSC_REGISTER_COMMAND(PromoteCommand);

}  // namespace
}  // namespace qsc::agent
