// What the monitor tells the world: console blocks, systemd status, audit entries, /metrics.
#include "monitor/monitor_reporter.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "core/audit_log.hpp"
#include "core/console_text.hpp"
#include "core/duration.hpp"
#include "metrics/metrics_publisher.hpp"
#include "monitor/sd_notify.hpp"

namespace qsc::agent {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// What a clean period lets the operator do. Promotion needs one of at least canary.duration: a
// shorter one is never called "safe to promote" (qsc promote would refuse it).
std::string promotion_verdict(const CanaryState& state, milliseconds canary_duration) {
  const milliseconds period(state.period_end_ms - state.period_start_ms);
  if (period >= canary_duration) {
    return "Canary is safe to promote to full production.\n"
           "Next: qsc promote --weight 0.25 (then monitor again), or qsc promote --finalize, "
           "within canary.duration (" +
           format_duration(canary_duration) + ") while the canary stays GO\n";
  }
  return "Not yet promotable: this period (" + format_duration(period) +
         ") is shorter than canary.duration (" + format_duration(canary_duration) +
         "): qsc promote needs a clean period of at least that long.\n"
         "Next: qsc monitor (a period of canary.duration)\n";
}

// The period's unwatched time and where it went: restarts' gaps, or a system clock stepped
// forward while a monitor ran (clock_skipped_ms).
std::string unwatched_text(const CanaryState& state) {
  const std::string total = format_duration(milliseconds(state.unwatched_ms));
  const auto down_ms =
      std::max<std::int64_t>(0, state.unwatched_ms - state.clock_skipped_ms - state.held_up_ms);
  // Each cause of unwatched time with its share, in a fixed order; the total alone when one.
  std::vector<std::pair<std::int64_t, std::string>> parts{
      {down_ms, " while no monitor ran"},
      {state.clock_skipped_ms, " skipped by the system clock stepping forward"},
      {state.held_up_ms, " while the monitor's worker was held up between reads"}};
  std::erase_if(parts, [](const auto& p) { return p.first <= 0; });
  if (parts.empty()) return total + " while no monitor ran";
  if (parts.size() == 1) return total + parts[0].second;
  std::string out = total + ":";
  for (std::size_t k = 0; k < parts.size(); ++k) {
    out += (k == 0 ? " " : ", ") + format_duration(milliseconds(parts[k].first)) + parts[k].second;
  }
  return out;
}

}  // namespace

MonitorReporter::MonitorReporter(const Config& config, std::shared_ptr<spdlog::logger> log,
                                 metrics::MetricsPublisher* metrics)
    : cfg_(config), log_(std::move(log)), metrics_(metrics) {}

void MonitorReporter::audit(std::string_view action, const nlohmann::ordered_json& fields) const {
  if (auto s = AuditLog(cfg_).append(action, fields); !s) {
    log_->error("audit log: cannot record {}: {}", action, s.error().message);
  }
}

void MonitorReporter::publish_metrics(const EvaluationStep& step, const CanaryState& state,
                                      milliseconds interval, bool force) {
  if (metrics_ == nullptr || (!force && !metrics_welcome())) return;
  last_metrics_publish_ = Clock::now();
  metrics_->set_telemetry(
      step.counts(), step.events_lost(),
      Clock::time_point(std::chrono::duration_cast<Clock::duration>(step.last_arrival())),
      step.window().events());
  metrics_->set_checks(state.checks_done, state.checks_total, state.checks_missed,
                       state.period_start_ms, interval.count());
  metrics_->set_detectors(step.last_checks());
  metrics_->publish();
}

void MonitorReporter::period_started(const CanaryState& state, milliseconds duration,
                                     milliseconds interval, const std::string& source) const {
  std::cout << kRule << "\nQSC MONITOR - " << state.model << " at " << weight_percent(state.weight)
            << "\n"
            << kRule << "\n  Duration:  " << format_duration(duration)
            << "\n  Interval:  " << format_duration(interval) << " (" << state.checks_total
            << " checks)\n  Source:    " << source
            << "\n  Ends:      " << format_iso(state.period_end_ms) << "\n  Rollback:  "
            << "automatic on any violation\n"
            << std::endl;
}

void MonitorReporter::period_resumed(const CanaryState& state, std::uint64_t check_number,
                                     bool ended_while_down) const {
  std::cout << "Resuming monitoring of " << state.model << ": check " << check_number << "/"
            << state.checks_total << ", period ends " << format_iso(state.period_end_ms)
            << (ended_while_down ? " (ended while the monitor was down: judging it now)" : "")
            << std::endl;
  if (state.checks_missed > 0) {
    std::cout << "  Unwatched: " << unwatched_text(state) << "; " << state.checks_missed
              << " check(s) fell due then and were not taken, so this period can no longer "
                 "end clean (a violation still rolls back)"
              << std::endl;
  }
  if (state.period_config_changed) {
    std::cout << "  Configuration: this monitor runs under config_sha256 " << cfg_.sha256
              << ", the period started under "
              << (state.period_config_sha256.empty() ? std::string("(none recorded)")
                                                     : state.period_config_sha256)
              << ", so this period can no longer end clean (a violation still rolls back)"
              << std::endl;
  }
}

void MonitorReporter::violation_detected(const std::string& model,
                                         const std::vector<std::string>& violations) const {
  std::cout << "\n"
            << kRule << "\n🚨 VIOLATION DETECTED - EXECUTING ROLLBACK\n"
            << kRule << "\nCanary Model: " << model << "\n\nViolations:\n";
  for (const auto& v : violations) std::cout << "  ❌ " << v << "\n";
  std::cout << std::flush;
}

void MonitorReporter::rollback_finished(const std::string& model, const std::string& trigger,
                                        const TransitionResult& result, double latency_ms,
                                        const std::string& trigger_event) const {
  char latency[64];
  std::snprintf(latency, sizeof latency, "%.1f ms", latency_ms);
  std::cout << "\nDetected:     " << latency << " after the triggering event (" << trigger_event
            << ")\nRollback:     qsc rollback (run automatically)\n\n"
            << "Actions:\n";
  for (const auto& o : result.outcomes) {
    std::cout << "  " << (o.ok ? "✅ " : "❌ ") << o.action << ": " << o.detail << "\n";
  }
  if (result.exit_code == 0) {
    log_->info("rollback of canary {} (trigger {}): completed, postconditions hold", model,
               trigger);
    std::cout << "\n✅ Rollback completed successfully" << std::endl;
    sd_notify_send("STATUS=rolled back " + model);
    return;
  }
  // A rollback whose postconditions fail is never reported as done (ROLLBACK INCOMPLETE).
  log_->critical("rollback of canary {} (trigger {}): {}", model, trigger, result.message);
  std::cout << "\n❌ " << result.message << std::endl;
  sd_notify_send("STATUS=rollback incomplete " + model);
}

void MonitorReporter::check_done(const CanaryState& state, std::uint64_t check_slot, EpochMs now,
                                 const std::string& status) const {
  std::cout << "[Check " << check_slot << "/" << state.checks_total << "] " << format_iso(now)
            << " - "
            << format_remaining(milliseconds(std::max<EpochMs>(0, state.period_end_ms - now)))
            << " remaining  Status: " << status << std::endl;
  sd_notify_send("STATUS=check " + std::to_string(check_slot) + "/" +
                 std::to_string(state.checks_total) + " " + status);
}

void MonitorReporter::completed(const CanaryState& state, bool enough,
                                std::size_t canary_predictions) const {
  const double hours =
      static_cast<double>(state.period_end_ms - state.period_start_ms) / 3'600'000.0;
  char duration[32];
  std::snprintf(duration, sizeof duration, "%.1f hours", hours);
  const std::string duration_text =
      hours >= 0.1 ? std::string(duration)
                   : format_duration(milliseconds(state.period_end_ms - state.period_start_ms));
  std::cout << "\n" << kRule << "\n";
  if (enough) {
    std::cout << "✅ MONITORING COMPLETED - NO VIOLATIONS\n"
              << kRule << "\nCanary Model:      " << state.model
              << "\nDuration:          " << duration_text
              << "\nTotal Checks:      " << state.checks_done << "\n\n"
              << promotion_verdict(state, cfg_.canary.duration) << std::flush;
    sd_notify_send("STATUS=completed safe");
    return;
  }
  std::cout << "⚠️  MONITORING INCONCLUSIVE - TOO LITTLE TELEMETRY\n"
            << kRule << "\nCanary Model:      " << state.model
            << "\nDuration:          " << duration_text
            << "\nTotal Checks:      " << state.checks_done
            << "\nCanary predictions: " << canary_predictions << " (< " << cfg_.telemetry.min_events
            << " needed)\n\nNothing is called safe: no telemetry, no decision. Monitor "
               "again (qsc monitor) once the engine publishes, or roll back (qsc rollback).\n"
            << std::flush;
}

void MonitorReporter::clock_stepped(const CanaryState& state, EpochMs step_ms,
                                    std::uint64_t checks_missed) const {
  std::cout << "⚠️  The system clock stepped forward by "
            << format_duration(milliseconds(step_ms)) << " while monitoring " << state.model
            << ": the time it skipped is unwatched (" << checks_missed
            << " check(s) fell due in it and were not taken), so this period "
            << "can no longer end clean (a violation still rolls back)" << std::endl;
}

void MonitorReporter::unseen_silence(const CanaryState& state,
                                     std::chrono::milliseconds silence) const {
  log_->warn("the engine was silent {} ms while no monitor of {} ran to the silence's end",
             silence.count(), state.model);
  std::cout << "⚠️  The engine was silent for " << format_duration(silence)
            << " (longer than telemetry.stale_after) in a silence that ended while no monitor of "
            << state.model
            << " ran: no monitor saw it, so this period can no longer end clean (a violation "
               "still rolls back)"
            << std::endl;
}

void MonitorReporter::held_up(const CanaryState& state, EpochMs held_ms,
                              std::chrono::milliseconds silent_before, bool counted) const {
  log_->warn(
      "the worker monitoring {} was held up between two reads of the source: {} ms unwatched "
      "(the engine silent {} ms before the hold)",
      state.model, held_ms, silent_before.count());
  if (counted) {
    std::cout << "⚠️  The monitor was held up between two reads of the telemetry while "
                 "monitoring "
              << state.model << ", " << format_duration(silent_before)
              << " into a silence of the engine: " << format_duration(milliseconds(held_ms))
              << " is unwatched (the silence and the hold together exceed telemetry.stale_after, "
                 "and what the engine published in the hold arrived at once, so a silence "
                 "longer than that could not be seen)"
              << std::endl;
    return;
  }
  std::cout << "⚠️  The monitor was held up for " << format_duration(milliseconds(held_ms))
            << " between two reads of the telemetry while monitoring " << state.model
            << ": that time is unwatched (what the engine published meanwhile arrived at once, "
               "so a silence in it could not be seen)"
            << std::endl;
}

void MonitorReporter::inconclusive_unwatched(const CanaryState& state) const {
  std::cout << "\n"
            << kRule << "\n⚠️  MONITORING INCONCLUSIVE - PERIOD NOT FULLY WATCHED\n"
            << kRule << "\nCanary Model:      " << state.model
            << "\nChecks done:       " << state.checks_done << " of " << state.checks_total
            << " due\nUnwatched:         " << unwatched_text(state) << " (" << state.checks_missed
            << " check(s) not taken; a silence longer than telemetry.stale_after "
            << format_duration(cfg_.telemetry.stale_after) << " in it could not be seen)"
            << "\n\nNothing is called safe: part of the period was not watched ("
            << (state.clock_skipped_ms > 0 || state.held_up_ms > 0
                    ? "the monitor was down, held up, or the system clock skipped it"
                    : "the monitor was down")
            << "). Monitor a full period again (qsc monitor), or roll back (qsc rollback).\n"
            << std::flush;
  sd_notify_send("STATUS=completed inconclusive (not fully watched)");
}

void MonitorReporter::inconclusive_config_changed(const CanaryState& state) const {
  std::cout << "\n"
            << kRule << "\n⚠️  MONITORING INCONCLUSIVE - CONFIGURATION CHANGED MID-PERIOD\n"
            << kRule << "\nCanary Model:      " << state.model
            << "\nStarted under:     config_sha256 "
            << (state.period_config_sha256.empty() ? std::string("(none recorded)")
                                                   : state.period_config_sha256)
            << "\nEnded under:       config_sha256 " << cfg_.sha256
            << "\n\nNothing is called safe: a monitor resumed this period under another "
               "configuration, so part of it was judged by other thresholds than the rest. "
               "Monitor a full period under one configuration (qsc monitor), or roll back (qsc "
               "rollback).\n"
            << std::flush;
  sd_notify_send("STATUS=completed inconclusive (configuration changed)");
}

void MonitorReporter::detectors_changed(const CanaryState& state,
                                        const std::vector<std::string>& changes) const {
  std::string joined;
  for (const auto& c : changes) joined += (joined.empty() ? "" : "; ") + c;
  log_->warn("detector code of {}'s period changed: {}", state.model, joined);
  std::cout << "  Plugins: " << joined
            << ": this period is no longer judged by one build of its detectors and can no longer "
               "end clean (a violation still rolls back)"
            << std::endl;
}

void MonitorReporter::inconclusive_detectors_changed(const CanaryState& state) const {
  std::string names;
  for (const auto& n : state.period_detectors_changed) names += (names.empty() ? "" : ", ") + n;
  std::cout << "\n"
            << kRule << "\n⚠️  MONITORING INCONCLUSIVE - DETECTOR CODE CHANGED MID-PERIOD\n"
            << kRule << "\nCanary Model:      " << state.model << "\nChanged detectors: " << names
            << "\n\nNothing is called safe: a detector library was replaced (or added, or "
               "removed) in the plugin directory and loaded during this period (qsc plugins "
               "reload, SIGHUP or a restart), so part of it was judged by other code than the "
               "rest. Start a new period with the plugins you mean to keep (qsc monitor), or roll "
               "back (qsc rollback).\n"
            << std::flush;
  sd_notify_send("STATUS=completed inconclusive (detector code changed)");
}

void MonitorReporter::not_deployed(const CanaryState& state, const std::string& why) const {
  log_->warn("canary {} not deployed at {}: {}", state.model, weight_percent(state.weight), why);
  std::cout << "  Deployment: " << why
            << ": this period can no longer end clean (a violation still rolls back)" << std::endl;
}

void MonitorReporter::inconclusive_not_deployed(const CanaryState& state,
                                                const std::string& why) const {
  std::cout << "\n"
            << kRule << "\n⚠️  MONITORING INCONCLUSIVE - CANARY NOT DEPLOYED\n"
            << kRule << "\nCanary Model:      " << state.model << " at "
            << weight_percent(state.weight) << "\nFound:             " << why
            << "\n\nNothing is called safe: for part of this period the engine's unit did not "
               "run the canary at this weight, so its telemetry says nothing of it. Install the "
               "drop-in qsc wrote (sudo cp "
            << local_dropin_path(cfg_) << " " << cfg_.systemd.dropin_dir
            << "/ && sudo systemctl daemon-reload && sudo systemctl restart " << cfg_.systemd.unit
            << "), then monitor a full period again (qsc monitor), or roll back (qsc rollback).\n"
            << std::flush;
  sd_notify_send("STATUS=completed inconclusive (canary not deployed)");
}

void MonitorReporter::inconclusive_undecided(const CanaryState& state,
                                             const std::vector<std::string>& undecided) const {
  std::cout << "\n"
            << kRule << "\n⚠️  MONITORING INCONCLUSIVE - CHECKS COULD NOT JUDGE\n"
            << kRule << "\nCanary Model:      " << state.model
            << "\nTotal Checks:      " << state.checks_done << "\nUndecided at the end:\n";
  for (const auto& u : undecided) std::cout << "  - " << u << "\n";
  std::cout << "\nNothing is called safe: these detectors had too little data of the kind they "
               "need to judge the canary (an ensemble check needs its peers' votes). Check that "
               "the engine publishes every model's prediction, then monitor again (qsc monitor), "
               "or roll back (qsc rollback).\n"
            << std::flush;
  sd_notify_send("STATUS=completed inconclusive (checks could not judge)");
}

void MonitorReporter::interrupted(const CanaryState& state) const {
  std::cout << "\nMonitoring interrupted at check " << state.checks_done << "/"
            << state.checks_total << ". The canary is left active: resume with qsc monitor, "
            << "or roll back with qsc rollback." << std::endl;
}

}  // namespace qsc::agent
