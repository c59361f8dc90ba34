// Threshold sections shared by plugins and the agent.
#include "qsc/gate_config.hpp"

#include "qsc/config_section.hpp"

namespace qsc {

Result<GateThresholds> read_gate_thresholds(const nlohmann::json& section,
                                            const std::string& where) {
  using End = ConfigSection::End;
  ConfigSection c(section, where);
  GateThresholds t;
  // Shares fire above the ceiling and spreads below the floor: a share cannot exceed 100% and a
  // spread cannot be below 0, so those ends would switch the check off and are excluded.
  t.max_share_pct = c.number("max_share_pct", t.max_share_pct, 0.0, End::kIncluded, 100.0,
                             End::kExcluded, kNeverAbove100);
  t.max_hold_pct = c.number("max_hold_pct", t.max_hold_pct, 0.0, End::kIncluded, 100.0,
                            End::kExcluded, kNeverAbove100);
  t.min_conf_std = c.number("min_conf_std", t.min_conf_std, 0.0, End::kExcluded, 1.0,
                            End::kIncluded, kNeverBelow0);
  t.min_p10_p90 = c.number("min_p10_p90", t.min_p10_p90, 0.0, End::kExcluded, 1.0, End::kIncluded,
                           kNeverBelow0);
  t.constant_std = c.number("constant_std", t.constant_std, 0.0, End::kExcluded, 1.0,
                            End::kIncluded, kNeverBelow0);
  t.constant_range = c.number("constant_range", t.constant_range, 0.0, End::kExcluded, 1.0,
                              End::kIncluded, kNeverBelow0);
  if (auto s = c.finish(); !s) return s.error();
  return t;
}

Result<EnsembleThresholds> read_ensemble_thresholds(const nlohmann::json& dysfunction_section,
                                                    const nlohmann::json& chaos_section) {
  EnsembleThresholds t;
  using End = ConfigSection::End;
  ConfigSection d(dysfunction_section, "plugins.config.ensemble_dysfunction");
  t.min_agreement_pct = d.number("min_agreement_pct", t.min_agreement_pct, kAgreementFloorPct,
                                 End::kExcluded, 100.0, End::kIncluded, kNeverBelowAThird);
  t.max_agreement_pct = d.number("max_agreement_pct", t.max_agreement_pct, 0.0, End::kIncluded,
                                 100.0, End::kExcluded, kNeverAbove100);
  if (t.min_agreement_pct > t.max_agreement_pct) {
    d.fail("min_agreement_pct", "must not exceed max_agreement_pct");
  }
  if (auto s = d.finish(); !s) return s.error();
  ConfigSection c(chaos_section, "plugins.config.model_chaos");
  t.max_hard_disagree_pct = c.number("max_hard_disagree_pct", t.max_hard_disagree_pct, 0.0,
                                     End::kIncluded, 100.0, End::kExcluded, kNeverAbove100);
  if (auto s = c.finish(); !s) return s.error();
  return t;
}

nlohmann::json to_json(const GateThresholds& t) {
  return {{"max_share_pct", t.max_share_pct}, {"max_hold_pct", t.max_hold_pct},
          {"min_conf_std", t.min_conf_std},   {"min_p10_p90", t.min_p10_p90},
          {"constant_std", t.constant_std},   {"constant_range", t.constant_range}};
}

}  // namespace qsc
