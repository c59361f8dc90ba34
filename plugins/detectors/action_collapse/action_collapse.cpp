// action_collapse: the canary votes one action almost always (docs/design.md: any share > 70%).
// With "attribution": "canary" it fires only when the canary also votes that action more than
// its active peers do on the same events (common/canary_attribution.hpp; docs/ACCURACY.md,
// "Share attribution"): a trend that makes every model vote BUY is the market, not the canary.
#include "../common/share_detector.hpp"
#include "qsc/gate_config.hpp"
#include "qsc/plugin.hpp"

namespace {

// A share never exceeds 100%: max_share_pct 100 could never fire.
// clang-format off
constexpr const char kSchema[] = R"json({
  "max_share_pct": {"type": "number", "min": 0, "max": 100, "max_excluded": true,
                    "why": "at 100 the check could never fire", "default": 70,
                    "description": "fires when any action's share of the canary's votes exceeds this (percent)"},
  )json" QSC_SHARE_ATTRIBUTION_SCHEMA_ENTRY R"json(
})json";
// clang-format on

constexpr qsc::detectors::ThresholdSpec kSpec{"action_collapse",
                                              "Action collapse",
                                              "max_share_pct",
                                              70.0,
                                              0.0,
                                              qsc::ConfigSection::End::kIncluded,
                                              100.0,
                                              qsc::ConfigSection::End::kExcluded,
                                              qsc::kNeverAbove100,
                                              kSchema};

using ActionCollapse = qsc::detectors::AttributedShareDetector<kSpec, &qsc::check_action_collapse,
                                                               &qsc::detectors::dominant_action>;

}  // namespace

QSC_DETECTOR_PLUGIN(ActionCollapse, "action_collapse", "1.0.0",
                    "Fires when any action's share of the canary's votes exceeds max_share_pct "
                    "(with attribution \"canary\": and the canary votes it more than its peers)")
