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

}  // namespace
}  // namespace qsc
