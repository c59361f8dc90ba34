// A per-model share check with canary attribution (action_collapse, dead_zone): the runbook's
// threshold on one of the canary's action shares, and under "attribution": "canary" (the
// default) a violation only when the canary also votes that action more than its active peers
// do on the same events (canary_attribution.hpp; docs/ACCURACY.md, "Share attribution").
// Header-only, like detector_support.hpp, so each detector stays one library.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "canary_attribution.hpp"
#include "detector_support.hpp"

namespace qsc::detectors {

/// The action a share check judges: the canary's most voted (action_collapse) or HOLD
/// (dead_zone).
using ShareAction = Vote (*)(const ModelStats&);

inline Vote dominant_action(const ModelStats& m) {
  return m.dominant();
}
inline Vote hold_action(const ModelStats& /*m*/) {
  return Vote::kHold;
}

/// `Check` is the SDK's literal check of `Spec`'s one threshold; `Action` the action whose share
/// it judges.
template <const ThresholdSpec& Spec, void (*Check)(const ModelStats&, double, CheckResult&),
          ShareAction Action>
class AttributedShareDetector final
    : public IntoDetector<AttributedShareDetector<Spec, Check, Action>> {
 public:
  static constexpr const char* kConfigSchema = Spec.schema;
  // Under "canary" it folds in every event since activation, read in place
  // (CheckInput::new_event_views): without kReadsNewEvents no C++ copy of them is made.

  AttributedShareDetector(double threshold, Attribution attribution)
      : threshold_(threshold), attribution_(attribution), shares_(folded_actions()) {}

  /// Keys: Spec.key, attribution ("canary" or "model").
  static Result<std::unique_ptr<AttributedShareDetector>> create(const nlohmann::json& section,
                                                                 const nlohmann::json& /*host*/) {
    auto split =
        read_attribution(section, Spec.plugin, Attribution::kModel, kDefaultShareAttribution);
    if (!split) return split.error();
    ConfigSection config(split.value().thresholds, std::string("plugins.config.") + Spec.plugin);
    const double threshold = config.number(Spec.key, Spec.fallback, Spec.min, Spec.min_end,
                                           Spec.max, Spec.max_end, Spec.why);
    if (auto status = config.finish(); !status) return status.error();
    return std::make_unique<AttributedShareDetector>(threshold, split.value().attribution);
  }

  /// check() over the previous result (qsc/plugin.hpp).
  void check_into(const CheckInput& input, CheckResult& out) {
    const bool attributed = attribution_ == Attribution::kCanary;
    if (attributed) shares_.fold(input);
    if (insufficient_canary(input, Spec.title, out)) {
      out.horizon_events = insufficient_canary_horizon(input);
      return;
    }
    if (!attributed) {
      Check(*input.canary, threshold_, out);
      out.horizon_events = literal_horizon(input, out);
      return;
    }
    // The literal result goes to a result of its own and is copied: written straight into `out`
    // it would shrink out's figures to its one and free the evidence figures' names at every
    // check.
    Check(*input.canary, threshold_, literal_);
    const Vote action = Action(*input.canary);
    const ExcessEvidence* evidence = shares_.evidence(input, action);
    copy_result(literal_, out, evidence != nullptr ? ExcessEvidence::kFigures : 0);
    if (evidence != nullptr)
      evidence->put_figures(out.figures, literal_.figures.size(), /*up=*/true);
    shares_.judge(out, input, action);
    // Under "canary" a violation needs the literal one (judge only turns a violation into a
    // pass), so while the literal rule passes the verdict is a pass whatever the evidence: the
    // literal rule's horizon is the verdict's. A pass judge made of a literal violation has none.
    out.horizon_events = literal_horizon(input, literal_);
  }

  std::string effective_config() const override {
    return nlohmann::json{{Spec.key, threshold_}, {"attribution", attribution_name(attribution_)}}
        .dump();
  }

 private:
  // The actions whose evidence the fold keeps: HOLD's alone for dead_zone, which judges no
  // other; every one for a check of the most voted action, which may be any.
  static constexpr unsigned folded_actions() noexcept {
    if constexpr (Action == &hold_action) {
      return CanaryShareAttribution::action_bit(Vote::kHold);
    } else {
      return CanaryShareAttribution::kEveryAction;
    }
  }

  // The literal rule's horizon on the canary's predictions (share_pass_horizon, the judged
  // action's count: the most voted one for action_collapse).
  std::uint64_t literal_horizon(const CheckInput& input, const CheckResult& literal) const {
    if (literal.verdict != Verdict::kPass) return 0;
    const ModelStats& m = *input.canary;
    return share_pass_horizon(m, input.min_events, threshold_, Action(m));
  }

  double threshold_;
  Attribution attribution_;
  CanaryShareAttribution shares_;
  CheckResult literal_;  // the runbook rule's result, kept for its storage
};

}  // namespace qsc::detectors
