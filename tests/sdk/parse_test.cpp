// Parsing a stream entry exactly as docs/design.md's telemetry contract says.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "qsc/checks.hpp"
#include "qsc/parse.hpp"
#include "qsc/stats.hpp"
#include "sdk_test_util.hpp"

namespace qsc {
namespace {

using test::accepted;
using test::intent_entry;
using test::kDesignPayload;
using test::kEntryId;
using test::one_model_payload;
using test::prediction;
using test::rejected;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// --- the two payload forms -------------------------------------------------------------------

TEST(ParsePayload, DesignExamplePayloadWithBreakdown) {
  const auto outcome = parse_entry(intent_entry(kDesignPayload));
  const auto* intent = accepted(outcome);
  ASSERT_NE(intent, nullptr);
  EXPECT_EQ(intent->symbol, "BTCUSDT");
  ASSERT_TRUE(intent->side.has_value());
  EXPECT_EQ(*intent->side, Vote::kBuy);
  EXPECT_DOUBLE_EQ(intent->confidence, 0.71);
  ASSERT_EQ(intent->predictions.size(), 2u);
  const auto* xgb = prediction(*intent, "xgb");
  ASSERT_NE(xgb, nullptr);
  EXPECT_EQ(xgb->action, Vote::kBuy);
  EXPECT_DOUBLE_EQ(xgb->confidence, 0.82);
  EXPECT_EQ(xgb->model_string, "xgboost");
  EXPECT_EQ(xgb->confidence_status, ConfidenceStatus::kOk);
  EXPECT_FALSE(xgb->is_inactive());
  const auto* patchtst = prediction(*intent, "patchtst");
  ASSERT_NE(patchtst, nullptr);
  EXPECT_EQ(patchtst->action, Vote::kHold);
  EXPECT_DOUBLE_EQ(patchtst->confidence, 0.61);
  EXPECT_FALSE(patchtst->is_inactive());
}

TEST(ParsePayload, BreakdownAsItsOwnFieldHoldingAJsonString) {
  // Older producers: the payload carries the envelope, model_breakdown is a field of its own.
  StreamEntry entry{
      kEntryId,
      {{"event_type", "trade.intent"},
       {"payload", R"({"symbol":"ETHUSDT","side":"SELL","confidence":0.64})"},
       {"model_breakdown", R"({"lgbm":{"action":"SELL","confidence":0.66,"model":"lightgbm"},)"
                           R"("nhits":{"action":"HOLD","confidence":0.52}})"}}};
  const auto outcome = parse_entry(entry);
  const auto* intent = accepted(outcome);
  ASSERT_NE(intent, nullptr);
  EXPECT_EQ(intent->symbol, "ETHUSDT");
  EXPECT_EQ(intent->side, Vote::kSell);
  ASSERT_EQ(intent->predictions.size(), 2u);
  ASSERT_NE(prediction(*intent, "lgbm"), nullptr);
  EXPECT_EQ(prediction(*intent, "lgbm")->action, Vote::kSell);
  EXPECT_DOUBLE_EQ(prediction(*intent, "nhits")->confidence, 0.52);
}

TEST(ParsePayload, BreakdownFieldWithoutAnyPayload) {
  StreamEntry entry{kEntryId,
                    {{"event_type", "trade.intent"},
                     {"model_breakdown", R"({"xgb":{"action":"BUY","confidence":0.9}})"}}};
  const auto outcome = parse_entry(entry);
  const auto* intent = accepted(outcome);
  ASSERT_NE(intent, nullptr);
  EXPECT_TRUE(intent->symbol.empty());
  EXPECT_FALSE(intent->side.has_value());
  EXPECT_TRUE(std::isnan(intent->confidence));
  ASSERT_EQ(intent->predictions.size(), 1u);
  EXPECT_EQ(intent->predictions[0].model, "xgb");
}

TEST(ParsePayload, DoubleEncodedBreakdownInsideThePayload) {
  nlohmann::json breakdown = {{"xgb", {{"action", "BUY"}, {"confidence", 0.8}}},
                              {"tft", {{"action", "SELL"}, {"confidence", 0.4}}}};
  nlohmann::json payload = {{"symbol", "BTCUSDT"}, {"model_breakdown", breakdown.dump()}};
  const auto outcome = parse_entry(intent_entry(payload.dump()));
  const auto* intent = accepted(outcome);
  ASSERT_NE(intent, nullptr);
  ASSERT_EQ(intent->predictions.size(), 2u);
  EXPECT_EQ(prediction(*intent, "tft")->action, Vote::kSell);
  EXPECT_DOUBLE_EQ(prediction(*intent, "xgb")->confidence, 0.8);
}

TEST(ParsePayload, DoubleEncodedBreakdownThatIsNotJsonIsRejectedNamingTheField) {
  const auto outcome =
      parse_entry(intent_entry(R"({"symbol":"BTCUSDT","model_breakdown":"{not json"})"));
  const auto* r = rejected(outcome);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->reason, RejectReason::kMalformedJson);
  EXPECT_EQ(r->field, "payload.model_breakdown");
  EXPECT_THAT(r->message, StartsWith(std::string("entry ") + kEntryId +
                                     ": field payload.model_breakdown: malformed JSON: "));
}

// --- event_type filter and stream IDs ----------------------------------------------------------

// --- actions -----------------------------------------------------------------------------

// An action is one of the three words in any mix of ASCII case (as std::toupper folds them in
// the "C" locale); nothing else is one, whatever a locale would make of its bytes.
TEST(ParseVote, EveryCaseMixOfTheThreeWordsAndNothingElse) {
  const std::pair<const char*, Vote> words[] = {
      {"buy", Vote::kBuy}, {"sell", Vote::kSell}, {"hold", Vote::kHold}};
  for (const auto& [word, vote] : words) {
    const std::string lower = word;
    for (unsigned mask = 0; mask < (1u << lower.size()); ++mask) {
      std::string mixed = lower;
      for (std::size_t i = 0; i < mixed.size(); ++i) {
        if (mask & (1u << i)) mixed[i] = static_cast<char>(mixed[i] - ('a' - 'A'));
      }
      EXPECT_EQ(parse_vote(mixed), vote) << mixed;
    }
  }
  for (const char* other :
       {"", "B", "BUYS", " BUY", "HOLD ", "HOL", "SEL", "H0LD", "B\xc3\x9cY", "\xe9UY", "NONE"}) {
    EXPECT_EQ(parse_vote(other), std::nullopt) << other;
  }
  EXPECT_EQ(parse_vote(std::string_view("BUY\0", 4)), std::nullopt);
}

// Session 12: parse_vote folds case a word at a time (a byte ORed with 0x20). Held to the
// byte-at-a-time folding it replaced (ASCII a-z to A-Z, then compared) over every three-byte text
// and every four-byte text one byte away from a case mix of SELL or HOLD.
TEST(ParseVote, TheWordAtATimeFoldingReadsEveryTextAsTheByteAtATimeOne) {
  const auto reference = [](std::string_view text) -> std::optional<Vote> {
    const auto is = [text](std::string_view upper) {
      if (text.size() != upper.size()) return false;
      for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if ((c >= 'a' && c <= 'z' ? static_cast<char>(c - ('a' - 'A')) : c) != upper[i]) {
          return false;
        }
      }
      return true;
    };
    if (is("BUY")) return Vote::kBuy;
    if (is("SELL")) return Vote::kSell;
    if (is("HOLD")) return Vote::kHold;
    return std::nullopt;
  };
  std::string text(3, '\0');
  std::size_t differences = 0;
  for (unsigned v = 0; v < (1u << 24); ++v) {
    for (std::size_t i = 0; i < 3; ++i) text[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    if (parse_vote(text) != reference(text)) ++differences;
  }
  EXPECT_EQ(differences, 0u);
  for (const std::string word : {"sell", "hold", "SeLl", "hOLd"}) {
    for (std::size_t i = 0; i < 4; ++i) {
      for (unsigned b = 0; b < 256; ++b) {
        std::string near = word;
        near[i] = static_cast<char>(b);
        EXPECT_EQ(parse_vote(near), reference(near)) << near;
      }
    }
  }
}

TEST(ParseEventType, OtherTypesAreSkippedAndCountedApart) {
  ParseCounts counts;
  StreamEntry other{kEntryId, {{"event_type", "trade.closed"}, {"payload", kDesignPayload}}};
  const auto outcome = parse_entry(other);
  const auto* skipped = std::get_if<Skipped>(&outcome);
  ASSERT_NE(skipped, nullptr);
  EXPECT_EQ(skipped->event_type, "trade.closed");
  counts.add(outcome);
  counts.add(parse_entry(intent_entry(kDesignPayload)));
  EXPECT_EQ(counts.skipped, 1u);
  EXPECT_EQ(counts.accepted, 1u);
  EXPECT_EQ(counts.rejected_total(), 0u);
  // Skipped entries are not telemetry: they do not dilute nor raise the rejected share.
  EXPECT_DOUBLE_EQ(counts.rejected_pct(), 0.0);
}

TEST(ParseEventType, SkippedTypeIsShortAndValidUtf8EvenWhenCutInsideACharacter) {
  // 63 ASCII bytes then a two-byte character: a cut at 64 bytes would split it.
  const std::string type = std::string(63, 'x') + "\xC3\xA9" + std::string(100, 'y');
  StreamEntry other{kEntryId, {{"event_type", type}, {"payload", kDesignPayload}}};
  const auto outcome = parse_entry(other);
  const auto* skipped = std::get_if<Skipped>(&outcome);
  ASSERT_NE(skipped, nullptr);
  EXPECT_LE(skipped->event_type.size(), 64u);
  EXPECT_THAT(type, StartsWith(skipped->event_type));
  // Reports serialise it: nlohmann refuses to dump invalid UTF-8.
  EXPECT_NO_THROW((void)nlohmann::json(skipped->event_type).dump());
}

TEST(ParseStreamId, MillisecondsAndSequenceBecomeTheEventTime) {
  const auto outcome = parse_entry(intent_entry(kDesignPayload, "1768023795123-42"));
  const auto* intent = accepted(outcome);
  ASSERT_NE(intent, nullptr);
  EXPECT_EQ(intent->time_ms, 1768023795123u);
  EXPECT_EQ(intent->seq, 42u);

  std::uint64_t ms = 1;
  std::uint64_t seq = 1;
  EXPECT_TRUE(parse_stream_id("1768023795123", ms, seq));
  EXPECT_EQ(ms, 1768023795123u);
  EXPECT_EQ(seq, 0u);
  EXPECT_TRUE(parse_stream_id("0-0", ms, seq));
  EXPECT_TRUE(parse_stream_id("18446744073709551615-18446744073709551615", ms, seq));
  EXPECT_EQ(ms, 18446744073709551615u);
  // Leading zeros are digits, as std::from_chars reads them.
  EXPECT_TRUE(parse_stream_id("007-010", ms, seq));
  EXPECT_EQ(ms, 7u);
  EXPECT_EQ(seq, 10u);
  for (const char* bad : {"", "-", "-1", "12-", "abc", "12-x", "1.5-0", "+1-0", " 1-0", "1-0 ",
                          "1-2-3", "18446744073709551616-0", "0x10-0", "1-18446744073709551616",
                          "99999999999999999999-0", "1--0", "1-+0", "1-0x", "\xd9\xa1-0"}) {
    EXPECT_FALSE(parse_stream_id(bad, ms, seq)) << "accepted \"" << bad << "\"";
  }
}

// --- confidence normalisation and violations ---------------------------------------------------

const Prediction* only_prediction(const ParseOutcome& outcome) {
  const auto* intent = accepted(outcome);
  if (!intent) return nullptr;
  EXPECT_EQ(intent->predictions.size(), 1u);
  return intent->predictions.empty() ? nullptr : &intent->predictions[0];
}

TEST(ParseConfidence, LogitAboveOneIsMappedThroughTheSigmoidAndCounted) {
  const auto outcome = parse_entry(
      intent_entry(one_model_payload(R"({"action":"BUY","confidence":2.0,"model":"xgboost"})")));
  const auto* p = only_prediction(outcome);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->confidence_status, ConfidenceStatus::kNormalized);
  EXPECT_DOUBLE_EQ(p->raw_confidence, 2.0);
  EXPECT_NEAR(p->confidence, 0.8807970779778823, 1e-15);
  const Sample samples[] = {to_sample(*p), to_sample(*p)};
  const auto stats = compute_model_stats("xgb", samples);
  EXPECT_EQ(stats.normalized, 2u);
  EXPECT_EQ(stats.confidence_violations, 0u);
  EXPECT_EQ(stats.confidence_samples, 2u);
}

TEST(ParseConfidence, ExactlyOneAndZeroAreOkAsSent) {
  for (double value : {1.0, 0.0}) {
    nlohmann::json pred = {{"action", "HOLD"}, {"confidence", value}};
    const auto outcome = parse_entry(intent_entry(one_model_payload(pred.dump())));
    const auto* p = only_prediction(outcome);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->confidence_status, ConfidenceStatus::kOk) << value;
    EXPECT_EQ(p->confidence, value);
  }
  // Integers are numbers too.
  const auto outcome =
      parse_entry(intent_entry(one_model_payload(R"({"action":"HOLD","confidence":1})")));
  const auto* p = only_prediction(outcome);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->confidence_status, ConfidenceStatus::kOk);
  EXPECT_EQ(p->confidence, 1.0);
}

struct ViolationCase {
  const char* sent;  // the confidence's JSON text, as a Python engine's json.dumps writes it
  ConfidenceStatus status;
  const char* name;
};

class ParseConfidenceViolation : public ::testing::TestWithParam<ViolationCase> {};

TEST_P(ParseConfidenceViolation, IsKeptOnThePredictionAndReportedByTheGate) {
  const auto& c = GetParam();
  const auto outcome = parse_entry(intent_entry(
      one_model_payload(std::string(R"({"action":"SELL","confidence":)") + c.sent + "}")));
  const auto* p = only_prediction(outcome);
  ASSERT_NE(p, nullptr) << c.sent;
  EXPECT_EQ(p->confidence_status, c.status) << c.sent;
  EXPECT_TRUE(is_confidence_violation(p->confidence_status));
  EXPECT_TRUE(std::isnan(p->confidence)) << "a violation must not pass as a usable confidence";
  EXPECT_EQ(p->action, Vote::kSell);

  const Sample samples[] = {to_sample(*p)};
  const auto stats = compute_model_stats("xgb", samples);
  EXPECT_EQ(stats.confidence_violations, 1u);
  EXPECT_EQ(stats.confidence_samples, 0u);
  const auto check = check_confidence(stats);
  EXPECT_EQ(check.verdict, Verdict::kViolation);
  EXPECT_EQ(check.message, std::string("Confidence violations: 1 (") + c.name + "=1)");
  EXPECT_FALSE(gate_model(stats, GateThresholds{}).pass);
}

INSTANTIATE_TEST_SUITE_P(
    AllKinds, ParseConfidenceViolation,
    ::testing::Values(ViolationCase{"-0.2", ConfidenceStatus::kNegative, "negative"},
                      ViolationCase{"NaN", ConfidenceStatus::kNaN, "nan"},
                      ViolationCase{"Infinity", ConfidenceStatus::kInfinite, "infinite"},
                      ViolationCase{"-Infinity", ConfidenceStatus::kInfinite, "infinite"},
                      ViolationCase{"\"high\"", ConfidenceStatus::kNotNumber, "not_a_number"},
                      ViolationCase{"\"NaN\"", ConfidenceStatus::kNotNumber, "not_a_number"},
                      ViolationCase{"null", ConfidenceStatus::kNotNumber, "not_a_number"},
                      ViolationCase{"true", ConfidenceStatus::kNotNumber, "not_a_number"},
                      ViolationCase{"[0.5]", ConfidenceStatus::kNotNumber, "not_a_number"}),
    [](const auto& info) { return std::to_string(info.index) + "_" + info.param.name; });

TEST(ParseConfidence, PythonTokensInsideStringsStayStrings) {
  // json.dumps of {"symbol": "NaN", "model": "NaN Infinity -Infinity \"NaN\""}: the tokens are
  // text, not numbers, and the quotes escaped inside the string do not end it.
  const auto outcome = parse_entry(
      intent_entry(R"({"symbol":"NaN","side":"HOLD","model_breakdown":{"xgb":{"action":"HOLD",)"
                   R"("confidence":0.5,"model":"NaN Infinity -Infinity \"NaN\""}}})"));
  const auto* intent = accepted(outcome);
  ASSERT_NE(intent, nullptr);
  EXPECT_EQ(intent->symbol, "NaN");
  ASSERT_EQ(intent->predictions.size(), 1u);
  EXPECT_EQ(intent->predictions[0].model_string, R"(NaN Infinity -Infinity "NaN")");
  EXPECT_EQ(intent->predictions[0].confidence_status, ConfidenceStatus::kOk);
}

TEST(ParseConfidence, EnsembleConfidenceNaNTokenIsReadAsNaN) {
  const auto outcome = parse_entry(intent_entry(
      R"({"symbol":"BTCUSDT","confidence":NaN,"model_breakdown":{"xgb":{"action":"BUY","confidence":0.6}}})"));
  const auto* intent = accepted(outcome);
  ASSERT_NE(intent, nullptr);
  EXPECT_TRUE(std::isnan(intent->confidence));
}

TEST(ParseConfidence, PythonTokenWhereTextBelongsIsAWrongTypeNotAString) {
  // A number (NaN) sent as the action must be named a number, not echoed as an internal marker.
  const auto outcome =
      parse_entry(intent_entry(one_model_payload(R"({"action":NaN,"confidence":0.5})")));
  const auto* r = rejected(outcome);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->reason, RejectReason::kWrongType);
  EXPECT_EQ(r->message, std::string("entry ") + kEntryId +
                            ": field model_breakdown.xgb.action: expected a string, got number");
  const auto symbol = parse_entry(intent_entry(
      R"({"symbol":Infinity,"model_breakdown":{"xgb":{"action":"BUY","confidence":0.6}}})"));
  const auto* rs = rejected(symbol);
  ASSERT_NE(rs, nullptr);
  EXPECT_EQ(rs->message, std::string("entry ") + kEntryId +
                             ": field payload.symbol: expected a string, got number");
}

// --- inactive models --------------------------------------------------------------------------

TEST(ParseInactive, ShadowInactiveFallbackAndNumericFlags) {
  const auto outcome = parse_entry(intent_entry(
      R"({"symbol":"BTCUSDT","model_breakdown":{)"
      R"("a":{"action":"BUY","confidence":0.6,"shadow":true},)"
      R"("b":{"action":"SELL","confidence":0.6,"inactive":true},)"
      R"("c":{"action":"SELL","confidence":0.6,"model":"xgb_fallback"},)"
      R"("d":{"action":"SELL","confidence":0.6,"shadow":1},)"
      R"("e":{"action":"HOLD","confidence":0.6,"shadow":false,"inactive":0,"model":"xgboost"},)"
      R"("f":{"action":"BUY","confidence":0.6,"shadow":null}}})"));
  const auto* intent = accepted(outcome);
  ASSERT_NE(intent, nullptr);
  ASSERT_EQ(intent->predictions.size(), 6u);
  EXPECT_EQ(prediction(*intent, "a")->inactive, InactiveReason::kShadow);
  EXPECT_EQ(prediction(*intent, "b")->inactive, InactiveReason::kInactive);
  EXPECT_EQ(prediction(*intent, "c")->inactive, InactiveReason::kFallback);
  EXPECT_EQ(prediction(*intent, "d")->inactive, InactiveReason::kShadow);
  EXPECT_EQ(prediction(*intent, "e")->inactive, InactiveReason::kNone);
  EXPECT_EQ(prediction(*intent, "f")->inactive, InactiveReason::kNone);
  EXPECT_EQ(inactive_reason_name(prediction(*intent, "c")->inactive), "fallback");
  // Only e (HOLD) and f (BUY) vote.
  const auto votes = event_votes(*intent);
  EXPECT_EQ(votes.total(), 2u);
  EXPECT_EQ(votes.counts[static_cast<std::size_t>(Vote::kBuy)], 1u);
  EXPECT_EQ(votes.counts[static_cast<std::size_t>(Vote::kSell)], 0u);
  EXPECT_EQ(votes.counts[static_cast<std::size_t>(Vote::kHold)], 1u);
}

TEST(ParseInactive, FlagOfTheWrongTypeIsRejected) {
  const auto outcome = parse_entry(
      intent_entry(one_model_payload(R"({"action":"BUY","confidence":0.6,"shadow":"yes"})")));
  const auto* r = rejected(outcome);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->reason, RejectReason::kWrongType);
  EXPECT_EQ(r->message, std::string("entry ") + kEntryId +
                            ": field model_breakdown.xgb.shadow: expected a boolean, got string");
}

// --- ParseCounts --------------------------------------------------------------------------------

TEST(ParseCountsTest, RejectedShareIsOverAcceptedPlusRejected) {
  ParseCounts counts;
  EXPECT_DOUBLE_EQ(counts.rejected_pct(), 0.0);
  for (int i = 0; i < 99; ++i) counts.add(parse_entry(intent_entry(kDesignPayload)));
  counts.add(parse_entry(intent_entry("{")));
  for (int i = 0; i < 50; ++i) {
    counts.add(parse_entry(StreamEntry{kEntryId, {{"event_type", "heartbeat"}}}));
  }
  EXPECT_EQ(counts.accepted, 99u);
  EXPECT_EQ(counts.skipped, 50u);
  EXPECT_EQ(counts.rejected_total(), 1u);
  EXPECT_EQ(counts.rejected[static_cast<std::size_t>(RejectReason::kMalformedJson)], 1u);
  EXPECT_DOUBLE_EQ(counts.rejected_pct(), 1.0);
}

TEST(ParseCountsTest, ReasonNamesAreDistinct) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kRejectReasons; ++i) {
    const auto name = reject_reason_name(static_cast<RejectReason>(i));
    EXPECT_NE(name, "?");
    names.insert(name);
  }
  EXPECT_EQ(names.size(), kRejectReasons);
}

}  // namespace
}  // namespace qsc
