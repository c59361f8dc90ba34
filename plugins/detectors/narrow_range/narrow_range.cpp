// narrow_range: the canary's confidence spread is too small (DESIGN.md: P90 - P10 < 0.12).
#include "../common/detector_support.hpp"
#include "qsc/plugin.hpp"

namespace {

constexpr qsc::detectors::ThresholdSpec kSpec{
    "narrow_range", "Narrow range", "min_p10_p90", 0.12, 0.0, 1.0};
using NarrowRange = qsc::detectors::CanaryThresholdDetector<kSpec, &qsc::check_narrow_range>;

}  // namespace

QSC_DETECTOR_PLUGIN(NarrowRange, "narrow_range", "1.0.0",
                    "Fires when the canary's confidence P90 - P10 is below min_p10_p90")
