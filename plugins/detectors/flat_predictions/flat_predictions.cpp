// flat_predictions: the canary's confidence barely moves (docs/design.md: std < 0.05).
#include "../common/detector_support.hpp"
#include "qsc/gate_config.hpp"
#include "qsc/plugin.hpp"

namespace {

// A standard deviation is never below 0: min_conf_std 0 could never fire.
// clang-format off
constexpr const char kSchema[] = R"json({
  "min_conf_std": {"type": "number", "min": 0, "min_excluded": true, "max": 1,
                   "why": "at 0 the check could never fire", "default": 0.05,
                   "description": "fires when the canary's confidence standard deviation is below this"}
})json";
// clang-format on

constexpr qsc::detectors::ThresholdSpec kSpec{"flat_predictions",
                                              "Flat predictions",
                                              "min_conf_std",
                                              0.05,
                                              0.0,
                                              qsc::ConfigSection::End::kExcluded,
                                              1.0,
                                              qsc::ConfigSection::End::kIncluded,
                                              qsc::kNeverBelow0,
                                              kSchema};
using FlatPredictions = qsc::detectors::CanaryThresholdDetector<kSpec, &qsc::check_flat_predictions,
                                                                &qsc::detectors::std_floor_horizon>;

}  // namespace

QSC_DETECTOR_PLUGIN(FlatPredictions, "flat_predictions", "1.0.0",
                    "Fires when the canary's confidence standard deviation is below min_conf_std")
