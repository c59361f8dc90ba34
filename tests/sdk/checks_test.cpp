// The checks outside the numpy fixtures: no-data verdicts, configured thresholds in messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "qsc/checks.hpp"
#include "qsc/stats.hpp"

namespace qsc {
namespace {

ModelStats stats_of(const std::vector<std::pair<Vote, double>>& values) {
  std::vector<Sample> samples;
  for (const auto& [v, c] : values) samples.push_back(Sample{v, c, ConfidenceStatus::kOk, {}});
  return compute_model_stats("xgb", samples);
}

TEST(ChecksTest, FormatThresholdPrintsTheShortestForm) {
  EXPECT_EQ(format_threshold(70), "70");
  EXPECT_EQ(format_threshold(0.05), "0.05");
  EXPECT_EQ(format_threshold(0.12), "0.12");
  EXPECT_EQ(format_threshold(0.001), "0.001");
  EXPECT_EQ(format_threshold(62.5), "62.5");
}

TEST(ChecksTest, ConfiguredThresholdsAppearInTheMessages) {
  // 3 of 4 HOLD = 75%: a collapse at 70, not at 80.
  const auto m =
      stats_of({{Vote::kHold, 0.2}, {Vote::kHold, 0.9}, {Vote::kHold, 0.5}, {Vote::kBuy, 0.7}});
  const auto at70 = check_action_collapse(m, 70);
  EXPECT_EQ(at70.verdict, Verdict::kViolation);
  EXPECT_EQ(at70.message, "Action collapse: HOLD=75.0% (>70%)");
  const auto at80 = check_action_collapse(m, 80);
  EXPECT_EQ(at80.verdict, Verdict::kPass);
  EXPECT_EQ(at80.message, "Action collapse: HOLD=75.0% (>80%)");
  ASSERT_EQ(at80.figures.size(), 1u);
  EXPECT_DOUBLE_EQ(at80.figures[0].value, 75.0);
  EXPECT_EQ(check_dead_zone(m, 72.5).message, "Dead zone: HOLD=75.0% (>72.5%)");
  EXPECT_EQ(check_dead_zone(m, 72.5).verdict, Verdict::kViolation);
}

TEST(ChecksTest, NoPredictionsIsInsufficientNeverAPass) {
  const auto empty = compute_model_stats("xgb", {});
  EXPECT_EQ(empty.predictions, 0u);
  EXPECT_TRUE(std::isnan(empty.conf_mean));
  EXPECT_EQ(check_action_collapse(empty, 70).verdict, Verdict::kInsufficient);
  EXPECT_EQ(check_dead_zone(empty, 85).verdict, Verdict::kInsufficient);
  EXPECT_NE(check_flat_predictions(empty, 0.05).verdict, Verdict::kPass);
  EXPECT_NE(check_narrow_range(empty, 0.12).verdict, Verdict::kPass);
  EXPECT_NE(check_constant_output(empty, 0.01, 0.001).verdict, Verdict::kPass);
  const auto gate = gate_model(empty, GateThresholds{});
  EXPECT_FALSE(gate.pass);
  EXPECT_FALSE(gate.failures().empty());
}

TEST(ChecksTest, EnsembleWithoutActiveVotesIsInsufficient) {
  const auto e = compute_ensemble({});
  EXPECT_EQ(e.events, 0u);
  EXPECT_TRUE(std::isnan(e.agreement_pct));
  const auto a = check_ensemble_agreement(e, 55, 80);
  EXPECT_EQ(a.verdict, Verdict::kInsufficient);
  EXPECT_EQ(a.message, "Ensemble dysfunction: no event with an active vote");
  EXPECT_EQ(check_model_chaos(e, 20).verdict, Verdict::kInsufficient);
}

TEST(ChecksTest, ConfidenceViolationsAreListedInStatusOrder) {
  std::vector<Sample> samples(3);
  samples[0].status = ConfidenceStatus::kNotNumber;
  samples[1].status = ConfidenceStatus::kNegative;
  samples[2].status = ConfidenceStatus::kNormalized;
  samples[2].confidence = 0.9;
  const auto m = compute_model_stats("xgb", samples);
  EXPECT_EQ(m.normalized, 1u);
  const auto r = check_confidence(m);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.message, "Confidence violations: 2 (negative=1, not_a_number=1)");
}

TEST(ChecksTest, PercentileMatchesNumpysLinearMethodOnSmallArrays) {
  // np.percentile([1, 2, 3, 4], [10, 90]) == [1.3, 3.7]; np.percentile([5], 10) == 5.
  const double four[] = {1, 2, 3, 4};
  EXPECT_NEAR(percentile_linear(four, 10), 1.3, 1e-15);
  EXPECT_NEAR(percentile_linear(four, 90), 3.7, 1e-15);
  EXPECT_EQ(percentile_linear(four, 0), 1.0);
  EXPECT_EQ(percentile_linear(four, 100), 4.0);
  const double one[] = {5};
  EXPECT_EQ(percentile_linear(one, 10), 5.0);
  EXPECT_EQ(percentile_linear(one, 90), 5.0);
}

TEST(ChecksTest, DominantVoteTiesGoToBuyThenSell) {
  auto m = stats_of({{Vote::kBuy, 0.5}, {Vote::kSell, 0.5}});
  EXPECT_EQ(m.dominant(), Vote::kBuy);
  m = stats_of({{Vote::kHold, 0.5}, {Vote::kSell, 0.5}});
  EXPECT_EQ(m.dominant(), Vote::kSell);
}

TEST(ChecksTest, InactiveStateOfTheNewestPredictionIsReported) {
  std::vector<Sample> samples(3);
  samples[0].inactive = InactiveReason::kFallback;
  samples[1].inactive = InactiveReason::kShadow;
  samples[2].inactive = InactiveReason::kNone;
  const auto m = compute_model_stats("patchtst", samples);
  EXPECT_EQ(m.inactive, 2u);
  EXPECT_EQ(m.last_inactive_reason, InactiveReason::kShadow);
  EXPECT_EQ(m.newest_inactive, InactiveReason::kNone);
}

// A NaN statistic (a NaN that reached the figures) must fail every check: each comparison with
// NaN is false, so a check written as `x > max` would pass it. One test per check.
ModelStats nan_figures() {
  // Healthy votes and samples, so only the NaN figure can make a check fail.
  auto m = stats_of({{Vote::kBuy, 0.2}, {Vote::kSell, 0.9}, {Vote::kHold, 0.5}, {Vote::kBuy, 0.7}});
  const double nan = std::nan("");
  m.share_pct = {nan, nan, nan};
  m.conf_std = nan;
  m.p10 = nan;
  m.p90 = nan;
  m.range = nan;
  return m;
}

EnsembleStats nan_ensemble() {
  EnsembleStats e;
  e.events = 10;
  e.agreement_pct = std::nan("");
  e.hard_disagree_pct = std::nan("");
  return e;
}

TEST(ChecksNaNTest, ActionCollapseFailsOnANaNShare) {
  EXPECT_EQ(check_action_collapse(nan_figures(), 70).verdict, Verdict::kViolation);
}

TEST(ChecksNaNTest, DeadZoneFailsOnANaNHoldShare) {
  EXPECT_EQ(check_dead_zone(nan_figures(), 85).verdict, Verdict::kViolation);
}

TEST(ChecksNaNTest, FlatPredictionsFailsOnANaNStd) {
  EXPECT_EQ(check_flat_predictions(nan_figures(), 0.05).verdict, Verdict::kViolation);
}

TEST(ChecksNaNTest, NarrowRangeFailsOnANaNRange) {
  EXPECT_EQ(check_narrow_range(nan_figures(), 0.12).verdict, Verdict::kViolation);
}

TEST(ChecksNaNTest, ConstantOutputFailsOnANaNStdOrRange) {
  EXPECT_EQ(check_constant_output(nan_figures(), 0.01, 0.001).verdict, Verdict::kViolation);
  auto only_range = stats_of({{Vote::kBuy, 0.1}, {Vote::kSell, 0.9}, {Vote::kHold, 0.5}});
  only_range.range = std::nan("");
  EXPECT_EQ(check_constant_output(only_range, 0.01, 0.001).verdict, Verdict::kViolation);
}

TEST(ChecksNaNTest, EnsembleAgreementFailsOnANaNAgreement) {
  EXPECT_EQ(check_ensemble_agreement(nan_ensemble(), 55, 80).verdict, Verdict::kViolation);
}

TEST(ChecksNaNTest, ModelChaosFailsOnANaNHardDisagreement) {
  EXPECT_EQ(check_model_chaos(nan_ensemble(), 20).verdict, Verdict::kViolation);
}

TEST(ChecksNaNTest, TheGateFailsAModelWithNaNFigures) {
  EXPECT_FALSE(gate_model(nan_figures(), GateThresholds{}).pass);
}

TEST(ChecksNaNTest, HealthyFiguresStillPass) {
  // The rewritten comparisons keep the boundary: a figure exactly at a threshold passes.
  const auto m = stats_of({{Vote::kBuy, 0.1}, {Vote::kSell, 0.9}, {Vote::kHold, 0.5}});
  EXPECT_EQ(check_action_collapse(m, 100.0 / 3.0 + 1e-9).verdict, Verdict::kPass);
  EXPECT_EQ(check_flat_predictions(m, m.conf_std).verdict, Verdict::kPass);
  EXPECT_EQ(check_narrow_range(m, m.range).verdict, Verdict::kPass);
  EnsembleStats e;
  e.events = 1;
  e.agreement_pct = 55;
  e.hard_disagree_pct = 20;
  EXPECT_EQ(check_ensemble_agreement(e, 55, 80).verdict, Verdict::kPass);
  EXPECT_EQ(check_model_chaos(e, 20).verdict, Verdict::kPass);
}

}  // namespace
}  // namespace qsc
