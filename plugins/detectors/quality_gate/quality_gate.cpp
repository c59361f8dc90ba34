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

class QualityGate final : public qsc::detectors::IntoDetector<QualityGate> {
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

  /// check() over the previous result (qsc/plugin.hpp): the gate's six checks are run into a
  /// verdict kept between calls, so a passing check allocates nothing.
  void check_into(const qsc::CheckInput& input, qsc::CheckResult& out) {
    if (qsc::detectors::insufficient_canary(input, "Quality gate", out)) return;
    qsc::gate_model(*input.canary, thresholds_, verdict_);
    std::size_t failed = 0;
    for (const auto& [name, r] : verdict_.checks) failed += r.verdict != qsc::Verdict::kPass;
    out.figures.resize(3);
    qsc::assign_changed(out.figures[0].name, "failed_checks");
    out.figures[0].value = static_cast<double>(failed);
    qsc::assign_changed(out.figures[1].name, "confidence_violations");
    out.figures[1].value = static_cast<double>(input.canary->confidence_violations);
    qsc::assign_changed(out.figures[2].name, "predictions");
    out.figures[2].value = static_cast<double>(input.canary->predictions);
    if (verdict_.pass) {
      out.verdict = qsc::Verdict::kPass;
      out.message.assign("Quality gate: GO (");
      out.message += std::to_string(verdict_.checks.size());
      out.message += " checks passed)";
      return;
    }
    out.verdict = qsc::Verdict::kViolation;
    out.message.assign("Quality gate: NO-GO (");
    bool first = true;
    for (const auto& [name, r] : verdict_.checks) {
      if (r.verdict == qsc::Verdict::kPass) continue;
      if (!first) out.message += "; ";
      first = false;
      out.message += r.message;
    }
    out.message += ')';
  }

  std::string effective_config() const override { return qsc::to_json(thresholds_).dump(); }

 private:
  qsc::GateThresholds thresholds_;
  qsc::GateModelVerdict verdict_;  // the last check's, kept for its storage
};

}  // namespace

QSC_DETECTOR_PLUGIN(QualityGate, "quality_gate", "1.0.0",
                    "Fires when the quality gate's per-model checks say NO-GO for the canary")
