// `qsc replay`: plays a recorded stream (the `qsc telemetry --record` JSONL form) through the
// monitor's own evaluation step (monitor/evaluation_step.hpp: the same window, the same loaded
// detectors with the same configuration, the same telemetry health and rejected share) on
// event time instead of the wall clock, and says whether and when the monitor would have rolled
// back. It writes nothing: no weights, state, audit log or report.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/timestamp.hpp"
#include "lifecycle/scoreboard.hpp"
#include "metrics/metrics_families.hpp"
#include "plugin_host/plugin_host.hpp"
#include "qsc/parse.hpp"
#include "qsc/result.hpp"

namespace qsc::agent {

/// What to replay and the period to judge.
struct ReplayOptions {
  std::string file;   ///< the recording
  std::string model;  ///< the canary
  /// The period's start (the canary's activation); nullopt: the first entry's time.
  std::optional<EpochMs> activated_at_ms;
  std::chrono::milliseconds duration{0};  ///< the period
  std::chrono::milliseconds interval{0};  ///< between interval checks
};

/// Why an evaluation ran: an entry was read, an interval check fell due, silence passed
/// telemetry.stale_after, or the period ended.
enum class ReplayCause { kEvent, kIntervalCheck, kSilence, kPeriodEnd };
/// "event", "interval_check", "silence", "period_end".
const char* replay_cause_name(ReplayCause cause) noexcept;

/// One figure a detector measured at one evaluation, with the bounds it is judged against
/// (metrics/detector_thresholds.hpp, from the detector's effective configuration; both empty
/// for a figure reported for context only).
struct ReplayFigure {
  std::string detector;
  std::string figure;
  double value = 0.0;
  std::optional<double> min_threshold;
  std::optional<double> max_threshold;
};

/// One interval check of the period.
struct ReplayCheck {
  std::uint64_t number = 0;  ///< 1-based
  EpochMs at_ms = 0;         ///< when it fell due (event time)
  std::string status;        ///< the canary's scoreboard status (GO, WAIT, NO-GO)
  std::vector<std::string> violations;
  bool after_rollback = false;        ///< the monitor would have stopped before this check
  std::vector<ReplayFigure> figures;  ///< every detector's figures at this check
};

/// One evaluation that acted: where it happened in the recording and what it said.
struct ReplayFinding {
  ReplayCause cause = ReplayCause::kEvent;
  EpochMs at_ms = 0;  ///< the evaluation's event time
  /// The newest accepted event then (the monitor's trigger_event), its 0-based index among the
  /// period's accepted events and its recording line; empty/0 when none was accepted yet.
  std::string event_id;
  EpochMs event_ms = 0;
  std::uint64_t event_index = 0;
  std::uint64_t line = 0;
  std::vector<std::string> detectors;  ///< the acting detectors, name order
  std::vector<std::string> messages;   ///< their messages, same order
  /// Every detector's figures at this evaluation; kept for the rollback only.
  std::vector<ReplayFigure> figures;
};

/// A detector's first acting result.
struct ReplayFirstViolation {
  std::string detector;
  ReplayFinding finding;  ///< detectors/messages hold this detector's only
};

/// The outcome: docs/design.md's monitor exit codes.
enum class ReplayOutcome { kClean = 0, kRolledBack = 1, kInconclusive = 3 };

/// Everything replay found.
struct ReplayResult {
  std::string file;
  std::string model;
  EpochMs period_start_ms = 0;
  EpochMs period_end_ms = 0;
  std::chrono::milliseconds interval{0};
  std::uint64_t checks_total = 0;
  std::vector<ReplayCheck> checks;
  std::vector<ReplayFirstViolation> first_violations;  ///< in the order they happened
  std::optional<ReplayFinding> rollback;               ///< the first evaluation that acted
  ReplayOutcome outcome = ReplayOutcome::kInconclusive;
  std::string inconclusive_reason;  ///< when inconclusive, what and what to do
  std::uint64_t lines = 0;          ///< recording lines read (blank ones not counted)
  std::uint64_t entries_before_period = 0;
  std::uint64_t entries_after_period = 0;
  /// Entries of the period whose stream ID is not after the one before (unsorted or repeated):
  /// not replayed, and the period is then never clean.
  std::uint64_t entries_out_of_order = 0;
  qsc::ParseCounts counts;                 ///< entries in the period
  std::vector<qsc::Rejection> rejections;  ///< the first kMaxKeptRejections in the period
  std::uint64_t evaluations = 0;
  std::uint64_t canary_predictions = 0;  ///< in the window at the end
  std::optional<EpochMs> last_entry_ms;  ///< the recording's newest entry time
  Scoreboard scoreboard;                 ///< the window at the period's (or recording's) end
  double replay_seconds = 0;             ///< wall time the replay took
  double replay_cpu_seconds = 0;         ///< this thread's CPU time for it (load-independent)
  /// The families the monitor would have served (/metrics), as it would have last published
  /// them: at the rollback (where it stops), else at the end. `qsc replay --metrics-textfile`.
  metrics::MetricsView metrics;
};

/// Replays `options.file` with the detectors `host` loaded. An error is bad input (an unreadable
/// file, an empty period), named with the fix; a recording that cannot decide is not an error
/// but an inconclusive result.
Result<ReplayResult> run_replay(const Config& config, PluginHost& host,
                                const ReplayOptions& options);

}  // namespace qsc::agent
