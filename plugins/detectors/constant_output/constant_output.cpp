// constant_output: the canary emits (nearly) the same confidence every time (docs/design.md: std <
// 0.01 or P90 - P10 < 0.001). Keys as in the quality gate's section, so the two read alike.
#include <algorithm>

#include "../common/detector_support.hpp"
#include "qsc/gate_config.hpp"
#include "qsc/plugin.hpp"

namespace {

// clang-format off
constexpr const char kConstantOutputSchema[] = R"json({
    "constant_std": {"type": "number", "min": 0, "min_excluded": true, "max": 1,
                     "why": "at 0 the check could never fire", "default": 0.01,
                     "description": "fires when the canary's confidence std is below this"},
    "constant_range": {"type": "number", "min": 0, "min_excluded": true, "max": 1,
                       "why": "at 0 the check could never fire", "default": 0.001,
                       "description": "or when its P90 - P10 confidence is below this"}
})json";
// clang-format on

class ConstantOutput final : public qsc::detectors::IntoDetector<ConstantOutput> {
 public:
  static constexpr const char* kConfigSchema = kConstantOutputSchema;
  ConstantOutput(double min_std, double min_range) : min_std_(min_std), min_range_(min_range) {}

  static qsc::Result<std::unique_ptr<ConstantOutput>> create(const nlohmann::json& section,
                                                             const nlohmann::json& /*host*/) {
    qsc::ConfigSection config(section, "plugins.config.constant_output");
    // A spread is never below 0: either threshold at 0 would switch its half of the check off.
    using End = qsc::ConfigSection::End;
    const double min_std = config.number("constant_std", 0.01, 0.0, End::kExcluded, 1.0,
                                         End::kIncluded, qsc::kNeverBelow0);
    const double min_range = config.number("constant_range", 0.001, 0.0, End::kExcluded, 1.0,
                                           End::kIncluded, qsc::kNeverBelow0);
    if (auto status = config.finish(); !status) return status.error();
    return std::make_unique<ConstantOutput>(min_std, min_range);
  }

  /// check() over the previous result (qsc/plugin.hpp): no allocation per check.
  void check_into(const qsc::CheckInput& input, qsc::CheckResult& out) {
    if (qsc::detectors::insufficient_canary(input, "Constant output", out)) {
      out.horizon_events = qsc::detectors::insufficient_canary_horizon(input);
      return;
    }
    qsc::check_constant_output(*input.canary, min_std_, min_range_, out);
    // A pass needs both halves: it holds while both provably do (detector_support.hpp).
    if (out.verdict == qsc::Verdict::kPass) {
      out.horizon_events = std::min(qsc::detectors::std_floor_horizon(input, min_std_),
                                    qsc::detectors::range_floor_horizon(input, min_range_));
    }
  }

  std::string effective_config() const override {
    return nlohmann::json{{"constant_std", min_std_}, {"constant_range", min_range_}}.dump();
  }

 private:
  double min_std_;
  double min_range_;
};

}  // namespace

QSC_DETECTOR_PLUGIN(ConstantOutput, "constant_output", "1.0.0",
                    "Fires when the canary's confidence std is below constant_std or its P90 - P10 "
                    "below constant_range")
