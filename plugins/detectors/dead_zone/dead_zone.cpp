// dead_zone: the canary hardly ever trades (docs/design.md: HOLD > 85%). With "attribution":
// "canary" (the default) it fires only when the canary also votes HOLD more than its active
// peers do on the same events (common/share_detector.hpp; docs/ACCURACY.md, "Share
// attribution"): a market without an edge, where every model holds, is not the canary's doing.
#include "../common/share_detector.hpp"
#include "qsc/gate_config.hpp"
#include "qsc/plugin.hpp"

namespace {

// The HOLD share never exceeds 100%: max_hold_pct 100 could never fire.
// clang-format off
constexpr const char kSchema[] = R"json({
  "max_hold_pct": {"type": "number", "min": 0, "max": 100, "max_excluded": true,
                   "why": "at 100 the check could never fire", "default": 85,
                   "description": "fires when the canary's HOLD share exceeds this (percent)"},
  )json" QSC_SHARE_ATTRIBUTION_SCHEMA_ENTRY R"json(
})json";
// clang-format on

constexpr qsc::detectors::ThresholdSpec kSpec{"dead_zone",
                                              "Dead zone",
                                              "max_hold_pct",
                                              85.0,
                                              0.0,
                                              qsc::ConfigSection::End::kIncluded,
                                              100.0,
                                              qsc::ConfigSection::End::kExcluded,
                                              qsc::kNeverAbove100,
                                              kSchema};
using DeadZone = qsc::detectors::AttributedShareDetector<kSpec, &qsc::check_dead_zone,
                                                         &qsc::detectors::hold_action>;

}  // namespace

QSC_DETECTOR_PLUGIN(DeadZone, "dead_zone", "1.0.0",
                    "Fires when the canary's HOLD share exceeds max_hold_pct (with attribution "
                    "\"canary\": and the canary votes HOLD more than its peers)")
