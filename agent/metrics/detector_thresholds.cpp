// The built-in detectors' figure-to-threshold table (docs/design.md's checks; the keys are the
// ones each plugin's effective_config() reports).
#include "metrics/detector_thresholds.hpp"

#include <array>

namespace qsc::agent::metrics {
namespace {

enum class Bound { kMin, kMax };

struct Row {
  std::string_view detector;
  std::string_view figure;
  std::string_view key;  ///< in the effective configuration; empty: `fixed` is the bound
  Bound bound;
  double fixed = 0.0;
};

// quality_gate fails on any failed check and inactive_canary on any inactive prediction:
// their thresholds are fixed at 0 by the checks themselves, not configured.
constexpr std::array kRows{
    Row{"action_collapse", "max_share_pct", "max_share_pct", Bound::kMax},
    Row{"dead_zone", "hold_pct", "max_hold_pct", Bound::kMax},
    Row{"flat_predictions", "conf_std", "min_conf_std", Bound::kMin},
    Row{"narrow_range", "p10_p90", "min_p10_p90", Bound::kMin},
    Row{"constant_output", "conf_std", "constant_std", Bound::kMin},
    Row{"constant_output", "p10_p90", "constant_range", Bound::kMin},
    Row{"ensemble_dysfunction", "agreement_pct", "min_agreement_pct", Bound::kMin},
    Row{"ensemble_dysfunction", "agreement_pct", "max_agreement_pct", Bound::kMax},
    Row{"model_chaos", "hard_disagree_pct", "max_hard_disagree_pct", Bound::kMax},
    Row{"telemetry_stale", "seconds_since_last_event", "stale_after", Bound::kMax},
    Row{"telemetry_stale", "events_lost", "max_lost_events", Bound::kMax},
    Row{"telemetry_stale", "rejected_pct", "max_rejected_pct", Bound::kMax},
    Row{"telemetry_stale", "canary_silent_seconds", "canary_silent_after", Bound::kMax},
    Row{"quality_gate", "failed_checks", "", Bound::kMax, 0.0},
    Row{"inactive_canary", "inactive_predictions", "", Bound::kMax, 0.0},
};

}  // namespace

FigureThresholds thresholds_for(std::string_view detector, std::string_view figure,
                                const nlohmann::json& effective_config) {
  FigureThresholds out;
  for (const auto& row : kRows) {
    if (row.detector != detector || row.figure != figure) continue;
    std::optional<double> value;
    if (row.key.empty()) {
      value = row.fixed;
    } else if (effective_config.is_object()) {
      const auto it = effective_config.find(std::string(row.key));
      if (it != effective_config.end() && it->is_number()) value = it->get<double>();
    }
    if (!value) continue;
    (row.bound == Bound::kMin ? out.min : out.max) = value;
  }
  return out;
}

}  // namespace qsc::agent::metrics
