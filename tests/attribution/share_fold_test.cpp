// The share checks' fold (plugins/detectors/common/canary_attribution.hpp) as dead_zone keeps it
// since session 16: HOLD's evidence alone, the same test to the bit as the fold of every
// action's, the others never handed out; and PairedCount, whose ring position is stepped instead
// of divided, answering as the division did through clears and growth.
#include <gtest/gtest.h>

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

// PairedCount as it was before session 16 (the ring's slot by division), the reference.
class DividedPairedCount {
 public:
  void add(bool paired) {
    paired_ += paired ? 1 : 0;
    ++predictions_;
    cumulative_[predictions_ % cumulative_.size()] = paired_;
    if (predictions_ - oldest_ >= cumulative_.size())
      oldest_ = predictions_ + 1 - cumulative_.size();
  }
  std::size_t in_last(std::size_t n) {
    if (2 * n > cumulative_.size()) grow(4 * n);
    const std::uint64_t from =
        std::max<std::uint64_t>(predictions_ - std::min<std::uint64_t>(n, predictions_), oldest_);
    return static_cast<std::size_t>(paired_ - cumulative_[from % cumulative_.size()]);
  }
  void clear() {
    std::fill(cumulative_.begin(), cumulative_.end(), 0);
    paired_ = predictions_ = oldest_ = 0;
  }

 private:
  void grow(std::size_t size) {
    std::vector<std::uint64_t> bigger(size, 0);
    for (std::uint64_t i = oldest_; i <= predictions_; ++i) {
      bigger[i % size] = cumulative_[i % cumulative_.size()];
    }
    cumulative_ = std::move(bigger);
  }

  std::vector<std::uint64_t> cumulative_ = std::vector<std::uint64_t>(4096, 0);
  std::uint64_t paired_ = 0;
  std::uint64_t predictions_ = 0;
  std::uint64_t oldest_ = 0;
};

TEST(ShareFold, PairedCountAnswersAsTheDividedRingThroughWrapsGrowthAndClears) {
  std::mt19937_64 rng(16);
  PairedCount stepped;
  DividedPairedCount divided;
  std::size_t asked = 0;
  for (int step = 0; step < 200'000; ++step) {
    const auto r = rng() % 1000;
    if (r < 990) {
      const bool paired = rng() % 3 != 0;
      stepped.add(paired);
      divided.add(paired);
    } else if (r < 999) {
      // Windows past half the ring grow it (4096 at first: a window of 2,049 events or more),
      // past what it remembers too.
      const std::size_t n = rng() % 2 == 0 ? rng() % 2000 : rng() % 9000;
      ASSERT_EQ(stepped.in_last(n), divided.in_last(n)) << "step " << step << ", n " << n;
      ++asked;
    } else {
      stepped.clear();
      divided.clear();
    }
  }
  EXPECT_GT(asked, 1000u);
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
