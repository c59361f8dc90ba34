// The folds' memo of each event's excess by its vote counts (plugins/detectors/common/
// vote_memo.hpp, memo_canary_excess and memo_canary_share_excess in canary_attribution.hpp): a
// remembered x must be, to the bit, the one canary_excess_into or canary_share_excess_into
// computes from the same counts, whatever the order the patterns come in, however they collide
// in the memo's slots, and for counts too large to key; and the five folding detectors' evidence
// must be what a fold computing every x directly accumulates.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "../../plugins/detectors/common/canary_attribution.hpp"
#include "../../plugins/detectors/common/vote_memo.hpp"
#include "plugin_host/abi_write.hpp"

namespace qsc::attribution_test {
namespace {

using detectors::canary_excess_into;
using detectors::canary_share_excess_into;
using detectors::CanaryAttribution;
using detectors::CanaryExcess;
using detectors::CanaryShareAttribution;
using detectors::CanaryShareExcess;
using detectors::EnsembleFigure;
using detectors::EventVotes;
using detectors::ExcessMemo;

std::uint64_t bits(double x) {
  return std::bit_cast<std::uint64_t>(x);
}

EventVotes votes_of(std::size_t buy, std::size_t sell, std::size_t hold, std::size_t canary) {
  EventVotes v;
  v.votes = {buy, sell, hold};
  v.canary_vote = canary;
  v.canary_predicted = true;
  return v;
}

// Every pattern of up to 9 votes of each kind and every canary vote (none included), three
// times over in a shuffled order: 4,000 keys in 256 slots, so lookups probe past collisions, the
// table is emptied every 192 keys, and every key is met again after it was forgotten.
TEST(VoteMemo, RemembersTheComputedExcessOfEveryCountPattern) {
  std::vector<EventVotes> patterns;
  for (std::size_t b = 0; b < 10; ++b)
    for (std::size_t s = 0; s < 10; ++s)
      for (std::size_t h = 0; h < 10; ++h)
        for (std::size_t c = 0; c <= EventVotes::kNoVote; ++c)
          patterns.push_back(votes_of(b, s, h, c));
  // Counts too large to key: computed every time, the same way.
  const std::size_t big = std::size_t{1} << 20;
  patterns.push_back(votes_of(big, 3, 1, 0));
  patterns.push_back(votes_of(2, big + 7, 1, 1));
  patterns.push_back(votes_of(5, 0, big * 3, 2));
  std::mt19937_64 rng(11);
  ExcessMemo<CanaryExcess> agreement_memo;
  ExcessMemo<CanaryExcess> disagree_memo;
  ExcessMemo<CanaryShareExcess> share_memo;
  std::size_t paired = 0;
  for (int round = 0; round < 3; ++round) {
    std::shuffle(patterns.begin(), patterns.end(), rng);
    for (const EventVotes& v : patterns) {
      const std::string where = std::to_string(v.votes[0]) + "/" + std::to_string(v.votes[1]) +
                                "/" + std::to_string(v.votes[2]) + " canary " +
                                std::to_string(v.canary_vote) + ", round " + std::to_string(round);
      for (auto [figure, memo] : {std::pair{EnsembleFigure::kAgreement, &agreement_memo},
                                  std::pair{EnsembleFigure::kHardDisagree, &disagree_memo}}) {
        double want = 0.0;
        const bool want_paired = canary_excess_into(figure, v, want);
        CanaryExcess scratch;
        const CanaryExcess& got = detectors::memo_canary_excess(figure, v, *memo, scratch);
        ASSERT_EQ(got.paired, want_paired) << where;
        if (want_paired) {
          ASSERT_EQ(bits(got.x), bits(want)) << where;
        }
        paired += want_paired ? 1 : 0;
      }
      std::array<double, kVoteKinds> want{};
      const bool want_paired = canary_share_excess_into(v, want);
      CanaryShareExcess scratch;
      const CanaryShareExcess& got = detectors::memo_canary_share_excess(v, share_memo, scratch);
      ASSERT_EQ(got.paired, want_paired) << where;
      if (!want_paired) continue;
      for (std::size_t k = 0; k < kVoteKinds; ++k)
        ASSERT_EQ(bits(got.x[k]), bits(want[k])) << where;
    }
  }
  EXPECT_GT(paired, patterns.size());  // the comparison was of figures, not of "unpaired"
}

// The key keeps every count and the vote apart (two patterns never share one), and refuses what
// it cannot pack rather than fold it onto another pattern.
TEST(VoteMemo, KeysEveryCountAndTheVoteApart) {
  using Memo = ExcessMemo<CanaryExcess>;
  std::set<std::uint64_t> keys;
  std::size_t made = 0;
  for (std::size_t b : {0u, 1u, 2u, 1000u, (1u << 20) - 1})
    for (std::size_t s : {0u, 1u, 3u, (1u << 20) - 1})
      for (std::size_t h : {0u, 1u, 5u, (1u << 20) - 1})
        for (std::size_t c = 0; c <= 3; ++c) {
          const std::uint64_t k = Memo::key(b, s, h, c);
          ASSERT_NE(k, Memo::kUnkeyed);
          keys.insert(k);
          ++made;
        }
  EXPECT_EQ(keys.size(), made);
  EXPECT_EQ(Memo::key(std::size_t{1} << 20, 0, 0, 0), Memo::kUnkeyed);
  EXPECT_EQ(Memo::key(0, std::size_t{1} << 20, 0, 0), Memo::kUnkeyed);
  EXPECT_EQ(Memo::key(0, 0, std::size_t{1} << 40, 0), Memo::kUnkeyed);
  EXPECT_EQ(Memo::key(0, 0, 0, 4), Memo::kUnkeyed);
}

// Events of many count patterns (up to nine peers, some inactive, the canary absent, inactive or
// twice), written by the host's real writer: the folds' evidence, through the memo, is the
// evidence of the same tests fed every event's x computed directly, to the bit.
TEST(VoteMemo, TheFoldsAreTheDirectExcessToTheBit) {
  const std::string canary = "patchtst";
  std::mt19937_64 rng(23);
  std::vector<TradeIntent> events(12'000);
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto& e = events[i];
    e.time_ms = 1'768'000'000'000ULL + i;
    e.seq = i;
    const auto add = [&](const std::string& model) {
      Prediction p;
      p.model = model;
      // Skewed votes: patterns repeat (hits) and rare ones keep arriving (misses, collisions).
      const auto r = rng() % 10;
      p.action = r < 5 ? Vote::kHold : (r < 8 ? Vote::kBuy : Vote::kSell);
      p.confidence = p.raw_confidence = 0.5;
      p.inactive = rng() % 6 == 0 ? InactiveReason::kShadow : InactiveReason::kNone;
      e.predictions.push_back(p);
    };
    const auto canaries = rng() % 8;  // 0: absent; 1: twice; else once
    if (canaries == 1) add(canary);
    const auto peers = 1 + rng() % 9;
    for (std::size_t j = 0; j < peers; ++j) add("peer" + std::to_string(j));
    if (canaries != 0) add(canary);
  }
  CheckInput input;
  input.canary_model = canary;
  ModelStats canary_stats;
  canary_stats.model = canary;
  input.canary = &canary_stats;
  agent::AbiCheckInput c_input;
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
  const auto same = [](const detectors::ExcessEvidence& got, const detectors::ExcessEvidence& want,
                       bool up, const std::string& where) {
    std::vector<Figure> fg(detectors::ExcessEvidence::kFigures);
    std::vector<Figure> fw(detectors::ExcessEvidence::kFigures);
    got.put_figures(fg, 0, up);
    want.put_figures(fw, 0, up);
    for (std::size_t i = 0; i < fg.size(); ++i) {
      ASSERT_EQ(bits(fg[i].value), bits(fw[i].value)) << fg[i].name << ", " << where;
    }
  };
  std::set<std::uint64_t> patterns;
  constexpr std::size_t kPerCheck = 40;
  for (std::size_t at = 0; at < events.size(); at += kPerCheck) {
    input.new_events = std::span<const TradeIntent>(events).subspan(at, kPerCheck);
    const qsc_check_input& c = *c_input.write(input);
    CheckInput read = input;
    read.canary_model = std::string_view(c.canary_model.data, c.canary_model.length);
    read.new_event_views = EventViews(c.new_events, c.new_event_count);
    share.fold(read);
    agreement.fold(read);
    disagree.fold(read);
    for (std::size_t k = at; k < at + kPerCheck; ++k) {
      const EventVotes v = detectors::walk_votes(events[k], canary);
      patterns.insert(
          ExcessMemo<CanaryExcess>::key(v.votes[0], v.votes[1], v.votes[2], v.canary_vote));
      if (v.canary_predicted) {
        std::array<double, kVoteKinds> x{};
        if (canary_share_excess_into(v, x)) {
          for (std::size_t a = 0; a < kVoteKinds; ++a) share_ref[a].add(x[a]);
        }
      }
      if (v.total() == 0) continue;
      double x = 0.0;
      if (canary_excess_into(EnsembleFigure::kAgreement, v, x)) agreement_ref.add(x);
      if (canary_excess_into(EnsembleFigure::kHardDisagree, v, x)) disagree_ref.add(x);
    }
    const std::string where = "after " + std::to_string(at + kPerCheck) + " events";
    for (Vote a : {Vote::kBuy, Vote::kSell, Vote::kHold}) {
      same(*share.evidence(read, a), share_ref[static_cast<std::size_t>(a)], true, where);
    }
    for (bool up : {true, false}) {
      same(agreement.evidence(), agreement_ref, up, where);
      same(disagree.evidence(), disagree_ref, up, where);
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
