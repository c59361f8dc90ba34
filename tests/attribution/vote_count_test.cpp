// The host's count of each event's votes (ABI 2.5, qsc_event's votes_canary ... canary_predicted),
// written by the host's real writer (AbiCheckInput) and read by the detectors' count_votes
// (plugins/detectors/common/canary_attribution.hpp): it must be, for every event the host
// writes, what walking the event's predictions counts; an event without it (a 2.4 host's, whose
// struct ends before it; the gate's, which names no canary; a count asked for another model) is
// walked; and the five folding detectors' evidence is the same to the bit either way.
#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "../../plugins/detectors/common/canary_attribution.hpp"
#include "plugin_host/abi_write.hpp"
#include "qsc/plugin_abi_read.hpp"
#include "support/vote_pattern_events.hpp"

namespace qsc::attribution_test {
namespace {

using detectors::CanaryAttribution;
using detectors::CanaryShareAttribution;
using detectors::count_votes;
using detectors::EnsembleFigure;
using detectors::EventVotes;
using detectors::walk_votes;

const std::string kCanary = "patchtst";

// Events of every shape the count must follow: the canary absent, inactive, active once, or
// twice with different votes (the first active one is its vote), peers inactive or absent, no
// prediction at all.
std::vector<TradeIntent> random_events(std::size_t count, std::uint64_t seed) {
  static const std::vector<std::string> kPeers = {"xgb", "lgbm", "a_model_name_longer_than_sso"};
  std::mt19937_64 rng(seed);
  std::vector<TradeIntent> events(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto& e = events[i];
    e.time_ms = 1'768'000'000'000ULL + i;
    e.seq = i;
    const auto add = [&](const std::string& model) {
      Prediction p;
      p.model = model;
      p.action = static_cast<Vote>(rng() % kVoteKinds);
      p.confidence = p.raw_confidence = 0.5;
      p.inactive =
          rng() % 5 == 0 ? static_cast<InactiveReason>(1 + rng() % 3) : InactiveReason::kNone;
      e.predictions.push_back(p);
    };
    const auto canaries = rng() % 6;  // 0: absent; 1: twice; else once
    if (canaries == 1) add(kCanary);
    for (const auto& peer : kPeers) {
      if (rng() % 4 != 0) add(peer);
    }
    if (canaries != 0) add(kCanary);
  }
  return events;
}

void expect_same(const EventVotes& want, const EventVotes& got, const std::string& where) {
  EXPECT_EQ(got.votes, want.votes) << where;
  EXPECT_EQ(got.canary_vote, want.canary_vote) << where;
  EXPECT_EQ(got.canary_predicted, want.canary_predicted) << where;
}

// A check input for kCanary, with its stats and the host's real writer, as the folds' tests use
// them.
struct CanaryCheck {
  CanaryCheck() {
    stats.model = kCanary;
    input.canary_model = kCanary;
    input.canary = &stats;
  }
  CanaryCheck(const CanaryCheck&) = delete;
  CanaryCheck& operator=(const CanaryCheck&) = delete;

  /// `events` written by the host's writer, and the input a detector reads of them: the canary
  /// named by the host's bytes, the events as views (valid until the next write).
  CheckInput write(std::span<const TradeIntent> events) {
    input.new_events = events;
    written = c_input.write(input);
    CheckInput read = input;
    read.canary_model = std::string_view(written->canary_model.data, written->canary_model.length);
    read.new_event_views = EventViews(written->new_events, written->new_event_count);
    return read;
  }

  ModelStats stats;
  CheckInput input;
  agent::AbiCheckInput c_input;
  const qsc_check_input* written = nullptr;  // the last write's C input
};

// The evidence's figures (put_figures) to the bit, in direction `up`.
void same_evidence(const detectors::ExcessEvidence& a, const detectors::ExcessEvidence& b, bool up,
                   const std::string& where) {
  std::vector<Figure> fa(detectors::ExcessEvidence::kFigures);
  std::vector<Figure> fb(detectors::ExcessEvidence::kFigures);
  a.put_figures(fa, 0, up);
  b.put_figures(fb, 0, up);
  for (std::size_t i = 0; i < fa.size(); ++i) {
    ASSERT_EQ(std::bit_cast<std::uint64_t>(fa[i].value), std::bit_cast<std::uint64_t>(fb[i].value))
        << fa[i].name << ", " << where;
  }
}

// Events written by the host's real writer for kCanary, and the canary's name as handed out.
struct Written {
  Written(std::size_t count, std::uint64_t seed) : events(random_events(count, seed)) {
    input.canary_model = kCanary;
    input.new_events = events;
    c = c_input.write(input);
    canary = std::string_view(c->canary_model.data, c->canary_model.length);
  }
  Written(const Written&) = delete;
  Written& operator=(const Written&) = delete;

  const std::vector<TradeIntent> events;
  CheckInput input;
  agent::AbiCheckInput c_input;
  const qsc_check_input* c = nullptr;
  std::string_view canary;
};

// Every event the host writes, by write() and by write_held() (kept forms included), carries the
// count for the input's canary, and it is the walk's, of the view and of the event itself.
TEST(VoteCount, TheHostsCountIsTheWalkOfEveryEventItWrites) {
  const auto events = random_events(3'000, 17);
  CheckInput input;
  input.canary_model = kCanary;
  agent::AbiCheckInput c_input;
  abi::CheckInputCopy copy;
  std::size_t counted = 0;
  std::size_t canary_voted = 0;
  const auto check = [&](const CheckInput& read, std::size_t first, const std::string& how) {
    for (std::size_t k = 0; k < read.new_event_views.size(); ++k) {
      const EventView view = read.new_event_views[k];
      const std::string where = how + ", event " + std::to_string(first + k);
      ASSERT_NE(view.votes_counted_for(read.canary_model), nullptr) << where;
      const EventVotes walked = walk_votes(events[first + k], kCanary);
      expect_same(walked, walk_votes(view, read.canary_model), where + " (walk of the view)");
      expect_same(walked, count_votes(view, read.canary_model), where + " (the host's count)");
      // Asked with the same name in other bytes: matched by content.
      expect_same(walked, count_votes(view, std::string_view(kCanary)), where + " (by content)");
      ++counted;
      canary_voted += walked.canary_voted() ? 1 : 0;
    }
  };
  for (std::size_t at = 0; at < events.size(); at += 100) {
    input.new_events = std::span<const TradeIntent>(events).subspan(at, 100);
    check(copy.read(*c_input.write(input), false), at, "write()");
    // Held: the newest 100 numbered at + 100, handed twice (kept forms the second time).
    check(copy.read(*c_input.write_held(input, {1, 1, at + 100}), false), at, "held");
    check(copy.read(*c_input.write_held(input, {1, 1, at + 100}), false), at, "held, kept");
  }
  EXPECT_EQ(counted, 3 * events.size());
  EXPECT_GT(canary_voted, counted / 2);  // the canary's vote was there to find
}

// An event without the count is walked: a 2.4 host's (struct_size ends before votes_canary,
// whatever lies past it), the gate's and the scoreboard's (no canary named), and a count made
// for another model than the one asked for.
TEST(VoteCount, AnEventWithoutTheCountIsWalked) {
  Written w(400, 5);
  const auto& events = w.events;
  const qsc_check_input& c = *w.c;
  const std::string_view canary = w.canary;
  for (std::size_t k = 0; k < events.size(); ++k) {
    const std::string where = "event " + std::to_string(k);
    qsc_event older = *c.new_events[k];
    older.struct_size = static_cast<std::uint32_t>(offsetof(qsc_event, votes_canary));
    older.active_votes[0] = older.active_votes[1] = older.active_votes[2] = 999;  // not the host's
    older.canary_vote = 2;
    const EventView view = EventView::of(older);
    EXPECT_EQ(view.counted, nullptr) << where;
    const EventVotes walked = walk_votes(events[k], kCanary);
    expect_same(walked, count_votes(view, canary), where + " (2.4 host)");
    // Another model asked for: that model's walk, not the canary's count.
    const EventView full = EventView::of(*c.new_events[k]);
    EXPECT_EQ(full.votes_counted_for("xgb"), nullptr) << where;
    expect_same(walk_votes(events[k], "xgb"), count_votes(full, "xgb"), where + " (xgb)");
  }
  // The gate names no canary: no count is given.
  w.input.canary_model = {};
  const qsc_check_input& gate = *w.c_input.write(w.input);
  for (std::size_t k = 0; k < events.size(); ++k) {
    EXPECT_EQ(EventView::of(*gate.new_events[k]).counted, nullptr) << "gate, event " << k;
  }
}

// count_votes reads the count when given, not the predictions (what makes it O(1)): a count that
// disagrees with the predictions is what it returns; one whose canary vote is no vote is not read
// (fail closed: the walk decides).
TEST(VoteCount, TheCountIsReadWhenGivenAndAnImpossibleOneIsNot) {
  Written w(1, 3);
  const std::string_view canary = w.canary;
  qsc_event e = *w.c->new_events[0];
  e.active_votes[0] = 40;
  e.active_votes[1] = 41;
  e.active_votes[2] = 42;
  e.canary_vote = static_cast<std::int32_t>(Vote::kSell);
  e.canary_predicted = 1;
  const EventVotes read = count_votes(EventView::of(e), canary);
  EXPECT_EQ(read.votes, (std::array<std::size_t, kVoteKinds>{40, 41, 42}));
  EXPECT_EQ(read.canary_vote, 1u);
  EXPECT_TRUE(read.canary_predicted);
  e.canary_vote = static_cast<std::int32_t>(kVoteKinds);
  expect_same(walk_votes(w.events[0], kCanary), count_votes(EventView::of(e), canary),
              "canary vote out of range");
}

// The five folding detectors' state (the share checks' and the ensemble checks' evidence and
// their paired counts) is the same to the bit whether the host counted the votes or the events
// end before the count (a 2.4 host): the count changes no verdict, figure or message.
TEST(VoteCount, TheFoldsJudgeTheHostsCountAndTheWalkAlike) {
  const auto events = random_events(20'000, 29);
  CanaryCheck check;
  CanaryShareAttribution share_counted;
  CanaryShareAttribution share_walked;
  CanaryAttribution agreement_counted(EnsembleFigure::kAgreement);
  CanaryAttribution agreement_walked(EnsembleFigure::kAgreement);
  CanaryAttribution disagree_counted(EnsembleFigure::kHardDisagree);
  CanaryAttribution disagree_walked(EnsembleFigure::kHardDisagree);
  std::vector<qsc_event> older;
  std::vector<const qsc_event*> older_pointers;
  constexpr std::size_t kPerCheck = 50;
  for (std::size_t at = 0; at < events.size(); at += kPerCheck) {
    const CheckInput counted_input =
        check.write(std::span<const TradeIntent>(events).subspan(at, kPerCheck));
    const std::size_t written = counted_input.new_event_views.size();
    older.assign(written, qsc_event{});
    older_pointers.clear();
    for (std::size_t k = 0; k < written; ++k) {
      older[k] = *check.written->new_events[k];
      older[k].struct_size = static_cast<std::uint32_t>(offsetof(qsc_event, votes_canary));
      older_pointers.push_back(&older[k]);
    }
    CheckInput walked_input = counted_input;
    walked_input.new_event_views = EventViews(older_pointers.data(), older_pointers.size());
    ASSERT_NE(counted_input.new_event_views[0].counted, nullptr);
    ASSERT_EQ(walked_input.new_event_views[0].counted, nullptr);
    share_counted.fold(counted_input);
    share_walked.fold(walked_input);
    agreement_counted.fold(counted_input);
    agreement_walked.fold(walked_input);
    disagree_counted.fold(counted_input);
    disagree_walked.fold(walked_input);
    const std::string where = "after " + std::to_string(at + kPerCheck) + " events";
    for (Vote v : {Vote::kBuy, Vote::kSell, Vote::kHold}) {
      same_evidence(*share_counted.evidence(counted_input, v),
                    *share_walked.evidence(walked_input, v), true, where);
    }
    for (bool up : {true, false}) {
      same_evidence(agreement_counted.evidence(), agreement_walked.evidence(), up, where);
      same_evidence(disagree_counted.evidence(), disagree_walked.evidence(), up, where);
    }
    ASSERT_EQ(agreement_counted.paired_in_last(2'000), agreement_walked.paired_in_last(2'000));
    ASSERT_EQ(disagree_counted.paired_in_last(2'000), disagree_walked.paired_in_last(2'000));
  }
  // The evidence moved: a fold of nothing would agree trivially.
  std::vector<Figure> f(detectors::ExcessEvidence::kFigures);
  agreement_counted.evidence().put_figures(f, 0, true);
  EXPECT_GT(f[3].value, 1'000.0) << f[3].name;
}

// The folds remember each event's x by its counts (memo_canary_excess, memo_canary_share_excess;
// common/vote_memo.hpp): on events of many count patterns (up to nine peers, some inactive, the
// canary absent, inactive or twice), written by the host's real writer, their evidence is the
// evidence of the same tests fed every event's x computed directly, to the bit.
TEST(VoteCount, TheFoldsThroughTheMemoAreTheDirectExcessToTheBit) {
  const std::string& canary = kCanary;
  const auto events = test::vote_pattern_events(12'000, 23, canary, 9);
  CanaryCheck check;
  CanaryShareAttribution share;
  CanaryAttribution agreement(EnsembleFigure::kAgreement);
  CanaryAttribution disagree(EnsembleFigure::kHardDisagree);
  // The reference: the same evidence classes, fed x computed from each event's walk.
  std::array<detectors::ExcessEvidence, kVoteKinds> share_ref{
      detectors::ExcessEvidence(CanaryShareAttribution::kMinExcess),
      detectors::ExcessEvidence(CanaryShareAttribution::kMinExcess),
      detectors::ExcessEvidence(CanaryShareAttribution::kMinExcess)};
  detectors::ExcessEvidence agreement_ref(CanaryAttribution::kMinExcess);
  detectors::ExcessEvidence disagree_ref(CanaryAttribution::kMinExcess);
  std::set<std::uint64_t> patterns;
  constexpr std::size_t kPerCheck = 40;
  for (std::size_t at = 0; at < events.size(); at += kPerCheck) {
    const CheckInput read =
        check.write(std::span<const TradeIntent>(events).subspan(at, kPerCheck));
    share.fold(read);
    agreement.fold(read);
    disagree.fold(read);
    for (std::size_t k = at; k < at + kPerCheck; ++k) {
      const EventVotes v = detectors::walk_votes(events[k], canary);
      patterns.insert(detectors::ExcessMemo<detectors::CanaryExcess>::key(
          v.votes[0], v.votes[1], v.votes[2], v.canary_vote));
      if (v.canary_predicted) {
        std::array<double, kVoteKinds> x{};
        if (detectors::canary_share_excess_into(v, x)) {
          for (std::size_t a = 0; a < kVoteKinds; ++a) share_ref[a].add(x[a]);
        }
      }
      if (v.total() == 0) continue;
      double x = 0.0;
      if (detectors::canary_excess_into(EnsembleFigure::kAgreement, v, x)) agreement_ref.add(x);
      if (detectors::canary_excess_into(EnsembleFigure::kHardDisagree, v, x)) disagree_ref.add(x);
    }
    const std::string where = "after " + std::to_string(at + kPerCheck) + " events";
    for (Vote a : {Vote::kBuy, Vote::kSell, Vote::kHold}) {
      same_evidence(*share.evidence(read, a), share_ref[static_cast<std::size_t>(a)], true, where);
    }
    for (bool up : {true, false}) {
      same_evidence(agreement.evidence(), agreement_ref, up, where);
      same_evidence(disagree.evidence(), disagree_ref, up, where);
    }
  }
  // Many patterns: hits, misses and probes past collisions all took place.
  EXPECT_GT(patterns.size(), 150u);
  std::vector<Figure> f(detectors::ExcessEvidence::kFigures);
  agreement.evidence().put_figures(f, 0, true);
  EXPECT_GT(f[3].value, 8'000.0) << f[3].name;  // paired events: the evidence moved
}

}  // namespace
}  // namespace qsc::attribution_test
