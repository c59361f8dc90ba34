// ensemble_dysfunction: the ensemble agrees too little (noise) or too much (no diversity left)
// (docs/design.md: agreement outside 55-80%).
#include "../common/detector_support.hpp"
#include "qsc/gate_config.hpp"
#include "qsc/plugin.hpp"

namespace {

// The same keys, ranges and defaults as qsc::read_ensemble_thresholds.
// clang-format off
constexpr const char kEnsembleDysfunctionSchema[] = R"json({
    "min_agreement_pct": {"type": "number", "min": 0, "min_excluded": true, "max": 100, "why": "at 0 the check could never fire",
                          "not_above": "max_agreement_pct", "default": 55,
                          "description": "fires when agreement is below this (percent)"},
    "max_agreement_pct": {"type": "number", "min": 0, "max": 100, "max_excluded": true, "why": "at 100 the check could never fire",
                          "default": 80, "description": "or above this (percent)"}
})json";
// clang-format on

class EnsembleDysfunction final : public qsc::Detector {
 public:
  static constexpr const char* kConfigSchema = kEnsembleDysfunctionSchema;
  explicit EnsembleDysfunction(const qsc::EnsembleThresholds& t) : thresholds_(t) {}

  /// Keys: min_agreement_pct, max_agreement_pct (read as the scoreboard reads them).
  static qsc::Result<std::unique_ptr<EnsembleDysfunction>> create(const nlohmann::json& section,
                                                                  const nlohmann::json& /*host*/) {
    auto t = qsc::read_ensemble_thresholds(section, nlohmann::json::object());
    if (!t) return t.error();
    return std::make_unique<EnsembleDysfunction>(t.value());
  }

  qsc::CheckResult check(const qsc::CheckInput& input) override {
    if (auto r = qsc::detectors::insufficient_ensemble(input, "Ensemble dysfunction")) return *r;
    return qsc::check_ensemble_agreement(input.window->ensemble, thresholds_.min_agreement_pct,
                                         thresholds_.max_agreement_pct);
  }

  std::string effective_config() const override {
    return nlohmann::json{{"min_agreement_pct", thresholds_.min_agreement_pct},
                          {"max_agreement_pct", thresholds_.max_agreement_pct}}
        .dump();
  }

 private:
  qsc::EnsembleThresholds thresholds_;
};

}  // namespace

// Judges the ensemble, not a model: run once per window by the gate, the scoreboard and the
// monitor.
QSC_SCOPED_DETECTOR_PLUGIN(EnsembleDysfunction, "ensemble_dysfunction", "1.0.0",
                           "Fires when the ensemble's mean agreement leaves "
                           "[min_agreement_pct, max_agreement_pct]",
                           ::qsc::DetectorScope::kEnsemble)
