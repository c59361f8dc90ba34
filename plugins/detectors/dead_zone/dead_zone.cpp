// dead_zone: the canary hardly ever trades (DESIGN.md: HOLD > 85%).
#include "../common/detector_support.hpp"
#include "qsc/plugin.hpp"

namespace {

constexpr qsc::detectors::ThresholdSpec kSpec{"dead_zone", "Dead zone", "max_hold_pct",
                                              85.0,        0.0,         100.0};
using DeadZone = qsc::detectors::CanaryThresholdDetector<kSpec, &qsc::check_dead_zone>;

}  // namespace

QSC_DETECTOR_PLUGIN(DeadZone, "dead_zone", "1.0.0",
                    "Fires when the canary's HOLD share exceeds max_hold_pct")
