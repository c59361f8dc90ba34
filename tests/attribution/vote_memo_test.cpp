// The folds' memo of each event's excess by its vote counts (plugins/detectors/common/
// vote_memo.hpp, memo_canary_excess and memo_canary_share_excess in canary_attribution.hpp): a
// remembered x must be, to the bit, the one canary_excess_into or canary_share_excess_into
// computes from the same counts, whatever the order the patterns come in, however they collide
// in the memo's slots, and for counts too large to key. (The folds through the memo:
// VoteCount.TheFoldsThroughTheMemoAreTheDirectExcessToTheBit, vote_count_test.cpp.)
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

namespace qsc::attribution_test {
namespace {

using detectors::canary_excess_into;
using detectors::canary_share_excess_into;
using detectors::CanaryExcess;
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

}  // namespace
}  // namespace qsc::attribution_test
