// `qsc demo [--scenario collapse|healthy]`: the embedded default, end to end, on one machine.
#include "cli/command.hpp"
#include "core/duration.hpp"
#include "demo/demo.hpp"

namespace qsc::agent {
namespace {

class DemoCommand final : public Command {
 public:
  std::string name() const override { return "demo"; }
  std::string summary() const override {
    return "run the whole runbook on a synthetic engine over shared memory (no server needed)";
  }
  void setup(CLI::App& app) override {
    app.add_option("--scenario", options_.scenario, "collapse (default) or healthy")
        ->check(CLI::IsMember({"collapse", "healthy"}));
    app.add_option("--dir", options_.dir, "directory the demo writes under (default qsc-demo)");
    app.add_option("--duration", duration_, "monitoring period (default 20s)");
    app.footer(
        "Starts a synthetic engine publishing trade intents for xgb, lgbm, nhits and patchtst "
        "into a shared-memory ring, runs the gate, activates patchtst at 10%, monitors with a 1 s "
        "interval; in the collapse scenario patchtst collapses into HOLD and the monitor rolls it "
        "back. Leaves no process and no shared-memory segment behind.");
  }
  int run(CommandContext&) override {
    if (!duration_.empty()) {
      auto d = parse_duration(duration_);
      if (!d) {
        std::cerr << "qsc demo: " << d.error().message << "\n";
        return exit_code::kError;
      }
      options_.duration = *d;
    } else if (options_.scenario == "healthy") {
      options_.duration = std::chrono::seconds(15);
    }
    return run_demo(options_);
  }

 private:
  DemoOptions options_;
  std::string duration_;
};

QSC_REGISTER_COMMAND(DemoCommand);

}  // namespace
}  // namespace qsc::agent
