// ensemble_dysfunction: the ensemble agrees too little (noise) or too much (no diversity left)
// (docs/design.md: agreement outside 55-80%). With "attribution": "canary" (the default) it
// fires only when the canary's own votes are what moves the agreement out of the band
// (common/canary_attribution.hpp; docs/ACCURACY.md, "Ensemble attribution").
#include "../common/canary_attribution.hpp"
#include "../common/detector_support.hpp"
#include "qsc/gate_config.hpp"
#include "qsc/plugin.hpp"

namespace {

// The same keys, ranges and defaults as qsc::read_ensemble_thresholds, and the attribution.
// clang-format off
constexpr const char kEnsembleDysfunctionSchema[] = R"json({
    "min_agreement_pct": {"type": "number", "min": 33.333333333333336, "min_excluded": true, "max": 100, "why": "no agreement is below 33.3%: of three actions the largest vote count is at least a third of the votes, so at 100/3 or below the check could never fire",
                          "not_above": "max_agreement_pct", "default": 55,
                          "description": "fires when agreement is below this (percent)"},
    "max_agreement_pct": {"type": "number", "min": 0, "max": 100, "max_excluded": true, "why": "at 100 the check could never fire",
                          "default": 80, "description": "or above this (percent)"},
    )json" QSC_ATTRIBUTION_SCHEMA_ENTRY R"json(
})json";
// clang-format on

class EnsembleDysfunction final : public qsc::detectors::IntoDetector<EnsembleDysfunction> {
 public:
  static constexpr const char* kConfigSchema = kEnsembleDysfunctionSchema;
  // Under "canary" it folds in every event since activation, read in place
  // (CheckInput::new_event_views): without kReadsNewEvents no C++ copy of them is made.

  EnsembleDysfunction(const qsc::EnsembleThresholds& t, qsc::detectors::Attribution attribution)
      : thresholds_(t), attribution_(attribution) {}

  /// Keys: min_agreement_pct, max_agreement_pct (read as the scoreboard reads them),
  /// attribution.
  static qsc::Result<std::unique_ptr<EnsembleDysfunction>> create(const nlohmann::json& section,
                                                                  const nlohmann::json& /*host*/) {
    auto split = qsc::detectors::read_attribution(section, "ensemble_dysfunction");
    if (!split) return split.error();
    auto t = qsc::read_ensemble_thresholds(split.value().thresholds, nlohmann::json::object());
    if (!t) return t.error();
    return std::make_unique<EnsembleDysfunction>(t.value(), split.value().attribution);
  }

  /// check() over the previous result (qsc/plugin.hpp): no allocation per check.
  void check_into(const qsc::CheckInput& input, qsc::CheckResult& out) {
    if (attribution_ == qsc::detectors::Attribution::kCanary) canary_.fold(input);
    if (qsc::detectors::insufficient_ensemble(input, "Ensemble dysfunction", out)) {
      out.horizon_events = qsc::detectors::insufficient_ensemble_horizon(input);
      return;
    }
    const auto& ensemble = input.window->ensemble;
    // The direction the figure is off (or nearer to, while in band).
    const bool up = ensemble.agreement_pct >
                    (thresholds_.min_agreement_pct + thresholds_.max_agreement_pct) / 2.0;
    qsc::check_ensemble_agreement(ensemble, thresholds_.min_agreement_pct,
                                  thresholds_.max_agreement_pct, literal_);
    qsc::detectors::attribute(literal_, attribution_, input, canary_, up, out);
    // The agreement sum S = agreement_pct * E / 100; in band while E * min <= S <= E * max.
    const double events = static_cast<double>(ensemble.events);
    const double sum = ensemble.agreement_pct * events / 100.0;
    out.horizon_events = qsc::detectors::ensemble_horizon(
        input, literal_,
        std::min(events * thresholds_.max_agreement_pct / 100.0 - sum,
                 sum - events * thresholds_.min_agreement_pct / 100.0));
  }

  std::string effective_config() const override {
    return nlohmann::json{{"min_agreement_pct", thresholds_.min_agreement_pct},
                          {"max_agreement_pct", thresholds_.max_agreement_pct},
                          {"attribution", qsc::detectors::attribution_name(attribution_)}}
        .dump();
  }

 private:
  qsc::EnsembleThresholds thresholds_;
  qsc::detectors::Attribution attribution_;
  qsc::detectors::CanaryAttribution canary_{qsc::detectors::EnsembleFigure::kAgreement};
  qsc::CheckResult literal_;  // the runbook rule's result, kept for its storage
};

}  // namespace

// Judges the ensemble, not a model: run once per window by the gate, the scoreboard and the
// monitor (the gate and the scoreboard name no canary: the literal rule).
QSC_SCOPED_DETECTOR_PLUGIN(EnsembleDysfunction, "ensemble_dysfunction", "1.0.0",
                           "Fires when the ensemble's mean agreement leaves "
                           "[min_agreement_pct, max_agreement_pct] (with attribution \"canary\": "
                           "and the canary's own votes are what moves it there)",
                           ::qsc::DetectorScope::kEnsemble)
