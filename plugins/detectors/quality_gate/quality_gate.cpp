// quality_gate: the gate's per-model verdict, applied to the canary's live window, so a canary that
// would no longer pass the gate is rolled back (confidence violations included).
#include "../common/detector_support.hpp"
#include "qsc/gate_config.hpp"
#include "qsc/plugin.hpp"

namespace {

// The same keys, ranges and defaults as qsc::read_gate_thresholds.
// clang-format off
constexpr const char kQualityGateSchema[] = R"json({
    "max_share_pct": {"type": "number", "min": 0, "max": 100, "max_excluded": true, "why": "at 100 the check could never fire", "default": 70},
    "max_hold_pct": {"type": "number", "min": 0, "max": 100, "max_excluded": true, "why": "at 100 the check could never fire", "default": 85},
    "min_conf_std": {"type": "number", "min": 0, "min_excluded": true, "max": 1, "why": "at 0 the check could never fire", "default": 0.05},
    "min_p10_p90": {"type": "number", "min": 0, "min_excluded": true, "max": 1, "why": "at 0 the check could never fire", "default": 0.12},
    "constant_std": {"type": "number", "min": 0, "min_excluded": true, "max": 1, "why": "at 0 the check could never fire", "default": 0.01},
    "constant_range": {"type": "number", "min": 0, "min_excluded": true, "max": 1, "why": "at 0 the check could never fire", "default": 0.001}
})json";
// clang-format on

class QualityGate final : public qsc::Detector {
 public:
  static constexpr const char* kConfigSchema = kQualityGateSchema;
  explicit QualityGate(const qsc::GateThresholds& thresholds) : thresholds_(thresholds) {}

  /// Keys: max_share_pct, max_hold_pct, min_conf_std, min_p10_p90, constant_std, constant_range.
  static qsc::Result<std::unique_ptr<QualityGate>> create(const nlohmann::json& section,
                                                          const nlohmann::json& /*host*/) {
    auto thresholds = qsc::read_gate_thresholds(section, "plugins.config.quality_gate");
    if (!thresholds) return thresholds.error();
    return std::make_unique<QualityGate>(thresholds.value());
  }

  qsc::CheckResult check(const qsc::CheckInput& input) override {
    if (auto r = qsc::detectors::insufficient_canary(input, "Quality gate")) return *r;
    const auto verdict = qsc::gate_model(*input.canary, thresholds_);
    const auto failures = verdict.failures();
    std::vector<qsc::Figure> figures{
        {"failed_checks", static_cast<double>(failures.size())},
        {"confidence_violations", static_cast<double>(input.canary->confidence_violations)},
        {"predictions", static_cast<double>(input.canary->predictions)}};
    if (verdict.pass) {
      return {qsc::Verdict::kPass,
              "Quality gate: GO (" + std::to_string(verdict.checks.size()) + " checks passed)",
              std::move(figures)};
    }
    std::string detail;
    for (const auto& f : failures) detail += (detail.empty() ? "" : "; ") + f;
    return {qsc::Verdict::kViolation, "Quality gate: NO-GO (" + detail + ")", std::move(figures)};
  }

  std::string effective_config() const override { return qsc::to_json(thresholds_).dump(); }

 private:
  qsc::GateThresholds thresholds_;
};

}  // namespace

QSC_DETECTOR_PLUGIN(QualityGate, "quality_gate", "1.0.0",
                    "Fires when the quality gate's per-model checks say NO-GO for the canary")
