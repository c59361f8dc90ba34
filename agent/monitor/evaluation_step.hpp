// The monitor's evaluation step, apart from any clock: what the worker folds in from a read
// (window, counts, rejected share, ring loss, source health), what the detectors are shown
// (the window's figures and the telemetry's health) and which results act. The live monitor
// drives it on the agent's monotonic clock; `qsc replay` drives it on event time. Both call
// this one piece, so a replay judges a recording exactly as the worker would have.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "monitor/canary_window.hpp"
#include "monitor/rejected_share.hpp"
#include "plugin_host/plugin_host.hpp"
#include "qsc/parse.hpp"
#include "telemetry/source.hpp"

namespace qsc::agent {

/// A time on the caller's clock (monotonic for the live monitor, event time for replay). Only
/// differences between two such times are used.
using StepTime = std::chrono::microseconds;

/// One evaluation's outcome: every detector's result and the messages of those that act.
struct Evaluation {
  std::vector<NamedCheck> checks;
  std::vector<std::string> violations;  ///< one per acting check (violation or error)
  bool violated() const noexcept { return !violations.empty(); }
};

/// What an evaluation is for: which detectors it may skip.
enum class EvaluationKind {
  /// Every detector is called: interval checks, the period's end, a silence evaluation, and any
  /// evaluation whose results are reported or published.
  kFull,
  /// The evaluation on arrival of events (event_stats()): a detector whose verdict provably
  /// cannot change yet (its verdict horizon, ABI 2.1) is skipped and keeps its last result.
  /// An evaluation that acts calls every detector all the same (PluginHost::check_all).
  kEventDriven,
};

/// Whether the step honours the detectors' verdict horizons. kIgnore exists for the tests that
/// prove skipping changes no verdict (the same streams judged both ways); never a user option.
enum class HorizonPolicy { kHonour, kIgnore };

/// The worker's state between reads and its evaluation. Not thread-safe.
class EvaluationStep {
 public:
  /// `host` must outlive the step; the canary is `canary_model`.
  EvaluationStep(const Config& config, std::string canary_model, PluginHost& host,
                 HorizonPolicy horizons = HorizonPolicy::kHonour);

  /// Silence is measured from `now` until the next accepted event (a period's start or resume:
  /// a period that never sees an event goes stale too).
  void start_silence(StepTime now) noexcept { last_arrival_ = now; }

  /// Folds in one successful read (the source answered).
  void take(const TelemetryBatch& batch, StepTime now);
  /// The same, its events handed over (see take_entry's): each is left holding another event's
  /// values and storage (an earlier released one's, or none); the batch's sizes, counts and
  /// rejections stay as they were.
  void take(TelemetryBatch&& batch, StepTime now);
  /// Folds in one entry read at `now` (replay: one recorded line at its own time).
  void take_entry(const qsc::ParseOutcome& outcome, StepTime now);
  /// The same, its event handed over: swapped with the element of the step's held events it
  /// goes into instead of copied there (a copy assigned every string and prediction: about
  /// 610 instructions an event). `outcome` keeps its alternative; its event is left holding an
  /// earlier released event's values and storage (or an empty event), which a caller reading
  /// its next entry into it (replay) writes over and so reuses.
  void take_entry(qsc::ParseOutcome&& outcome, StepTime now);
  /// The source failed at a read; true when this is news (first failure or another error).
  bool source_failed(const std::string& error, StepTime now);

  /// The telemetry's health as the detectors see it at `now`.
  TelemetryHealth health(StepTime now) const;
  /// Runs the loaded detectors on `stats` at `now`: every one (kFull), or those whose verdict
  /// horizon does not cover the events since their last call (kEventDriven). Each detector is
  /// shown every event accepted since its own previous call. The evaluation is the step's own,
  /// written over at the next call (its results keep their storage: this runs at every event).
  const Evaluation& evaluate(const WindowStats& stats, StepTime now,
                             EvaluationKind kind = EvaluationKind::kFull);
  /// evaluate(event_stats(), now, kEventDriven), the figures computed only when some detector
  /// is called: an evaluation within every detector's horizon reads none (the host's
  /// skips_every_detector), and it is most of replay's per-entry ones (about 8 in 9 on the
  /// healthy stream; the figures cost about 1,400 instructions an entry, session 13).
  const Evaluation& evaluate_on_arrival(StepTime now);
  /// The accepted events that may arrive from `now` on before an event-driven evaluation must
  /// call some detector, counting that one: 1 when one must be called at the next event (a
  /// detector without a horizon, a condition already met, a horizon this step does not
  /// honour, ...), n + 1 when every detector's horizon covers the next n. For a source that
  /// reads them late (TelemetrySource::set_wake_after_events) and so must wake promptly for
  /// every horizon condition (QSC_UNLESS_*). A horizon's clock is vouched for only for events
  /// stamped up to `latest_event_ms` (the reader's clock plus the skew it accepts, at the
  /// latest read before the wake), read after up to `max_silence` without events.
  std::uint64_t events_before_call(StepTime now, std::uint64_t latest_event_ms,
                                   std::chrono::milliseconds max_silence) const;
  /// Detectors the evaluations so far skipped within their horizons (summed over evaluations).
  std::uint64_t skipped_checks() const noexcept { return skipped_checks_; }
  /// Detectors the last evaluation skipped: last_checks() then holds their older results.
  std::size_t last_skipped() const noexcept { return last_skipped_; }

  /// The figures of an event-driven evaluation (the canary and the ensemble), from the window's
  /// running figures, screened against the loaded detectors' thresholds (canary_window.hpp).
  /// The step's own, written over at the next call (its storage kept: this runs at every event).
  const WindowStats& event_stats();
  /// The figures of an interval check and the period's end (every model), recomputed exactly.
  WindowStats check_stats();

  const CanaryWindow& window() const noexcept { return window_; }
  const RejectedShare& rejected_share() const noexcept { return rejected_share_; }
  const qsc::ParseCounts& counts() const noexcept { return counts_; }
  std::uint64_t events_lost() const noexcept { return events_lost_; }
  bool source_ok() const noexcept { return source_ok_; }
  /// When the last accepted event arrived (or silence started), on the caller's clock.
  StepTime last_arrival() const noexcept { return last_arrival_; }
  const std::string& source_error() const noexcept { return source_error_; }
  /// The last evaluation's results (a reload that loses a plugin reports them).
  const std::vector<NamedCheck>& last_checks() const noexcept { return last_.checks; }
  /// The newest accepted event, "<ms>-<seq>": what a rollback names as its trigger.
  const std::string& trigger_event_id() const;
  std::uint64_t trigger_event_ms() const noexcept { return trigger_event_ms_; }

 private:
  void accept(const qsc::TradeIntent& event, StepTime now);
  void accept(qsc::TradeIntent&& event, StepTime now);
  // The element of pending_events_ the next accepted event goes into (a released one, whose
  // storage it reuses, or a new one).
  qsc::TradeIntent& next_held();
  // Folds in a successful read's counts, lost events and the source's state (its events taken).
  void count_read(const TelemetryBatch& batch);
  // Folds in the accepted event `held`, just written into next_held().
  void note_accepted(const qsc::TradeIntent& held, StepTime now);
  // Screens the running figures against the loaded detectors' thresholds, read again when the
  // host's plugin set may have changed (a reload) and at every interval check.
  void refresh_screen(bool always);
  // Drops the events every detector has been shown.
  void release_shown_events();
  // The schedule of an evaluation of `kind` now.
  EventSchedule schedule_for(EvaluationKind kind) const;
  // Whether evaluated() follows a call that left last_.checks as it was (every detector
  // skipped): their violations are listed already.
  enum class ResultsKept { kNo, kYes };
  // What evaluate() does after the host's call: counts the skipped, releases the shown events
  // and lists the acting results (unless they were kept).
  const Evaluation& evaluated(std::size_t skipped, ResultsKept kept = ResultsKept::kNo);

  const Config& config_;
  std::string canary_;
  PluginHost& host_;
  CanaryWindow window_;
  RejectedShare rejected_share_;
  qsc::ParseCounts counts_;
  std::uint64_t events_lost_ = 0;
  StepTime last_arrival_{};  // when the last accepted event arrived
  bool source_ok_ = true;
  StepTime source_down_since_{};
  std::string source_error_;
  std::uint64_t trigger_event_ms_ = 0;
  std::uint64_t trigger_event_seq_ = 0;
  // Built when asked for (a rollback, a report), not at every event.
  mutable std::string trigger_event_id_;
  mutable bool trigger_event_id_stale_ = false;
  const void* screened_records_ = nullptr;  // the host's plugin set the screen was read from
  std::size_t screened_record_count_ = 0;
  Evaluation last_;
  WindowStats event_stats_;  // event_stats()'s figures, kept for their storage

  HorizonPolicy horizons_;
  std::uint64_t schedule_owner_;       // numbers this step's accepted events in the host
  std::uint64_t accepted_events_ = 0;  // accepted events so far (the newest one's number)
  // Per horizon condition (QSC_UNLESS_* bit i), the newest accepted event that brought it.
  std::array<std::uint64_t, kHorizonConditions> condition_events_{};
  std::uint64_t evaluated_events_ = 0;  // accepted_events_ at the previous evaluation
  std::uint64_t newest_event_ms_ = 0;   // the largest time_ms accepted (EventSchedule)
  // The canary's last prediction on event time (CheckInput::canary_watch).
  std::uint64_t canary_last_prediction_ms_ = 0;
  std::uint64_t skipped_checks_ = 0;
  std::size_t last_skipped_ = 0;
  // The accepted events some detector has not been shown yet (CheckInput::new_events): the
  // elements [pending_begin_, pending_end_), the first numbered accepted_events_ - (end - begin)
  // + 1. A detector skipped within its horizon is shown them at its next call, so they are kept
  // until every detector has seen them: at most kMaxHorizonEvents plus one read's. Elements are
  // assigned over, not destroyed, so their strings and prediction vectors keep their storage.
  std::vector<qsc::TradeIntent> pending_events_;
  std::size_t pending_begin_ = 0;
  std::size_t pending_end_ = 0;
  // Names the storage of pending_events_ for the host (EventSchedule::storage_generation):
  // raised whenever a held event may have moved (a reallocation, the compaction).
  std::uint64_t storage_generation_ = 1;
};

}  // namespace qsc::agent
