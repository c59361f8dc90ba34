// model_chaos: too many events where one model says BUY and another SELL (docs/design.md: > 20%).
#include "../common/detector_support.hpp"
#include "qsc/gate_config.hpp"
#include "qsc/plugin.hpp"

namespace {

// clang-format off
constexpr const char kModelChaosSchema[] = R"json({
    "max_hard_disagree_pct": {"type": "number", "min": 0, "max": 100, "max_excluded": true, "why": "at 100 the check could never fire",
                              "default": 20,
                              "description": "fires when more events than this (percent) have both a BUY and a SELL vote"}
})json";
// clang-format on

class ModelChaos final : public qsc::Detector {
 public:
  static constexpr const char* kConfigSchema = kModelChaosSchema;
  explicit ModelChaos(double max_hard_disagree_pct) : max_pct_(max_hard_disagree_pct) {}

  /// Key: max_hard_disagree_pct (read as the scoreboard reads it).
  static qsc::Result<std::unique_ptr<ModelChaos>> create(const nlohmann::json& section,
                                                         const nlohmann::json& /*host*/) {
    auto t = qsc::read_ensemble_thresholds(nlohmann::json::object(), section);
    if (!t) return t.error();
    return std::make_unique<ModelChaos>(t.value().max_hard_disagree_pct);
  }

  qsc::CheckResult check(const qsc::CheckInput& input) override {
    if (auto r = qsc::detectors::insufficient_ensemble(input, "Model chaos")) return *r;
    return qsc::check_model_chaos(input.window->ensemble, max_pct_);
  }

  std::string effective_config() const override {
    return nlohmann::json{{"max_hard_disagree_pct", max_pct_}}.dump();
  }

 private:
  double max_pct_;
};

}  // namespace

// Judges the ensemble, not a model: run once per window by the gate, the scoreboard and the
// monitor.
QSC_SCOPED_DETECTOR_PLUGIN(ModelChaos, "model_chaos", "1.0.0",
                           "Fires when the share of events with both a BUY and a SELL vote exceeds "
                           "max_hard_disagree_pct",
                           ::qsc::DetectorScope::kEnsemble)
