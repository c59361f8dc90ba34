// The share checks' fold (plugins/detectors/common/canary_attribution.hpp) as dead_zone keeps it
// since session 16: HOLD's evidence alone, the same test to the bit as the fold of every
// action's, the others never handed out; and PairedCount, whose ring position is stepped instead
// of divided, counting the newest paired items through wraps, growth and clears.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "../../plugins/detectors/common/canary_attribution.hpp"

namespace qsc::attribution_test {
namespace {

using detectors::CanaryShareAttribution;
using detectors::PairedCount;

// Of the newest `n` of `history`, how many were paired: what PairedCount answers while it still
// remembers them all.
std::size_t paired_in_last(const std::vector<bool>& history, std::size_t n) {
  const std::size_t from = history.size() - std::min(n, history.size());
  return static_cast<std::size_t>(
      std::count(history.begin() + static_cast<std::ptrdiff_t>(from), history.end(), true));
}

// The ring's slot is stepped at each add instead of divided: it must land where the division
// did through many wraps of the first ring (4,096 counts) and, once a window of 9,000 grew it
// (to 36,000), of the grown one, and after clears. The windows asked for stay within what the
// ring remembers, where the answer is the plain count.
TEST(ShareFold, PairedCountCountsTheNewestPairedThroughWrapsGrowthAndClears) {
  std::mt19937_64 rng(16);
  PairedCount count;
  std::vector<bool> history;
  std::size_t asked = 0;
  const auto run = [&](std::size_t adds, std::size_t most_window) {
    for (std::size_t i = 0; i < adds; ++i) {
      const bool paired = rng() % 3 != 0;
      count.add(paired);
      history.push_back(paired);
      if (rng() % 50 == 0) {
        const std::size_t n = rng() % (most_window + 1);
        ASSERT_EQ(count.in_last(n), paired_in_last(history, n)) << "add " << i << ", n " << n;
        ++asked;
      }
    }
  };
  run(20'000, 2'000);  // the first ring, wrapped four times
  count.clear();
  history.clear();
  ASSERT_EQ(count.in_last(9'000), 0u);  // grows it to 36,000
  run(120'000, 9'000);                  // the grown ring, wrapped three times
  count.clear();
  history.clear();
  run(50'000, 9'000);
  EXPECT_GT(asked, 3'000u);
}

// One event of four models, the canary first, as the host's C input holds it.
struct CEvent {
  std::vector<qsc_prediction> predictions;
  std::vector<const qsc_prediction*> pointers;
  qsc_event event{};
};

TEST(ShareFold, HoldsEvidenceAloneIsTheEveryActionFoldsToTheBit) {
  static const std::vector<std::string> kModels = {"patchtst", "xgb", "lgbm", "nhits"};
  std::mt19937_64 rng(7);
  std::vector<CEvent> events(20'000);
  for (auto& e : events) {
    for (const auto& model : kModels) {
      qsc_prediction p{};
      p.struct_size = sizeof p;
      p.model = {model.data(), model.size()};
      // The canary holds more than its peers: HOLD's test has something to bet on.
      const auto roll = rng() % 10;
      p.action = static_cast<std::uint32_t>(model == kModels[0] ? (roll < 7 ? 2 : roll % 2)
                                                                : (roll < 4 ? 2 : roll % 2));
      p.inactive = rng() % 20 == 0 ? 1 : 0;
      p.confidence = p.raw_confidence = 0.5;
      e.predictions.push_back(p);
    }
    for (const auto& p : e.predictions) e.pointers.push_back(&p);
    e.event.struct_size = sizeof e.event;
    e.event.side = -1;
    e.event.predictions = e.pointers.data();
    e.event.prediction_count = e.pointers.size();
  }
  std::vector<const qsc_event*> event_pointers;
  for (const auto& e : events) event_pointers.push_back(&e.event);

  CanaryShareAttribution every;
  CanaryShareAttribution hold_only(CanaryShareAttribution::action_bit(Vote::kHold));
  ModelStats canary_stats;
  canary_stats.model = kModels[0];
  CheckInput input;
  input.canary_model = kModels[0];
  input.canary = &canary_stats;
  constexpr std::size_t kPerCheck = 50;
  for (std::size_t at = 0; at < event_pointers.size(); at += kPerCheck) {
    input.new_event_views = EventViews(event_pointers.data() + at, kPerCheck);
    every.fold(input);
    hold_only.fold(input);
    const auto* all = every.evidence(input, Vote::kHold);
    const auto* hold = hold_only.evidence(input, Vote::kHold);
    ASSERT_NE(all, nullptr);
    ASSERT_NE(hold, nullptr);
    std::vector<Figure> a(detectors::ExcessEvidence::kFigures);
    std::vector<Figure> b(detectors::ExcessEvidence::kFigures);
    all->put_figures(a, 0, true);
    hold->put_figures(b, 0, true);
    for (std::size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(std::bit_cast<std::uint64_t>(a[i].value), std::bit_cast<std::uint64_t>(b[i].value))
          << a[i].name << " after " << at + kPerCheck << " events";
    }
    // An action whose evidence is not kept is never handed out: its check keeps the literal
    // rule (fail closed), never a test that was not run.
    EXPECT_EQ(hold_only.evidence(input, Vote::kBuy), nullptr);
    EXPECT_EQ(hold_only.evidence(input, Vote::kSell), nullptr);
    EXPECT_NE(every.evidence(input, Vote::kBuy), nullptr);
  }
  // The canary's HOLD excess is real here: the evidence has grown past its start.
  std::vector<Figure> last(detectors::ExcessEvidence::kFigures);
  hold_only.evidence(input, Vote::kHold)->put_figures(last, 0, true);
  EXPECT_GT(last[1].value, 0.0) << last[1].name;
}

}  // namespace
}  // namespace qsc::attribution_test
