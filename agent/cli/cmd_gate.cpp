// `qsc gate --after TS`: the runbook's step 2. Exit 0 PASS, 2 FAIL.
#include <iostream>

#include "cli/command.hpp"
#include "cli/lifecycle_support.hpp"
#include "lifecycle/gate_record.hpp"
#include "supervisor/plugin_probe.hpp"

namespace qsc::agent {
namespace {

class GateCommand final : public Command {
 public:
  std::string name() const override { return "gate"; }
  std::string summary() const override {
    return "quality gate over the post-cutover events: PASS (exit 0) or FAIL (exit 2)";
  }
  void setup(CLI::App& app) override {
    app.add_option("--after", after_, "cutover: " + std::string(kTimestampForms))->required();
    app.footer(
        "Analyses the most recent telemetry.window_events (default 2000) events after the "
        "cutover with the loaded detector plugins (each with its own plugins.config section, as "
        "the monitor runs them): per-model detectors on every model, ensemble detectors once. "
        "FAIL when fewer than telemetry.min_events (200) events, any detector not passing, "
        "unreadable or lost telemetry, or a newest event older than telemetry.stale_after. "
        "Writes "
        "reports/safety/quality_gate_<time>_post_cutover.md and .json.");
  }
  int run(CommandContext& ctx) override {
    const Config& cfg = ctx.config;
    // The gate judges with what the monitor will watch with: without a required detector
    // (missing or rejected) it does not start.
    auto host = open_probed_plugin_host(cfg);
    if (!host) {
      std::cerr << "qsc gate: plugins: " << host.error().message << "\n";
      return exit_code::kError;
    }
    auto cutover = resolve_cutover(after_, cfg);
    if (!cutover) {
      std::cerr << "qsc gate: " << cutover.error().message << "\n";
      return exit_code::kError;
    }
    auto source = open_source(cfg);
    if (!source) {
      std::cerr << "qsc gate: " << source.error().message << "\n";
      return exit_code::kError;
    }
    auto report = run_gate(cfg, **host, **source, *cutover);
    if (!report) {
      std::cerr << "qsc gate: " << report.error().message << "\n";
      std::cout << "❌ QUALITY GATE: FAIL (BLOCKER)\n   No telemetry, no decision.\n";
      return exit_code::kError;
    }
    auto record = record_gate(cfg, *report, *cutover, "", GateEntryWithoutReport::kAppend);
    const auto& path = record.report_path;
    std::cout << "Quality gate: " << report->events_analysed << " post-cutover events analyzed ("
              << (*source)->describe() << ", cutover " << format_iso(*cutover) << ")\n\n";
    if (report->pass) {
      std::cout << "✅ QUALITY GATE: PASS\n   Safe to proceed with canary activation\n";
    } else {
      std::cout << "❌ QUALITY GATE: FAIL (BLOCKER)\n   Violations detected = NO ACTIVATION\n";
      for (const auto& b : report->blockers) std::cout << "   ❌ " << b << "\n";
    }
    if (path) {
      std::cout << "   Report: " << *path << "\n";
    } else {
      std::cerr << "qsc gate: cannot write the report: " << path.error().message << "\n";
    }
    const auto& logged = record.logged;
    if (!logged) std::cerr << "qsc gate: " << logged.error().message << "\n";
    // A gate whose report could not be written has not produced its evidence: fail closed.
    return report->pass && path && logged ? exit_code::kOk : exit_code::kError;
  }

 private:
  std::string after_;
};

QSC_REGISTER_COMMAND(GateCommand);

}  // namespace
}  // namespace qsc::agent
