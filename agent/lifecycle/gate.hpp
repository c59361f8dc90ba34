// The quality gate (runbook step 2): judge every model seen after the cutover; PASS or FAIL.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/timestamp.hpp"
#include "lifecycle/detector_verdicts.hpp"
#include "qsc/checks.hpp"
#include "qsc/parse.hpp"
#include "qsc/stats.hpp"

namespace qsc::agent {

/// What the gate is asked.
struct GateRequest {
  EpochMs cutover_ms = 0;
  std::size_t window_events = 2000;  ///< most recent post-cutover events analysed
  std::size_t min_events = 200;
  double max_rejected_pct = 1.0;
  /// The newest post-cutover event older than this (agent wall clock against the event's
  /// stream-ID time) is stale telemetry: a FAIL, never a verdict on old data.
  std::chrono::milliseconds stale_after{300'000};
  /// The loaded detectors for the report, name -> {"scope", "config"} (their effective
  /// configuration); the thresholds are theirs, never the gate's.
  nlohmann::ordered_json detectors = nlohmann::ordered_json::object();
  std::string config_sha256;  ///< the effective configuration's digest, for the report
};

/// The events the gate judges, as read from a source.
struct GateEvidence {
  std::span<const TradeIntent> post;  ///< post-cutover events, oldest first (newest window kept)
  std::span<const TradeIntent> pre;   ///< pre-cutover events for the comparison (may be empty)
  ParseCounts counts;                 ///< over the post-cutover read
  std::vector<Rejection> rejections;  ///< examples, for the report
  std::uint64_t events_lost = 0;
  std::string source;  ///< describes the source, for the report
};

/// The gate's verdict with everything the report shows.
struct GateReport {
  GateRequest request;
  EpochMs evaluated_ms = 0;
  std::string source;
  std::size_t events_analysed = 0;
  WindowStats post;
  std::optional<WindowStats> pre;
  std::vector<GateModelVerdict> models;     ///< the each-model detectors' verdicts, per model
  std::vector<NamedCheck> ensemble_checks;  ///< the ensemble detectors' results
  ParseCounts counts;
  std::vector<Rejection> rejections;
  std::uint64_t events_lost = 0;
  std::optional<EpochMs> newest_event_ms;  ///< the newest post-cutover event's time
  std::string canary_model;                ///< set by require_canary_judged (activation)
  std::size_t canary_active_predictions = 0;
  std::vector<std::string> blockers;  ///< why it failed; empty on PASS
  bool pass = false;
};

/// The newest event's time, by time and not by position (several producers may interleave on a
/// ring); nullopt when there is none.
std::optional<EpochMs> newest_event_ms(std::span<const TradeIntent> events);

/// A one-shot read (the gate, the scoreboard) has no arrival clock: the newest event's age at
/// `now` stands in for the seconds since the last arrival (0 when it is ahead; +inf without an
/// event), so old telemetry reads as silent, never as fresh.
double seconds_since_newest(std::optional<EpochMs> newest_ms, EpochMs now);

/// What a one-shot read (the gate, `qsc scoreboard`) knows of its telemetry's health.
struct ReadTelemetry {
  const qsc::ParseCounts& counts;
  std::uint64_t events_lost = 0;
  std::optional<EpochMs> newest_ms;  ///< newest_event_ms() of the events read
  EpochMs now_ms = 0;
  std::chrono::milliseconds stale_after{0};
  double max_rejected_pct = 0.0;
};

/// Why that telemetry cannot be judged (the gate's blockers; the scoreboard's WAIT): unreadable
/// entries above max_rejected_pct, any lost event, a newest event older than stale_after (named
/// "the newest <event>"). The monitor's telemetry_stale detector judges only the live canary.
std::vector<std::string> telemetry_blockers(const ReadTelemetry& telemetry, std::string_view event);

/// Judges the evidence with the loaded detectors (`detectors`: each-model ones on every model,
/// ensemble ones once), so the gate and the monitor judge alike. Fails closed: too few events, no
/// model predictions, unreadable, lost or stale telemetry beyond tolerance, any detector result
/// other than pass (a violation, an error, or too little data to judge).
GateReport evaluate_gate(const GateRequest& request, const GateEvidence& evidence,
                         const RunDetectors& detectors);

/// Activation's own condition (docs/design.md, safety properties): the canary itself judged by the
/// gate on at least request.min_events active predictions. A PASS on the other models says nothing
/// about a model that never predicted, so otherwise adds a blocker naming the model and its count
/// and fails the report.
void require_canary_judged(GateReport& report, const std::string& canary);

/// Writes quality_gate_<YYYYmmdd_HHMMSS>_post_cutover.md, .json and .html into `reports_dir`
/// atomically; returns the .md path.
Result<std::string> write_gate_report(const GateReport& report, const std::string& reports_dir);

/// The report as JSON (the .json twin).
nlohmann::ordered_json gate_report_json(const GateReport& report);

}  // namespace qsc::agent
