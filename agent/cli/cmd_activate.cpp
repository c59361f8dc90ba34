// `qsc activate --model M --cutover TS [--dry-run] [--weight W]`: the runbook's step 3.
// Exit 0 activated (or dry run passed), 1 gate failed, 2 activation error.
#include <cstdio>
#include <iostream>
#include <optional>

#include "cli/command.hpp"
#include "cli/lifecycle_support.hpp"
#include "core/duration.hpp"
#include "lifecycle/gate_record.hpp"

namespace qsc::agent {
namespace {

std::string monitor_for(std::chrono::milliseconds d) {
  if (d.count() % 3'600'000 == 0) {
    const auto h = d.count() / 3'600'000;
    return std::to_string(h) + (h == 1 ? " hour" : " hours");
  }
  return format_duration(d);
}

class ActivateCommand final : public Command {
 public:
  std::string name() const override { return "activate"; }
  std::string summary() const override {
    return "run the gate, then give one model the canary weight (runbook step 3)";
  }
  void setup(CLI::App& app) override {
    app.add_option("--model", model_, "the canary model (one of canary.models)")->required();
    app.add_option("--cutover", cutover_, "cutover: " + std::string(kTimestampForms))->required();
    app.add_flag("--dry-run", dry_run_, "run the gate only and report (exit 0 on PASS)");
    // 0 would be a canary that gets no traffic: a mistake, never a request for the default.
    app.add_option("--weight", weight_, "canary weight, default canary.weight (0.10)")
        ->check(CLI::Validator(
            [](std::string& text) -> std::string {
              double w = 0.0;
              if (!CLI::detail::lexical_cast(text, w) || !(w > 0.0 && w <= 0.5)) {
                return "--weight " + text +
                       " is out of range: give a share of traffic above 0 and at most 0.5 "
                       "(0.10 is 10%)";
              }
              return {};
            },
            "above 0, at most 0.5"));
    app.footer(
        "No PASS, no activation: the gate runs in-process first (exit 1 on FAIL, on stale or "
        "lost telemetry, or when the canary itself has fewer than telemetry.min_events active "
        "predictions after the cutover). Then backs up the live weights to " +
        std::string(kDefaultBaselineWeights) + ", writes " + std::string(kDefaultCanaryWeights) +
        " and " + dropin_path(std::string(kDefaultOverrideDir)) +
        " (the paths.* defaults), installs the drop-in through the systemd action where "
        "permitted, records data/qsc_state.json and logs canary_activated. A failure part-way "
        "undoes what was written (exit 2).");
  }
  int run(CommandContext& ctx) override {
    const Config& cfg = ctx.config;
    const auto& models = cfg.canary.models;
    if (std::find(models.begin(), models.end(), model_) == models.end()) {
      std::string list;
      for (const auto& m : models) list += (list.empty() ? "" : ", ") + m;
      std::cerr << "qsc activate: unknown model \"" << model_ << "\": choose one of " << list
                << " (canary.models)\n";
      return exit_code::kError;
    }
    const double weight = weight_.value_or(cfg.canary.weight);
    auto cutover = resolve_cutover(cutover_, cfg);
    if (!cutover) {
      std::cerr << "qsc activate: " << cutover.error().message << "\n";
      return exit_code::kError;
    }
    // Refused before the gate when a required plugin is not loaded.
    auto opening = TransitionSession::open(cfg, "activate", TransitionSession::Actions::kPluginHost,
                                           exit_code::kError);
    if (!opening.session) return opening.exit_code;
    const auto& session = *opening.session;
    auto source = open_source(cfg);
    if (!source) {
      std::cerr << "qsc activate: " << source.error().message << "\n";
      return exit_code::kError;
    }
    auto gate = run_gate(cfg, *session.host(), **source, *cutover);
    if (!gate) {
      std::cerr << "qsc activate: " << gate.error().message << "\n";
      std::cout << "❌ QUALITY GATE FAILED\n   No telemetry, no decision: NO ACTIVATION\n";
      return exit_code::kRefused;
    }
    // A PASS on the other models says nothing about a canary the gate never saw.
    require_canary_judged(*gate, model_);
    // The report and the audit entry are the record of why a model went live: without them
    // nothing is activated (fail closed), whatever the verdict.
    auto record =
        record_gate(cfg, *gate, *cutover, "activate " + model_, GateEntryWithoutReport::kOmit);
    const auto& path = record.report_path;
    if (!path) {
      std::cerr << "qsc activate: the gate report could not be written: " << path.error().message
                << ". Fix paths.reports_dir (" << cfg.paths.reports_dir
                << ") and run again; nothing was activated.\n";
      return exit_code::kError;
    }
    if (!record.logged) {
      std::cerr << "qsc activate: the audit log could not be written: "
                << record.logged.error().message << ". Fix paths.audit_log (" << cfg.paths.audit_log
                << ") and run again; nothing was activated.\n";
      return exit_code::kError;
    }
    if (!gate->pass) {
      std::cout << "❌ QUALITY GATE FAILED\n   " << gate->events_analysed
                << " post-cutover events analyzed\n";
      for (const auto& b : gate->blockers) std::cout << "   ❌ " << b << "\n";
      std::cout << "   Report: " << *path << "\n";
      std::cout << "   NO ACTIVATION (no PASS, no deploy)\n";
      return exit_code::kRefused;
    }
    std::cout << "✅ QUALITY GATE PASSED\n   " << gate->events_analysed
              << " post-cutover events analyzed\n";
    std::cout << "   Report: " << *path << "\n";
    if (dry_run_) {
      std::cout << "\nDry run: nothing was activated. Activate with:\n  qsc activate --model "
                << model_ << " --cutover " << format_iso(*cutover) << "\n";
      return exit_code::kOk;
    }
    auto result = activate_canary(session.context(), model_, weight, *gate);
    if (result.exit_code != 0) {
      std::cerr << "qsc activate: " << result.message << "\n";
      print_outcomes(result.outcomes);
      return result.exit_code;
    }
    const auto& st = result.state;
    std::cout << "\n[ACTIVATED] CANARY ACTIVATED\n"
              << kRule << "\n"
              << "  Model:         " << st.model << "\n"
              << "  Weight:        " << weight_percent(st.weight) << "\n"
              << "  Start Time:    " << format_iso(st.activated_ms) << "\n"
              << "  Monitor For:   " << monitor_for(cfg.canary.duration) << "\n\n"
              << "Weights:\n"
              << format_weights_block(st.weights, st.model, cfg.canary.models) << "\n"
              << "Rollback Command:\n  qsc rollback\n"
              << kRule << "\n";
    std::cout << "Files:\n  " << cfg.paths.baseline_weights << "  (backup of the live weights)\n  "
              << cfg.paths.canary_weights << "\n  " << local_dropin_path(cfg) << "\n  "
              << cfg.paths.audit_log << "\n";
    if (!result.outcomes.empty()) {
      std::cout << "Actions:\n";
      print_outcomes(result.outcomes);
    }
    if (!result.manual_step.empty()) std::cout << "\n⚠️  " << result.manual_step;
    std::cout << "\nNext steps:\n  1. Make sure " << cfg.systemd.unit
              << " runs with the drop-in (systemctl status " << cfg.systemd.unit
              << ")\n  2. Start monitoring: qsc monitor (or: nohup qsc monitor > "
                 "logs/qsc_monitor.log 2>&1 &)\n";
    return exit_code::kOk;
  }

 private:
  std::string model_;
  std::string cutover_;
  bool dry_run_ = false;
  std::optional<double> weight_;
};

QSC_REGISTER_COMMAND(ActivateCommand);

}  // namespace
}  // namespace qsc::agent
