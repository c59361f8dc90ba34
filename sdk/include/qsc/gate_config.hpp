// Reading check thresholds from configuration sections, shared by the detector plugins and the
// agent's gate and scoreboard so that both judge with the same numbers.
#pragma once

#include <nlohmann/json.hpp>

#include "qsc/checks.hpp"
#include "qsc/result.hpp"

namespace qsc {

/// Why a threshold's end is excluded (shown in refusals): a percentage share never exceeds 100,
/// a spread is never below 0, so a check with that threshold could never fire.
inline constexpr const char* kNeverAbove100 = "at 100 the check could never fire";
inline constexpr const char* kNeverBelow0 = "at 0 the check could never fire";
/// An event's agreement is its largest vote count's share of its votes over three actions (BUY,
/// SELL, HOLD), so never below a third: a floor at or below 100/3 percent could never fire.
inline constexpr double kAgreementFloorPct = 100.0 / 3.0;
inline constexpr const char* kNeverBelowAThird =
    "no agreement is below 33.3%: of three actions the largest vote count is at least a third of "
    "the votes, so at 100/3 or below the check could never fire";

/// The unreadable share of a window at and above which no decision is honest (the host's
/// telemetry.max_rejected_pct and telemetry_stale's own key stay below it): from half of a
/// window on, most of it could be unreadable and every verdict would rest on the readable
/// minority. Unreadable telemetry is missing telemetry (docs/design.md).
inline constexpr double kMaxRejectedPctLimit = 50.0;
inline constexpr const char* kMaxRejectedPctWhy =
    "at 50 or more most of a window could be unreadable and the verdict would rest on the "
    "readable minority; the default is 1";

/// Reads GateThresholds from a section (keys: max_share_pct, max_hold_pct, min_conf_std,
/// min_p10_p90, constant_std, constant_range); absent keys keep docs/design.md's defaults, unknown
/// keys and out-of-range values are refused, and so are values at which a check could never
/// fire (max_*_pct at 100, min_* and constant_* at 0). `where` names the section in messages.
Result<GateThresholds> read_gate_thresholds(const nlohmann::json& section,
                                            const std::string& where);

/// The ensemble checks' thresholds (docs/design.md: agreement 55-80%, hard disagree 20%).
struct EnsembleThresholds {
  double min_agreement_pct = 55.0;
  double max_agreement_pct = 80.0;
  double max_hard_disagree_pct = 20.0;
};

/// Reads the agreement bounds (keys min_agreement_pct, max_agreement_pct) from the
/// ensemble_dysfunction section and max_hard_disagree_pct from the model_chaos section.
Result<EnsembleThresholds> read_ensemble_thresholds(const nlohmann::json& dysfunction_section,
                                                    const nlohmann::json& chaos_section);

/// Serialises GateThresholds with the same keys read_gate_thresholds reads.
nlohmann::json to_json(const GateThresholds& t);

}  // namespace qsc
