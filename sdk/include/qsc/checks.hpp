// The violation checks: one formula, one threshold and one message each (docs/design.md's table).
// Detector plugins and the quality gate both call these, so the gate and the monitor can never
// disagree about what a collapse is.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "qsc/same_bytes.hpp"
#include "qsc/stats.hpp"

namespace qsc {

/// Outcome of one check.
enum class Verdict : std::uint8_t {
  kPass = 0,          ///< within thresholds
  kViolation = 1,     ///< outside thresholds: act
  kInsufficient = 2,  ///< too little data to decide: never healthy, not yet a violation
  kError = 3,         ///< the check itself failed: the host treats it as a violation
};
/// "pass", "violation", "insufficient", "error".
std::string_view verdict_name(Verdict v) noexcept;

/// A named measured figure, reported with every result so a record shows why it passed.
struct Figure {
  std::string name;
  double value = 0.0;
};

/// What one check found.
struct CheckResult {
  Verdict verdict = Verdict::kError;
  std::string message;  ///< e.g. "Action collapse: HOLD=78.3% (>70%)"; filled on every verdict
  std::vector<Figure> figures;
  /// The verdict horizon (qsc_check_sink::set_horizon, ABI 2.1): the verdict stays what it is
  /// for at least the next this many accepted events, whatever they are. 0 (the default): no
  /// promise, call the detector at every evaluation. Only a proven, adversarial bound with a
  /// margin for floating point may go here (docs/writing-a-detector.md, "Verdict horizons").
  std::uint64_t horizon_events = 0;
  /// The horizon's conditions (qsc_check_sink::set_horizon_unless, ABI 2.2; QSC_UNLESS_* bits of
  /// qsc/plugin_abi.h): it holds only while no accepted event brings one of them. 0: none.
  std::uint64_t horizon_unless = 0;
  /// The horizon's clock (qsc_check_sink::set_horizon_clock, ABI 2.3): when set, it holds only
  /// while the caller's seconds since the last accepted event t stay <= max_silence_s and
  /// (N - since_event_ms) / 1000.0 + max(t, 0) <= max_since_s, N the newest accepted event's
  /// time_ms. For a verdict that moves with time (telemetry_stale's).
  struct HorizonClock {
    bool set = false;
    double max_silence_s = 0.0;
    std::uint64_t since_event_ms = 0;
    double max_since_s = 0.0;
  };
  HorizonClock horizon_clock{};

  /// Withdraws every part of the horizon (its length, conditions and clock): no promise. A part
  /// added by a later ABI minor is withdrawn here too, so no caller keeps a stale one.
  void clear_horizon() noexcept {
    horizon_events = 0;
    horizon_unless = 0;
    horizon_clock.set = false;
  }
};

/// Formats a threshold as docs/design.md prints it: 70, 0.05, 0.12 (shortest form, no trailing
/// zeros).
std::string format_threshold(double value);
/// Appends format_threshold(value) to `out` (a detector's few thresholds are printed once).
void append_threshold(std::string& out, double value);
/// Sets `to` to `from`, writing only when they differ: a result or input kept between checks sees
/// the same names at every check, as an event read over a recycled one does (the ring's reader),
/// and comparing inline (same_text) costs less than std::string::assign.
inline void assign_changed(std::string& to, std::string_view from) {
  if (!same_text(to, from)) to.assign(from);
}
/// Appends printf's "%.*f" text of `value` to `out`: the same text, without printf's cost.
void append_fixed(std::string& out, double value, int decimals);

/// Any action share > max_share_pct. Message: `Action collapse: HOLD=78.3% (>70%)`.
CheckResult check_action_collapse(const ModelStats& m, double max_share_pct);
/// HOLD share > max_hold_pct. Message: `Dead zone: HOLD=86.0% (>85%)`.
CheckResult check_dead_zone(const ModelStats& m, double max_hold_pct);
/// Confidence std < min_std. Message: `Flat predictions: conf_std=0.0412 (<0.05)`.
CheckResult check_flat_predictions(const ModelStats& m, double min_std);
/// P90 - P10 < min_range. Message: `Narrow range: p10_p90=0.0800 (<0.12)`.
CheckResult check_narrow_range(const ModelStats& m, double min_range);
/// std < min_std or P90 - P10 < min_range. Message: `Constant output: std=0.0000 (<0.01)`.
CheckResult check_constant_output(const ModelStats& m, double min_std, double min_range);
/// Any confidence violation. Message: `Confidence violations: 3 (nan=2, negative=1)`.
CheckResult check_confidence(const ModelStats& m);
/// Agreement outside [min_pct, max_pct] (both edges in band; a figure within 1e-9 points of an
/// edge, floating-point rounding of an exact edge, is on it).
/// Message: `Ensemble dysfunction: agreement=84.0% (target 55-80%)`.
CheckResult check_ensemble_agreement(const EnsembleStats& e, double min_pct, double max_pct);
/// Hard disagree > max_pct (max_pct itself, within 1e-9 points, passes). Message: `Model chaos:
/// hard_disagree=23.5% (>20%)`.
CheckResult check_model_chaos(const EnsembleStats& e, double max_pct);

/// The same checks writing into `out`: its message and figures keep their storage, so a detector
/// called at every event allocates nothing once they have grown (qsc/plugin.hpp, check_into). The
/// result is what the form above returns.
void check_action_collapse(const ModelStats& m, double max_share_pct, CheckResult& out);
void check_dead_zone(const ModelStats& m, double max_hold_pct, CheckResult& out);
void check_flat_predictions(const ModelStats& m, double min_std, CheckResult& out);
void check_narrow_range(const ModelStats& m, double min_range, CheckResult& out);
void check_constant_output(const ModelStats& m, double min_std, double min_range, CheckResult& out);
void check_confidence(const ModelStats& m, CheckResult& out);
void check_ensemble_agreement(const EnsembleStats& e, double min_pct, double max_pct,
                              CheckResult& out);
void check_model_chaos(const EnsembleStats& e, double max_pct, CheckResult& out);

/// Thresholds of the quality gate's per-model checks (defaults: docs/design.md).
struct GateThresholds {
  double max_share_pct = 70.0;
  double max_hold_pct = 85.0;
  double min_conf_std = 0.05;
  double min_p10_p90 = 0.12;
  double constant_std = 0.01;
  double constant_range = 0.001;
};

/// The gate's verdict on one model: every per-model check (collapse, dead zone, flat, narrow,
/// constant, confidence violations); passes only when all pass.
struct GateModelVerdict {
  std::string model;
  bool pass = false;
  std::vector<std::pair<std::string, CheckResult>> checks;  ///< check name -> result

  /// The messages of the failed checks.
  std::vector<std::string> failures() const;
};

/// Applies the per-model checks to one model.
GateModelVerdict gate_model(const ModelStats& m, const GateThresholds& t);
/// The same into `out`, keeping its storage (as the checks' forms into a CheckResult do).
void gate_model(const ModelStats& m, const GateThresholds& t, GateModelVerdict& out);

}  // namespace qsc
