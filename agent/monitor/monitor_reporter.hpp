// What the monitor tells the world, apart from the loop that decides: the runbook's console
// blocks (start, resume, violation, checks, the period's end), systemd's status line, the audit
// entries and the /metrics figures. The loop (monitor.cpp) calls it; nothing here decides.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "lifecycle/canary.hpp"
#include "lifecycle/state.hpp"
#include "monitor/evaluation_step.hpp"

namespace qsc::agent {

namespace metrics {
class MetricsPublisher;
}

class MonitorReporter {
 public:
  /// `metrics` null: no /metrics block to publish to.
  MonitorReporter(const Config& config, std::shared_ptr<spdlog::logger> log,
                  metrics::MetricsPublisher* metrics);

  /// The audit log is the record of why: an entry that cannot be written (a full disk) is said
  /// on the log, never dropped silently. Monitoring goes on: the canary is still watched.
  void audit(std::string_view action, const nlohmann::ordered_json& fields) const;

  /// The figures for the supervisor's /metrics (none when it serves none). Evaluations
  /// (`force` false) publish at most every kMetricsEarlyGap (metrics_welcome); the start,
  /// checks, violations and rollbacks always publish.
  void publish_metrics(const EvaluationStep& step, const CanaryState& state,
                       std::chrono::milliseconds interval, bool force = true);
  /// True when kMetricsPublishGap has passed since the last publication: the next evaluation
  /// must call every detector (EvaluationKind::kFull) and publish, so /metrics never shows a
  /// skipped result; the loop wakes at the next event for it.
  bool metrics_due() const noexcept { return metrics_since_publish_at_least(kMetricsPublishGap); }
  /// True when kMetricsEarlyGap has passed: an evaluation that runs anyway because a verdict
  /// horizon ended may be made full and publish (publish_metrics(force false) publishes). At
  /// 1,000 events/s the horizons end every ~90 events; a full evaluation renews every
  /// detector's horizon at once, where a partial one renewed only the due detector's and the
  /// next one's ended ~30 events later: a wake-up more each ~120 ms (session 17, worker17).
  bool metrics_welcome() const noexcept { return metrics_since_publish_at_least(kMetricsEarlyGap); }

  /// A new period's block.
  void period_started(const CanaryState& state, std::chrono::milliseconds duration,
                      std::chrono::milliseconds interval, const std::string& source) const;
  /// A resumed period's lines; `check_number` is the next check's number.
  void period_resumed(const CanaryState& state, std::uint64_t check_number,
                      bool ended_while_down) const;
  /// The violation block, before anything is rolled back.
  void violation_detected(const std::string& model,
                          const std::vector<std::string>& violations) const;
  /// The rollback's outcome (detection latency, the actions, verified or incomplete), on the
  /// console, the log and systemd's status.
  void rollback_finished(const std::string& model, const std::string& trigger,
                         const TransitionResult& result, double latency_ms,
                         const std::string& trigger_event) const;
  /// One interval check's line.
  void check_done(const CanaryState& state, std::uint64_t check_slot, EpochMs now,
                  const std::string& status) const;
  /// The period ended clean, or with too little telemetry (`enough` false).
  void completed(const CanaryState& state, bool enough, std::size_t canary_predictions) const;
  /// The system clock stepped forward by `step_ms` while this monitor ran: the skipped time is
  /// unwatched, `checks_missed` checks fell due in it and were not taken.
  void clock_stepped(const CanaryState& state, EpochMs step_ms, std::uint64_t checks_missed) const;
  /// The worker was held up `held_ms` between two reads of the source within the period: that
  /// time is unwatched (a silence in it is not seen).
  /// `silent_before` is how long the engine had been silent at the read before the hold;
  /// `counted` whether that silence is part of held_ms (the two together exceed stale_after).
  /// A resumed monitor found, between two events of the history, a silence longer than
  /// telemetry.stale_after that ended after the last watch: no monitor saw it.
  void unseen_silence(const CanaryState& state, std::chrono::milliseconds silence) const;
  void held_up(const CanaryState& state, EpochMs held_ms, std::chrono::milliseconds silent_before,
               bool counted) const;
  /// The period ended with checks not taken while no monitor ran (or in time the system clock
  /// skipped).
  void inconclusive_unwatched(const CanaryState& state) const;
  /// The period was resumed under another configuration than it started with: exit 3.
  void inconclusive_config_changed(const CanaryState& state) const;
  /// The first look of this monitor that found the detectors' code other than the period
  /// started with (`changes`: one line each, naming the detector and both digests).
  void detectors_changed(const CanaryState& state, const std::vector<std::string>& changes) const;
  /// The period ends inconclusive: its detectors' code changed (state.period_detectors_changed).
  void inconclusive_detectors_changed(const CanaryState& state) const;
  /// A look found the canary not deployed at its weight (`why`): the period cannot end clean.
  void not_deployed(const CanaryState& state, const std::string& why) const;
  /// The period ended with the canary not deployed at some look: exit 3.
  void inconclusive_not_deployed(const CanaryState& state, const std::string& why) const;
  /// The period ended with detectors that could not judge it (undecided_checks.hpp): exit 3.
  void inconclusive_undecided(const CanaryState& state,
                              const std::vector<std::string>& undecided) const;
  /// Stopped by a signal.
  void interrupted(const CanaryState& state) const;

 private:
  // The seqlock's reader gives up after a bounded number of attempts: a writer publishing at
  // every evaluation (thousands a second) can starve a slow reader of any consistent snapshot.
  static constexpr auto kMetricsPublishGap = std::chrono::milliseconds(100);
  // Half the gap: publications stay at most 20 a second (the reader's concern above), and a
  // full evaluation moved to a horizon's end is at most 50 ms early.
  static constexpr auto kMetricsEarlyGap = kMetricsPublishGap / 2;

  bool metrics_since_publish_at_least(std::chrono::milliseconds gap) const noexcept {
    return metrics_ != nullptr && std::chrono::steady_clock::now() - last_metrics_publish_ >= gap;
  }

  const Config& cfg_;
  std::shared_ptr<spdlog::logger> log_;
  metrics::MetricsPublisher* metrics_;
  std::chrono::steady_clock::time_point last_metrics_publish_{};
};

}  // namespace qsc::agent
