// The Detector interface: a plugin that judges the canary's window.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "qsc/checks.hpp"
#include "qsc/event.hpp"
#include "qsc/event_view.hpp"
#include "qsc/stats.hpp"

namespace qsc {

/// How the telemetry has been flowing; missing telemetry must never read as healthy.
struct TelemetryHealth {
  bool source_ok = false;         ///< the source answered at the last read
  std::string source_error;       ///< why not, when !source_ok
  std::uint64_t events_seen = 0;  ///< accepted events since the period began
  /// Seconds on the agent's monotonic clock since the last accepted event ARRIVED (or since the
  /// period began or was resumed when none has); never from event timestamps, which a producer
  /// stamps and can get wrong. +inf when unknown.
  double seconds_since_last_event = 0;
  std::uint64_t events_lost = 0;  ///< lost in the ring (lapped or abandoned) this period
  std::uint64_t rejected = 0;     ///< unreadable entries this period
  /// Rejected share in percent over the window's newest entries (accepted and rejected).
  double rejected_pct = 0.0;
  /// The entries rejected_pct is over; -1 when not given (the share is then judged however few
  /// entries it covers). With fewer than CheckInput::min_events the share is too small a
  /// sample to act on: one bad entry among the first few must not roll back on its own.
  std::int64_t rejected_window_entries = -1;
};

/// The canary's usable confidences in the window, ranked: the values its P10 and P90 are read
/// from (qsc_check_input::canary_rank, ABI 2.2). Given by the monitor's and replay's evaluation
/// step; absent (available() false) in the gate, the scoreboard and from a host older than 2.2.
struct RankedConfidences {
  const void* ranks = nullptr;
  std::uint64_t count = 0;  ///< how many (compare with ModelStats::confidence_samples)
  double (*rank)(const void* ranks, std::uint64_t k) = nullptr;

  bool available() const noexcept { return rank != nullptr; }
  /// The k-th smallest (0-based, k < count). O(log n).
  double kth(std::uint64_t k) const { return rank(ranks, k); }
};

/// The canary's watch on event time, kept by the monitor's and replay's evaluation step for the
/// whole period (qsc_check_input::canary_last_prediction_ms, ABI 2.4), so that it outlives a
/// detector instance: a reload makes a new one, whose own fold would start at its first event.
/// Absent (given false) before the period's first accepted event, in the gate, the scoreboard,
/// and from a host older than 2.4.
struct CanaryWatch {
  bool given = false;
  /// The time_ms of the newest accepted event holding a prediction of the canary (active or
  /// not), or of the period's first accepted event when none has since.
  std::uint64_t last_prediction_ms = 0;
  /// The largest time_ms of the accepted events so far.
  std::uint64_t newest_event_ms = 0;
};

/// Everything a detector sees at one check. Valid only during the call.
struct CheckInput {
  std::string_view canary_model;        ///< the model under watch
  const WindowStats* window = nullptr;  ///< the window's figures (all models, ensemble)
  const ModelStats* canary = nullptr;   ///< the canary's figures, nullptr when it has none
  TelemetryHealth telemetry;
  std::size_t min_events = 200;  ///< below this many canary predictions: kInsufficient
  /// The events accepted since this detector's previous call, oldest first: what a stateful
  /// detector (one that judges the whole period since activation, e.g. a sequential test) folds
  /// in. The monitor and `qsc replay` fill it (each accepted event is shown to each detector
  /// once; one skipped within its verdict horizon, CheckResult::horizon_events, gets the events
  /// it missed at its next call);
  /// the gate and the scoreboard leave it empty (they judge one window, not a period). A C++
  /// detector sees them only when its class declares `static constexpr bool kReadsNewEvents =
  /// true;` (plugin.hpp): copying every event into C++ form for every detector was most of an
  /// evaluation's cost, and most detectors judge the window alone.
  std::span<const TradeIntent> new_events{};
  /// The same events read in place from the host's C input, without a copy (qsc/event_view.hpp:
  /// TradeIntent's fields under the same names, strings as views). The C++ layer (plugin.hpp)
  /// fills it at every check of every detector, whether or not it declares kReadsNewEvents; it
  /// costs nothing but the span. Empty where no C input is behind the CheckInput (a caller that
  /// builds one in C++ fills new_events only). The in-tree detectors fold these since session 11.
  EventViews new_event_views{};
  /// The canary's ranked confidences, for a detector that bounds how far P10 and P90 can move
  /// (narrow_range's and constant_output's verdict horizons).
  RankedConfidences canary_ranks{};
  /// The canary's last prediction on event time, kept across detector instances
  /// (telemetry_stale's canary silence).
  CanaryWatch canary_watch{};
};

/// What a detector judges, so that the gate, the scoreboard and the monitor run it on the same
/// figures (qsc_plugin_descriptor::scope, QSC_SCOPE_*; a descriptor without it is kEachModel).
enum class DetectorScope : std::uint32_t {
  /// One model: CheckInput::canary. The monitor runs it on the canary; the gate and the
  /// scoreboard on every model of the window, so a new per-model check blocks a deployment.
  kEachModel = 0,
  /// The live canary's watch (its telemetry flow, its live/shadow state): only the monitor runs
  /// it. The gate judges telemetry with its own telemetry.* settings.
  kCanaryOnly = 1,
  /// The ensemble: CheckInput::window's ensemble figures; run once per window everywhere.
  kEnsemble = 2,
};
/// "each_model", "canary_only", "ensemble"; "" for a value outside the enum.
inline std::string_view detector_scope_name(DetectorScope scope) noexcept {
  switch (scope) {
    case DetectorScope::kEachModel:
      return "each_model";
    case DetectorScope::kCanaryOnly:
      return "canary_only";
    case DetectorScope::kEnsemble:
      return "ensemble";
  }
  return "";
}

/// A violation detector. Implement `check`; it may throw: the plugin boundary (see plugin.hpp)
/// turns an exception into a kError result, which the host counts as a violation (fail closed).
class Detector {
 public:
  virtual ~Detector() = default;
  /// Judges the window. Report the measured figure with every verdict.
  virtual CheckResult check(const CheckInput& input) = 0;
  /// The effective configuration (thresholds) as a JSON object, for `qsc plugins list`.
  virtual std::string effective_config() const = 0;
};

}  // namespace qsc
