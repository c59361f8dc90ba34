// model_chaos: too many events where one model says BUY and another SELL (docs/design.md: > 20%).
// With "attribution": "canary" (the default) it fires only when the canary's own votes are
// what adds the hard disagreement (common/canary_attribution.hpp; docs/ACCURACY.md, "Ensemble
// attribution").
#include "../common/canary_attribution.hpp"
#include "../common/detector_support.hpp"
#include "qsc/gate_config.hpp"
#include "qsc/plugin.hpp"

namespace {

// clang-format off
constexpr const char kModelChaosSchema[] = R"json({
    "max_hard_disagree_pct": {"type": "number", "min": 0, "max": 100, "max_excluded": true, "why": "at 100 the check could never fire",
                              "default": 20,
                              "description": "fires when more events than this (percent) have both a BUY and a SELL vote"},
    )json" QSC_ATTRIBUTION_SCHEMA_ENTRY R"json(
})json";
// clang-format on

class ModelChaos final : public qsc::detectors::IntoDetector<ModelChaos> {
 public:
  static constexpr const char* kConfigSchema = kModelChaosSchema;
  // Under "canary" it folds in every event since activation, read in place
  // (CheckInput::new_event_views): without kReadsNewEvents no C++ copy of them is made.

  ModelChaos(double max_hard_disagree_pct, qsc::detectors::Attribution attribution)
      : max_pct_(max_hard_disagree_pct), attribution_(attribution) {}

  /// Keys: max_hard_disagree_pct (read as the scoreboard reads it), attribution.
  static qsc::Result<std::unique_ptr<ModelChaos>> create(const nlohmann::json& section,
                                                         const nlohmann::json& /*host*/) {
    auto split = qsc::detectors::read_attribution(section, "model_chaos");
    if (!split) return split.error();
    auto t = qsc::read_ensemble_thresholds(nlohmann::json::object(), split.value().thresholds);
    if (!t) return t.error();
    return std::make_unique<ModelChaos>(t.value().max_hard_disagree_pct, split.value().attribution);
  }

  /// check() over the previous result (qsc/plugin.hpp): no allocation per check.
  void check_into(const qsc::CheckInput& input, qsc::CheckResult& out) {
    if (attribution_ == qsc::detectors::Attribution::kCanary) canary_.fold(input);
    if (qsc::detectors::insufficient_ensemble(input, "Model chaos", out)) {
      out.horizon_events = qsc::detectors::insufficient_ensemble_horizon(input);
      return;
    }
    // Only too much hard disagreement is out of band: the canary is blamed for adding it.
    qsc::check_model_chaos(input.window->ensemble, max_pct_, literal_);
    qsc::detectors::attribute(literal_, attribution_, input, canary_, /*up=*/true, out);
    // The hard disagreements H = hard_disagree_pct * E / 100; in band while H <= E * max.
    const auto& ensemble = input.window->ensemble;
    const double events = static_cast<double>(ensemble.events);
    out.horizon_events = qsc::detectors::ensemble_horizon(
        input, literal_, (max_pct_ - ensemble.hard_disagree_pct) * events / 100.0);
  }

  std::string effective_config() const override {
    return nlohmann::json{{"max_hard_disagree_pct", max_pct_},
                          {"attribution", qsc::detectors::attribution_name(attribution_)}}
        .dump();
  }

 private:
  double max_pct_;
  qsc::detectors::Attribution attribution_;
  qsc::detectors::CanaryAttribution canary_{qsc::detectors::EnsembleFigure::kHardDisagree};
  qsc::CheckResult literal_;  // the runbook rule's result, kept for its storage
};

}  // namespace

// Judges the ensemble, not a model: run once per window by the gate, the scoreboard and the
// monitor (the gate and the scoreboard name no canary: the literal rule).
QSC_SCOPED_DETECTOR_PLUGIN(ModelChaos, "model_chaos", "1.0.0",
                           "Fires when the share of events with both a BUY and a SELL vote exceeds "
                           "max_hard_disagree_pct (with attribution \"canary\": and the canary's "
                           "own votes are what adds them)",
                           ::qsc::DetectorScope::kEnsemble)
