// quality_gate: the gate's per-model verdict, applied to the canary's live window, so a canary that
// would no longer pass the gate is rolled back (confidence violations included). With
// "attribution": "canary" its two share checks (max_share_pct, max_hold_pct) fire only when the
// canary also votes that action more than its active peers do on the same events, as
// action_collapse does (docs/ACCURACY.md, "Share attribution"); its confidence checks stay
// literal.
#include "../common/canary_attribution.hpp"
#include "../common/detector_support.hpp"
#include "qsc/gate_config.hpp"
#include "qsc/gate_failures.hpp"
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
    "constant_range": {"type": "number", "min": 0, "min_excluded": true, "max": 1, "why": "at 0 the check could never fire", "default": 0.001},
    )json" QSC_SHARE_ATTRIBUTION_SCHEMA_ENTRY R"json(
})json";
// clang-format on

class QualityGate final : public qsc::detectors::IntoDetector<QualityGate> {
 public:
  static constexpr const char* kConfigSchema = kQualityGateSchema;
  // Under "canary" it folds in every event since activation, read in place
  // (CheckInput::new_event_views): without kReadsNewEvents no C++ copy of them is made.

  QualityGate(const qsc::GateThresholds& thresholds, qsc::detectors::Attribution attribution)
      : thresholds_(thresholds), attribution_(attribution) {}

  /// Keys: max_share_pct, max_hold_pct, min_conf_std, min_p10_p90, constant_std, constant_range,
  /// attribution ("canary" or "model").
  static qsc::Result<std::unique_ptr<QualityGate>> create(const nlohmann::json& section,
                                                          const nlohmann::json& /*host*/) {
    auto split = qsc::detectors::read_attribution(section, "quality_gate",
                                                  qsc::detectors::Attribution::kModel,
                                                  qsc::detectors::kDefaultShareAttribution);
    if (!split) return split.error();
    auto thresholds =
        qsc::read_gate_thresholds(split.value().thresholds, "plugins.config.quality_gate");
    if (!thresholds) return thresholds.error();
    return std::make_unique<QualityGate>(thresholds.value(), split.value().attribution);
  }

  /// check() over the previous result (qsc/plugin.hpp): the gate's six checks are run into a
  /// verdict kept between calls, so a passing check allocates nothing.
  void check_into(const qsc::CheckInput& input, qsc::CheckResult& out) {
    const bool attributed = attribution_ == qsc::detectors::Attribution::kCanary;
    if (attributed) shares_.fold(input);
    if (qsc::detectors::insufficient_canary(input, "Quality gate", out)) {
      out.horizon_events = qsc::detectors::insufficient_canary_horizon(input);
      return;
    }
    // Only the failing (or spared) checks' texts are reported: the passing ones are not composed.
    qsc::gate_model_failures(*input.canary, thresholds_, verdict_);
    // gate_model's checks in its order: [0] the largest action share, [1] the HOLD share.
    const bool spared_share =
        attributed && shares_.judge(verdict_.checks[0].second, input, input.canary->dominant());
    const bool spared_hold =
        attributed && shares_.judge(verdict_.checks[1].second, input, qsc::Vote::kHold);
    std::size_t failed = 0;
    for (const auto& [name, r] : verdict_.checks) failed += r.verdict != qsc::Verdict::kPass;
    verdict_.pass = failed == 0;
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
      out.message += " checks passed";
      // Why a share over its threshold did not fail the gate: not the canary's doing.
      if (spared_share) (out.message += "; ") += verdict_.checks[0].second.message;
      if (spared_hold) (out.message += "; ") += verdict_.checks[1].second.message;
      out.message += ')';
      // Under "canary" a share violation needs the literal one: a pass made of a spared literal
      // violation gives no horizon. Otherwise every check's, while no canary prediction brings a
      // confidence violation (one fires the gate at once; the host watches for it, ABI 2.2).
      if (!spared_share && !spared_hold) {
        out.horizon_events = pass_horizon(input);
        out.horizon_unless = QSC_UNLESS_CANARY_CONFIDENCE_VIOLATION;
      }
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

  std::string effective_config() const override {
    auto config = qsc::to_json(thresholds_);
    config["attribution"] = qsc::detectors::attribution_name(attribution_);
    return config.dump();
  }

 private:
  // The horizon of a pass of every check (detector_support.hpp): the two share rules, the std
  // floors (flat_predictions', constant_output's) and the P90 - P10 floors (narrow_range's,
  // constant_output's). The confidence check (no violation in the window) is the condition.
  std::uint64_t pass_horizon(const qsc::CheckInput& input) const {
    using qsc::detectors::range_floor_horizon;
    using qsc::detectors::share_pass_horizon;
    using qsc::detectors::std_floor_horizon;
    const qsc::ModelStats& m = *input.canary;
    return std::min(
        {share_pass_horizon(m, input.min_events, thresholds_.max_share_pct, m.dominant()),
         share_pass_horizon(m, input.min_events, thresholds_.max_hold_pct, qsc::Vote::kHold),
         std_floor_horizon(input, thresholds_.min_conf_std),
         std_floor_horizon(input, thresholds_.constant_std),
         range_floor_horizon(input, thresholds_.min_p10_p90),
         range_floor_horizon(input, thresholds_.constant_range)});
  }

  qsc::GateThresholds thresholds_;
  qsc::detectors::Attribution attribution_;
  qsc::detectors::CanaryShareAttribution shares_;
  qsc::GateModelVerdict verdict_;  // the last check's, kept for its storage
};

}  // namespace

QSC_DETECTOR_PLUGIN(QualityGate, "quality_gate", "1.0.0",
                    "Fires when the quality gate's per-model checks say NO-GO for the canary "
                    "(with attribution \"canary\": its share checks only when the canary votes "
                    "that action more than its peers)")
