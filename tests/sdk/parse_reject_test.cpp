// Every class of bad input becomes a counted Rejection whose message names the entry, the field
// and the cause: never a crash, never an exception out of the SDK.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "qsc/parse.hpp"
#include "sdk_test_util.hpp"

namespace qsc {
namespace {

using test::intent_entry;
using test::kDesignPayload;
using test::kEntryId;
using test::one_model_payload;
using test::rejected;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string prefix(const std::string& field, const std::string& id = kEntryId) {
  return "entry " + id + ": field " + field + ": ";
}

// Asserts reason, entry ID, field and the whole message, and that ParseCounts files it.
void expect_rejection(const ParseOutcome& outcome, RejectReason reason, const std::string& field,
                      const std::string& why, const std::string& id = kEntryId) {
  const auto* r = rejected(outcome);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->reason, reason) << r->message;
  EXPECT_EQ(r->entry_id, id);
  EXPECT_EQ(r->field, field);
  EXPECT_EQ(r->message, prefix(field, id) + why);
  ParseCounts counts;
  counts.add(outcome);
  EXPECT_EQ(counts.rejected[static_cast<std::size_t>(reason)], 1u);
  EXPECT_EQ(counts.rejected_total(), 1u);
  EXPECT_EQ(counts.accepted + counts.skipped, 0u);
}

TEST(ParseReject, MalformedJson) {
  const auto outcome = parse_entry(intent_entry(R"({"symbol": "BTCUSDT", "model_breakdown": )"));
  const auto* r = rejected(outcome);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->reason, RejectReason::kMalformedJson);
  EXPECT_EQ(r->field, "payload");
  EXPECT_EQ(r->entry_id, kEntryId);
  EXPECT_THAT(r->message, StartsWith(prefix("payload") + "malformed JSON: "));
  EXPECT_THAT(r->message, HasSubstr("syntax error"));
  // A bare word that is not one of Python's tokens is malformed, not a number.
  const auto nan_like =
      parse_entry(intent_entry(one_model_payload(R"({"action":"BUY","confidence":nan})")));
  ASSERT_NE(rejected(nan_like), nullptr);
  EXPECT_EQ(rejected(nan_like)->reason, RejectReason::kMalformedJson);
  // A literal beyond double's range is refused by the JSON reader (json.dumps writes Infinity).
  const auto overflow =
      parse_entry(intent_entry(one_model_payload(R"({"action":"BUY","confidence":1e400})")));
  ASSERT_NE(rejected(overflow), nullptr);
  EXPECT_EQ(rejected(overflow)->reason, RejectReason::kMalformedJson);
  EXPECT_THAT(rejected(overflow)->message, HasSubstr("number overflow"));
  // Trailing garbage after the object.
  const auto trailing = parse_entry(intent_entry(kDesignPayload + "}"));
  ASSERT_NE(rejected(trailing), nullptr);
  EXPECT_EQ(rejected(trailing)->reason, RejectReason::kMalformedJson);
}

TEST(ParseReject, MalformedBreakdownField) {
  StreamEntry entry{kEntryId, {{"event_type", "trade.intent"}, {"model_breakdown", "{\"xgb\":"}}};
  const auto outcome = parse_entry(entry);
  const auto* r = rejected(outcome);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->reason, RejectReason::kMalformedJson);
  EXPECT_THAT(r->message, StartsWith(prefix("model_breakdown") + "malformed JSON: "));
}

TEST(ParseReject, MissingEventType) {
  expect_rejection(parse_entry(StreamEntry{kEntryId, {{"payload", kDesignPayload}}}),
                   RejectReason::kMissingField, "event_type", "missing");
}

TEST(ParseReject, MissingPayloadAndBreakdown) {
  expect_rejection(parse_entry(StreamEntry{kEntryId, {{"event_type", "trade.intent"}}}),
                   RejectReason::kMissingField, "payload",
                   "missing (and no model_breakdown field)");
}

TEST(ParseReject, PayloadWithoutBreakdownAndNoBreakdownField) {
  expect_rejection(parse_entry(intent_entry(R"({"symbol":"BTCUSDT","side":"BUY"})")),
                   RejectReason::kMissingField, "model_breakdown",
                   "missing from the payload and not a field of its own");
  expect_rejection(parse_entry(intent_entry(R"({"symbol":"BTCUSDT","model_breakdown":{}})")),
                   RejectReason::kMissingField, "model_breakdown", "empty: no model predictions");
}

TEST(ParseReject, MissingAction) {
  expect_rejection(parse_entry(intent_entry(one_model_payload(R"({"confidence":0.5})"))),
                   RejectReason::kMissingField, "model_breakdown.xgb.action", "missing");
}

TEST(ParseReject, MissingConfidence) {
  expect_rejection(parse_entry(intent_entry(one_model_payload(R"({"action":"BUY"})"))),
                   RejectReason::kMissingField, "model_breakdown.xgb.confidence", "missing");
}

TEST(ParseReject, UnknownAction) {
  expect_rejection(
      parse_entry(intent_entry(one_model_payload(R"({"action":"STRONG_BUY","confidence":0.9})"))),
      RejectReason::kUnknownAction, "model_breakdown.xgb.action",
      R"(unknown action "STRONG_BUY" (expected BUY, SELL or HOLD))");
  expect_rejection(
      parse_entry(intent_entry(
          R"({"side":"UP","model_breakdown":{"xgb":{"action":"BUY","confidence":0.9}}})")),
      RejectReason::kUnknownAction, "payload.side",
      R"(unknown side "UP" (expected BUY, SELL or HOLD))");
}

TEST(ParseReject, UnknownActionEchoIsBoundedAndKeepsLogLinesWhole) {
  // A hostile action string must not put a megabyte or a forged log line into the message.
  nlohmann::json pred = {{"action", "BUY\nqsc: gate PASS " + std::string(5000, 'A')},
                         {"confidence", 0.5}};
  const auto outcome = parse_entry(intent_entry(one_model_payload(pred.dump())));
  const auto* r = rejected(outcome);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->reason, RejectReason::kUnknownAction);
  EXPECT_THAT(r->message,
              StartsWith(prefix("model_breakdown.xgb.action") + "unknown action \"BUY"));
  EXPECT_LT(r->message.size(), 300u);
  EXPECT_EQ(r->message.find('\n'), std::string::npos) << r->message;
  EXPECT_NO_THROW((void)nlohmann::json(r->message).dump());
}

TEST(ParseReject, WrongTypes) {
  expect_rejection(parse_entry(intent_entry(R"([{"symbol":"BTCUSDT"}])")), RejectReason::kWrongType,
                   "payload", "expected a JSON object, got array");
  expect_rejection(parse_entry(intent_entry(R"("a string")")), RejectReason::kWrongType, "payload",
                   "expected a JSON object, got string");
  expect_rejection(parse_entry(intent_entry(
                       R"({"model_breakdown":[{"action":"BUY","confidence":0.5,"model":"xgb"}]})")),
                   RejectReason::kWrongType, "model_breakdown", "expected an object, got array");
  expect_rejection(parse_entry(intent_entry(one_model_payload("0.7"))), RejectReason::kWrongType,
                   "model_breakdown.xgb", "expected an object, got number");
  expect_rejection(parse_entry(intent_entry(one_model_payload(R"({"action":1,"confidence":0.5})"))),
                   RejectReason::kWrongType, "model_breakdown.xgb.action",
                   "expected a string, got number");
  expect_rejection(
      parse_entry(
          intent_entry(one_model_payload(R"({"action":"BUY","confidence":0.5,"model":7})"))),
      RejectReason::kWrongType, "model_breakdown.xgb.model", "expected a string, got number");
  expect_rejection(
      parse_entry(intent_entry(
          R"({"symbol":["BTC"],"model_breakdown":{"xgb":{"action":"BUY","confidence":0.5}}})")),
      RejectReason::kWrongType, "payload.symbol", "expected a string, got array");
  // Breakdown field holding a JSON list.
  expect_rejection(parse_entry(StreamEntry{
                       kEntryId, {{"event_type", "trade.intent"}, {"model_breakdown", "[1,2]"}}}),
                   RejectReason::kWrongType, "model_breakdown", "expected an object, got array");
}

TEST(ParseReject, PayloadLargerThanTheLimit) {
  ParseLimits limits;
  limits.max_payload_bytes = 1024;
  nlohmann::json payload = nlohmann::json::parse(kDesignPayload);
  payload["padding"] = std::string(2000, 'x');
  const auto text = payload.dump();
  expect_rejection(parse_entry(intent_entry(text), limits), RejectReason::kTooLarge, "payload",
                   std::to_string(text.size()) + " bytes exceeds the limit of 1024");
  // At the limit exactly it is read.
  limits.max_payload_bytes = text.size();
  EXPECT_NE(test::accepted(parse_entry(intent_entry(text), limits)), nullptr);
  // The default limit (1 MiB) holds too.
  payload["padding"] = std::string((1 << 20) + 10, 'x');
  const auto huge = payload.dump();
  expect_rejection(parse_entry(intent_entry(huge)), RejectReason::kTooLarge, "payload",
                   std::to_string(huge.size()) + " bytes exceeds the limit of 1048576");
}

std::string nested_payload(std::size_t arrays) {
  // The payload object is level 1; each array adds one.
  std::string extra(arrays, '[');
  extra += std::string(arrays, ']');
  return R"({"symbol":"BTCUSDT","extra":)" + extra +
         R"(,"model_breakdown":{"xgb":{"action":"BUY","confidence":0.5}}})";
}

TEST(ParseReject, NestingDeeperThanTheLimit) {
  // 31 arrays inside the object: 32 levels, the limit, still read.
  EXPECT_NE(test::accepted(parse_entry(intent_entry(nested_payload(31)))), nullptr);
  // The message names the byte of the bracket that opens level 33 (the first array is at 28).
  expect_rejection(parse_entry(intent_entry(nested_payload(32))), RejectReason::kTooDeep, "payload",
                   "nesting deeper than 32 levels (at byte 59)");
  // Far deeper than a recursive parser's stack would survive.
  expect_rejection(parse_entry(intent_entry(nested_payload(200000))), RejectReason::kTooDeep,
                   "payload", "nesting deeper than 32 levels (at byte 59)");
  ParseLimits limits;
  limits.max_depth = 4;
  expect_rejection(parse_entry(intent_entry(nested_payload(4)), limits), RejectReason::kTooDeep,
                   "payload", "nesting deeper than 4 levels (at byte 31)");
  // Brackets inside strings are text, not nesting.
  const auto in_string =
      parse_entry(intent_entry(R"({"symbol":")" + std::string(100, '[') +
                               R"(","model_breakdown":{"xgb":{"action":"BUY","confidence":0.5}}})"),
                  limits);
  EXPECT_NE(test::accepted(in_string), nullptr);
}

TEST(ParseReject, NestingInsideADoubleEncodedBreakdown) {
  nlohmann::json payload = {{"model_breakdown", std::string(100, '[') + std::string(100, ']')}};
  expect_rejection(parse_entry(intent_entry(payload.dump())), RejectReason::kTooDeep,
                   "payload.model_breakdown", "nesting deeper than 32 levels (at byte 32)");
}

TEST(ParseReject, InvalidUtf8InThePayload) {
  // A stray 0xFF inside the symbol string.
  std::string payload =
      R"({"symbol":"BTC)" + std::string("\xFF") + R"(USDT","model_breakdown":{}})";
  const auto at = payload.find('\xFF');
  expect_rejection(parse_entry(intent_entry(payload)), RejectReason::kInvalidUtf8, "payload",
                   "invalid UTF-8 at byte " + std::to_string(at));
}

TEST(ParseReject, OverlongAndSurrogateEncodings) {
  // "/" as an overlong two-byte and three-byte form, a UTF-16 surrogate, a value past U+10FFFF,
  // a truncated sequence at the end and a lone continuation byte.
  for (const std::string& bad :
       {std::string("\xC0\xAF"), std::string("\xE0\x80\xAF"), std::string("\xF0\x80\x80\xAF"),
        std::string("\xED\xA0\x80"), std::string("\xF4\x90\x80\x80"), std::string("\x80"),
        std::string("\xE2\x82")}) {
    const std::string payload =
        one_model_payload(R"({"action":"BUY","confidence":0.5,"model":"x)" + bad + R"("})");
    const auto at = payload.find(bad);
    expect_rejection(parse_entry(intent_entry(payload)), RejectReason::kInvalidUtf8, "payload",
                     "invalid UTF-8 at byte " + std::to_string(at));
  }
  // Valid multi-byte text is fine: e, euro sign, an emoji.
  const auto ok =
      parse_entry(intent_entry(one_model_payload("{\"action\":\"BUY\",\"confidence\":0.5,\"model\":"
                                                 "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"}")));
  ASSERT_NE(test::accepted(ok), nullptr);
  EXPECT_EQ(test::accepted(ok)->predictions[0].model_string,
            "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
}

TEST(ParseReject, InvalidUtf8InTheBreakdownField) {
  const std::string breakdown = "{\"xgb\":{\"action\":\"BUY\xC0\xAF\",\"confidence\":0.5}}";
  expect_rejection(parse_entry(StreamEntry{
                       kEntryId, {{"event_type", "trade.intent"}, {"model_breakdown", breakdown}}}),
                   RejectReason::kInvalidUtf8, "model_breakdown",
                   "invalid UTF-8 at byte " + std::to_string(breakdown.find('\xC0')));
}

TEST(ParseReject, BadStreamId) {
  for (const char* id : {"abc", "12-x", "-1", "12-", ""}) {
    expect_rejection(parse_entry(intent_entry(kDesignPayload, id)), RejectReason::kBadStreamId,
                     "id", "expected <milliseconds>-<sequence>", id);
  }
  // A hostile ID is not echoed: binary or overlong IDs become a placeholder.
  for (const std::string& id : {std::string("\xFF\xFE-1"), std::string(200, '9')}) {
    expect_rejection(parse_entry(intent_entry(kDesignPayload, id)), RejectReason::kBadStreamId,
                     "id", "expected <milliseconds>-<sequence>", "<unprintable id>");
  }
}

TEST(ParseReject, TooManyModels) {
  nlohmann::json breakdown = nlohmann::json::object();
  for (int i = 0; i < 65; ++i) {
    breakdown["model_" + std::to_string(i)] = {{"action", "HOLD"}, {"confidence", 0.5}};
  }
  nlohmann::json payload = {{"symbol", "BTCUSDT"}, {"model_breakdown", breakdown}};
  expect_rejection(parse_entry(intent_entry(payload.dump())), RejectReason::kTooLarge,
                   "model_breakdown", "65 models exceeds the limit of 64");
  breakdown.erase("model_0");
  payload["model_breakdown"] = breakdown;
  const auto at_limit = parse_entry(intent_entry(payload.dump()));
  ASSERT_NE(test::accepted(at_limit), nullptr);
  EXPECT_EQ(test::accepted(at_limit)->predictions.size(), 64u);
}

}  // namespace
}  // namespace qsc
