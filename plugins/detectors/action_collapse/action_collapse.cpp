// action_collapse: the canary votes one action almost always (docs/design.md: any share > 70%).
// With "attribution": "canary" it fires only when the canary also votes that action more than
// its active peers do on the same events (common/canary_attribution.hpp; docs/ACCURACY.md,
// "Share attribution"): a trend that makes every model vote BUY is the market, not the canary.
#include "../common/canary_attribution.hpp"
#include "../common/detector_support.hpp"
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

class ActionCollapse final : public qsc::detectors::IntoDetector<ActionCollapse> {
 public:
  static constexpr const char* kConfigSchema = kSchema;
  // Under "canary" it folds in every event since activation (CheckInput::new_events).
  static constexpr bool kReadsNewEvents = true;

  ActionCollapse(double max_share_pct, qsc::detectors::Attribution attribution)
      : max_share_pct_(max_share_pct), attribution_(attribution) {}

  /// Keys: max_share_pct, attribution ("canary" or "model").
  static qsc::Result<std::unique_ptr<ActionCollapse>> create(const nlohmann::json& section,
                                                             const nlohmann::json& /*host*/) {
    auto split =
        qsc::detectors::read_attribution(section, kSpec.plugin, qsc::detectors::Attribution::kModel,
                                         qsc::detectors::kDefaultShareAttribution);
    if (!split) return split.error();
    qsc::ConfigSection config(split.value().thresholds,
                              std::string("plugins.config.") + kSpec.plugin);
    const double max_share_pct = config.number(kSpec.key, kSpec.fallback, kSpec.min, kSpec.min_end,
                                               kSpec.max, kSpec.max_end, kSpec.why);
    if (auto status = config.finish(); !status) return status.error();
    return std::make_unique<ActionCollapse>(max_share_pct, split.value().attribution);
  }

  /// check() over the previous result (qsc/plugin.hpp).
  void check_into(const qsc::CheckInput& input, qsc::CheckResult& out) {
    const bool attributed = attribution_ == qsc::detectors::Attribution::kCanary;
    if (attributed) shares_.fold(input);
    if (qsc::detectors::insufficient_canary(input, kSpec.title, out)) return;
    qsc::check_action_collapse(*input.canary, max_share_pct_, out);
    if (attributed) shares_.judge(out, input, input.canary->dominant(), /*figures=*/true);
  }

  std::string effective_config() const override {
    return nlohmann::json{{kSpec.key, max_share_pct_},
                          {"attribution", qsc::detectors::attribution_name(attribution_)}}
        .dump();
  }

 private:
  double max_share_pct_;
  qsc::detectors::Attribution attribution_;
  qsc::detectors::CanaryShareAttribution shares_;
};

}  // namespace

QSC_DETECTOR_PLUGIN(ActionCollapse, "action_collapse", "1.0.0",
                    "Fires when any action's share of the canary's votes exceeds max_share_pct "
                    "(with attribution \"canary\": and the canary votes it more than its peers)")
