// Robustness: thousands of random mutations of valid entries never crash or throw, every outcome
// is well formed, and ParseCounts adds up. Deterministic: a fixed seed, so a failure reproduces.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>

#include "qsc/parse.hpp"
#include "sdk_test_util.hpp"

namespace qsc {
namespace {

using ::testing::StartsWith;

// Fragments that steer mutations towards the parser's interesting paths.
constexpr std::string_view kFragments[] = {"NaN",
                                           "Infinity",
                                           "-Infinity",
                                           "[",
                                           "]",
                                           "{",
                                           "}",
                                           "\"",
                                           "\\",
                                           ",",
                                           ":",
                                           "null",
                                           "true",
                                           "1e400",
                                           "-0",
                                           "\xC0\xAF",
                                           "\xFF",
                                           "\xE2\x82",
                                           "\\u0000",
                                           "\\ud800",
                                           "STRONG_BUY",
                                           "fallback",
                                           "\"model_breakdown\":",
                                           "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
                                           "\x01qsc:NaN"};

// A JSON string literal holding `text` byte for byte (invalid UTF-8 included, unlike dump()).
std::string json_quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string mutate(std::string s, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> how_many(1, 4);
  const int n = how_many(rng);
  for (int k = 0; k < n; ++k) {
    const std::size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 5) {
      case 0:  // flip a byte to any value
        if (!s.empty()) s[std::min(pos, s.size() - 1)] = static_cast<char>(rng() & 0xFF);
        break;
      case 1:  // delete a run
        if (!s.empty() && pos < s.size()) s.erase(pos, 1 + rng() % 8);
        break;
      case 2:  // insert a random byte
        s.insert(pos, 1, static_cast<char>(rng() & 0xFF));
        break;
      case 3: {  // insert a fragment
        const auto& f = kFragments[rng() % std::size(kFragments)];
        s.insert(pos, f);
        break;
      }
      default:  // truncate
        s.resize(pos);
    }
  }
  return s;
}

void expect_well_formed(const ParseOutcome& outcome, const StreamEntry& entry) {
  if (const auto* r = std::get_if<Rejection>(&outcome)) {
    EXPECT_LT(static_cast<std::size_t>(r->reason), kRejectReasons);
    EXPECT_FALSE(r->field.empty());
    EXPECT_THAT(r->message, StartsWith("entry " + r->entry_id + ": field " + r->field + ": "));
  } else if (const auto* t = std::get_if<TradeIntent>(&outcome)) {
    EXPECT_FALSE(t->predictions.empty());
    for (const auto& p : t->predictions) {
      EXPECT_FALSE(p.model.empty());
      if (is_confidence_violation(p.confidence_status)) {
        EXPECT_TRUE(std::isnan(p.confidence));
      } else {
        EXPECT_GE(p.confidence, 0.0);
        EXPECT_LE(p.confidence, 1.0);
      }
    }
  } else {
    EXPECT_TRUE(std::holds_alternative<Skipped>(outcome));
    const auto* type = &entry.fields[0].second;
    EXPECT_NE(*type, "trade.intent");
  }
}

TEST(ParseFuzz, RandomMutationsNeverCrashOrThrowAndCountsAddUp) {
  std::mt19937_64 rng(0x5eed'c0de'2026ULL);
  const std::string valid_breakdown =
      R"({"xgb":{"action":"BUY","confidence":0.82,"model":"xgboost"},)"
      R"("lgbm":{"action":"SELL","confidence":NaN,"model":"lgbm_fallback","shadow":1}})";
  ParseLimits limits;
  limits.max_depth = 16;  // so that inserted brackets reach the limit
  ParseCounts counts;
  std::uint64_t seen_accepted = 0, seen_skipped = 0, seen_rejected = 0;
  constexpr int kIterations = 6000;
  for (int i = 0; i < kIterations; ++i) {
    StreamEntry entry;
    switch (i % 6) {
      case 0:
      case 1:
      case 2:  // the payload form
        entry = test::intent_entry(mutate(test::kDesignPayload, rng));
        break;
      case 3:  // the breakdown-field form
        entry = StreamEntry{
            test::kEntryId,
            {{"event_type", "trade.intent"}, {"model_breakdown", mutate(valid_breakdown, rng)}}};
        break;
      case 4:  // the double-encoded form
        entry = test::intent_entry(R"({"symbol":"BTCUSDT","model_breakdown":)" +
                                   json_quote(mutate(valid_breakdown, rng)) + "}");
        break;
      default:  // stream ID and event_type
        entry = StreamEntry{
            mutate(test::kEntryId, rng),
            {{"event_type", mutate("trade.intent", rng)}, {"payload", test::kDesignPayload}}};
    }
    ParseOutcome outcome = Skipped{};
    ASSERT_NO_THROW(outcome = parse_entry(entry, limits)) << "iteration " << i;
    expect_well_formed(outcome, entry);
    if (::testing::Test::HasFailure()) {
      FAIL() << "iteration " << i << " entry id \"" << entry.id << "\" field \""
             << entry.fields.back().second << "\"";
    }
    counts.add(outcome);
    seen_accepted += std::holds_alternative<TradeIntent>(outcome);
    seen_skipped += std::holds_alternative<Skipped>(outcome);
    seen_rejected += std::holds_alternative<Rejection>(outcome);
  }
  EXPECT_EQ(counts.accepted, seen_accepted);
  EXPECT_EQ(counts.skipped, seen_skipped);
  EXPECT_EQ(counts.rejected_total(), seen_rejected);
  EXPECT_EQ(counts.accepted + counts.skipped + counts.rejected_total(),
            static_cast<std::uint64_t>(kIterations));
  // The mutations reach every outcome and most rejection reasons, so the test exercises them.
  EXPECT_GT(counts.accepted, 100u);
  EXPECT_GT(counts.skipped, 100u);
  EXPECT_GT(counts.rejected_total(), 1000u);
  for (auto reason :
       {RejectReason::kBadStreamId, RejectReason::kMalformedJson, RejectReason::kWrongType,
        RejectReason::kTooDeep, RejectReason::kInvalidUtf8}) {
    EXPECT_GT(counts.rejected[static_cast<std::size_t>(reason)], 0u) << reject_reason_name(reason);
  }
  const double pct = counts.rejected_pct();
  EXPECT_DOUBLE_EQ(pct, 100.0 * static_cast<double>(seen_rejected) /
                            static_cast<double>(seen_accepted + seen_rejected));
}

}  // namespace
}  // namespace qsc
