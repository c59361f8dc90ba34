// narrow_range: the canary's confidence spread is too small (docs/design.md: P90 - P10 < 0.12).
#include "../common/detector_support.hpp"
#include "qsc/gate_config.hpp"
#include "qsc/plugin.hpp"

namespace {

// P90 - P10 is never below 0: min_p10_p90 0 could never fire.
// clang-format off
constexpr const char kSchema[] = R"json({
  "min_p10_p90": {"type": "number", "min": 0, "min_excluded": true, "max": 1,
                  "why": "at 0 the check could never fire", "default": 0.12,
                  "description": "fires when the canary's P90 - P10 confidence is below this"}
})json";
// clang-format on

constexpr qsc::detectors::ThresholdSpec kSpec{"narrow_range",
                                              "Narrow range",
                                              "min_p10_p90",
                                              0.12,
                                              0.0,
                                              qsc::ConfigSection::End::kExcluded,
                                              1.0,
                                              qsc::ConfigSection::End::kIncluded,
                                              qsc::kNeverBelow0,
                                              kSchema};
// Its pass's verdict horizon bounds P90 - P10 from the host's ranked confidences (ABI 2.2).
using NarrowRange = qsc::detectors::CanaryThresholdDetector<kSpec, &qsc::check_narrow_range,
                                                            &qsc::detectors::range_floor_horizon>;

}  // namespace

QSC_DETECTOR_PLUGIN(NarrowRange, "narrow_range", "1.0.0",
                    "Fires when the canary's confidence P90 - P10 is below min_p10_p90")
