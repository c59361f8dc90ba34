// parse_entry reads common payloads with a one-pass reader and hands everything else to the
// reference (DOM) reader. These tests hold the two to the same outcome, bit for bit: the
// contract's payload forms, edge cases of JSON and of Python's tokens, and many thousands of
// random mutations of them (byte flips, insertions, deletions), which mostly produce
// rejections whose reason and message must not change.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "qsc/parse.hpp"
#include "support/parse_outcome_diff.hpp"
#include "telemetry/jsonl.hpp"

namespace {

using qsc::ParseOutcome;
using qsc::StreamEntry;

using qsc::test::outcome_diff;

// A payload as it stands inside the JSON string of a recorded line: the recorder's own
// escaping (format_jsonl_entry), cut out of the line it writes.
std::string escaped(const std::string& payload) {
  const std::string line = qsc::agent::format_jsonl_entry({"1-0", {{"payload", payload}}});
  const std::string_view before = R"({"id":"1-0","fields":{"payload":")";
  const std::string_view after = R"("}})";
  return line.substr(before.size(), line.size() - before.size() - after.size());
}

StreamEntry inline_entry(std::string payload) {
  return {"1768023795000-3", {{"event_type", "trade.intent"}, {"payload", std::move(payload)}}};
}

const std::vector<std::string>& payloads() {
  static const std::vector<std::string> all = {
      // docs/design.md's example.
      R"({"symbol":"BTCUSDT","side":"BUY","confidence":0.71,"model_breakdown":{"xgb":{"action":"BUY","confidence":0.82,"model":"xgboost"},"patchtst":{"action":"HOLD","confidence":0.61,"model":"patchtst","shadow":false}}})",
      // Python's json.dumps spacing, its tokens, logits, flags as numbers, fallback models.
      R"({"symbol": "ETHUSDT", "side": "sell", "confidence": NaN, "model_breakdown": {"lgbm": {"action": "SELL", "confidence": NaN, "model": "lightgbm"}, "nhits": {"action": "hold", "confidence": Infinity}, "xgb": {"action": "BUY", "confidence": -Infinity, "inactive": 1}, "patchtst": {"action": "BUY", "confidence": 2.5, "model": "patchtst_fallback"}}})",
      R"({"model_breakdown":{"a":{"action":"BUY","confidence":-0.5,"shadow":null,"inactive":0.0},"b":{"action":"SELL","confidence":"high"},"c":{"action":"HOLD","confidence":null},"d":{"action":"HOLD","confidence":true},"e":{"action":"HOLD","confidence":[1]},"f":{"action":"HOLD","confidence":{"v":1}}}})",
      // Numbers: integers, exponents, negative zero, big integers, the edges of doubles.
      R"({"confidence":-0,"model_breakdown":{"m":{"action":"BUY","confidence":-0.0},"n":{"action":"BUY","confidence":0},"o":{"action":"BUY","confidence":1E0},"p":{"action":"BUY","confidence":9007199254740993},"q":{"action":"BUY","confidence":18446744073709551616},"r":{"action":"BUY","confidence":1.7976931348623157e308},"s":{"action":"BUY","confidence":4.9e-324},"t":{"action":"BUY","confidence":0.1e-2}}})",
      R"({"model_breakdown":{"m":{"action":"BUY","confidence":1e400}}})",
      R"({"model_breakdown":{"m":{"action":"BUY","confidence":1e-400}}})",
      R"({"model_breakdown":{"m":{"action":"BUY","confidence":01}}})",
      R"({"model_breakdown":{"m":{"action":"BUY","confidence":1.}}})",
      R"({"model_breakdown":{"m":{"action":"BUY","confidence":.5}}})",
      R"({"model_breakdown":{"m":{"action":"BUY","confidence":+1}}})",
      R"({"model_breakdown":{"m":{"action":"BUY","confidence":-NaN}}})",
      R"({"model_breakdown":{"m":{"action":"BUY","confidence":NaNa}}})",
      R"({"model_breakdown":{"m":{"action":"BUY","confidence":Infinit}}})",
      // Unknown members of every type, nested, skipped.
      R"({"extra":{"a":[1,2,{"b":null}],"c":"x","d":NaN},"list":[],"obj":{},"model_breakdown":{"m":{"action":"BUY","confidence":0.5,"extra":[true,false,null,-Infinity]}}})",
      // Escapes and non-ASCII text: the reference reads them.
      R"({"symbol":"BTC\u0055SDT","model_breakdown":{"m\u00e9":{"action":"B\u0055Y","confidence":0.5,"model":"x\"y"}}})",
      "{\"symbol\":\"BTC\xc3\xa9\",\"model_breakdown\":{\"m\":{\"action\":\"BUY\",\"confidence\":0."
      "5}}}",
      "{\"symbol\":\"BTC\xff\",\"model_breakdown\":{\"m\":{\"action\":\"BUY\",\"confidence\":0.5}}"
      "}",
      "\xef\xbb\xbf{\"model_breakdown\":{\"m\":{\"action\":\"BUY\",\"confidence\":0.5}}}",
      // Duplicate keys (the reference keeps the last).
      R"({"symbol":"A","symbol":"B","model_breakdown":{"m":{"action":"BUY","confidence":0.5}}})",
      R"({"model_breakdown":{"m":{"action":"BUY","confidence":0.5},"m":{"action":"SELL","confidence":0.7}}})",
      R"({"model_breakdown":{"m":{"action":"BUY","action":"SELL","confidence":0.5}}})",
      R"({"model_breakdown":{"m":{"action":"BUY","confidence":0.5}},"model_breakdown":null})",
      // The breakdown double-encoded, null, missing, empty, of the wrong types.
      R"({"model_breakdown":"{\"m\":{\"action\":\"BUY\",\"confidence\":0.5}}"})",
      R"({"model_breakdown":null})",
      R"({"symbol":"X"})",
      R"({"model_breakdown":{}})",
      R"({"model_breakdown":[]})",
      R"({"model_breakdown":NaN})",
      R"({"model_breakdown":{"m":[]}})",
      R"({"model_breakdown":{"":{"action":"BUY","confidence":0.5}}})",
      R"({"model_breakdown":{"m":{"confidence":0.5}}})",
      R"({"model_breakdown":{"m":{"action":"BUY"}}})",
      R"({"model_breakdown":{"m":{"action":"JUMP","confidence":0.5}}})",
      R"({"model_breakdown":{"m":{"action":NaN,"confidence":0.5}}})",
      R"({"model_breakdown":{"m":{"action":"BUY","confidence":0.5,"model":7}}})",
      R"({"model_breakdown":{"m":{"action":"BUY","confidence":0.5,"shadow":"yes"}}})",
      R"({"model_breakdown":{"m":{"action":"BUY","confidence":0.5,"shadow":NaN}}})",
      R"({"symbol":5,"model_breakdown":{"m":{"action":"BUY","confidence":0.5}}})",
      R"({"side":"UP","model_breakdown":{"m":{"action":"BUY","confidence":0.5}}})",
      R"({"side":null,"symbol":null,"confidence":"x","model_breakdown":{"m":{"action":"BUY","confidence":0.5}}})",
      // Not an object, trailing garbage, whitespace, truncation, control characters.
      R"([1,2])",
      R"("text")",
      R"(NaN)",
      "",
      " \t\r\n{\"model_breakdown\":{\"m\":{\"action\":\"BUY\",\"confidence\":0.5}}} \n",
      R"({"model_breakdown":{"m":{"action":"BUY","confidence":0.5}}} x)",
      R"({"model_breakdown":{"m":{"action":"BUY","confidence":0.5}})",
      "{\"symbol\":\"a\tb\",\"model_breakdown\":{\"m\":{\"action\":\"BUY\",\"confidence\":0.5}}}",
      R"({"model_breakdown":{"m":{"action":"BUY","confidence":0.5},}})",
      R"({,"model_breakdown":{"m":{"action":"BUY","confidence":0.5}}})",
  };
  return all;
}

// What read_escaped_payload makes of `payload` written inside a recorded line's string, against
// parse_entry's outcome for it: "" when it gave up (0) or read the same event and stopped
// right after the string's closing quote.
// With a `layout`, the payload is read against it (kept from the payload read before); with a
// `storage`, into that event (whatever it held: replay reads each line into the line before's).
std::string escaped_diff(const std::string& payload, const ParseOutcome& parsed,
                         qsc::EscapedPayloadLayout* layout = nullptr,
                         qsc::TradeIntent* storage = nullptr) {
  const std::string text = escaped(payload) + "\"}}";
  qsc::TradeIntent fresh;
  qsc::TradeIntent& event = storage != nullptr ? *storage : fresh;
  // Filled from the ID by the caller, as parse_entry does from inline_entry's.
  event.time_ms = 1768023795000;
  event.seq = 3;
  bool has_breakdown = false;
  const std::size_t taken = qsc::read_escaped_payload(text, event, has_breakdown, {}, layout);
  // Without a breakdown parse_entry rejects the entry: the caller must not take the event.
  if (taken == 0 || !has_breakdown) return "";
  if (taken != text.size() - 2) return "took " + std::to_string(taken) + " bytes";
  return outcome_diff(ParseOutcome{event}, parsed);
}

TEST(ParseFastPath, TheEscapedFormReadsEveryPayloadAsParseEntryReadsIt) {
  std::size_t read_escaped = 0;
  for (const auto& payload : payloads()) {
    const auto parsed = qsc::parse_entry(inline_entry(payload));
    EXPECT_EQ(escaped_diff(payload, parsed), "") << payload;
    qsc::TradeIntent event;
    bool has_breakdown = false;
    if (qsc::read_escaped_payload(escaped(payload) + "\"", event, has_breakdown) != 0 &&
        has_breakdown) {
      ++read_escaped;
    }
  }
  // The contract's example and Python's spacing and tokens are read in place (the first four
  // forms are the accepted ones), not all handed back.
  EXPECT_GE(read_escaped, 4u);
  qsc::TradeIntent event;
  for (
      const char* text : {
          // An escape inside a string, \/ and \u escapes: handed back (0), never guessed.
          R"({\"symbol\": \"a\\\"b\", \"model_breakdown\": {\"m\": {\"action\": \"BUY\", \"confidence\": 0.5}}}")",
          R"({\"symbol\": \"a\/b\", \"model_breakdown\": {\"m\": {\"action\": \"BUY\", \"confidence\": 0.5}}}")",
          R"({\"symbol\": \"\u0041\", \"model_breakdown\": {\"m\": {\"action\": \"BUY\", \"confidence\": 0.5}}}")",
          // A raw quote ends the line's string inside the payload; no closing quote at all.
          R"({\"symbol": \"A\", \"model_breakdown\": {\"m\": {\"action\": \"BUY\", \"confidence\": 0.5}}}")",
          R"({\"model_breakdown\": {\"m\": {\"action\": \"BUY\", \"confidence\": 0.5}}})",
          // A raw tab (a control byte the line's string may not hold) where whitespace goes.
          "{\t\\\"model_breakdown\\\": {\\\"m\\\": {\\\"action\\\": \\\"BUY\\\", "
          "\\\"confidence\\\": 0.5}}}\"",
      }) {
    bool has_breakdown = false;
    EXPECT_EQ(qsc::read_escaped_payload(text, event, has_breakdown), 0u) << text;
  }
  // Escaped whitespace between tokens is whitespace.
  const std::string spaced =
      R"({\n\t\"model_breakdown\":\r\n{\"m\": {\"action\": \"BUY\", \"confidence\": 0.5}}\n}")";
  bool has_breakdown = false;
  EXPECT_EQ(qsc::read_escaped_payload(spaced, event, has_breakdown), spaced.size());
  EXPECT_TRUE(has_breakdown);
  ASSERT_EQ(event.predictions.size(), 1u);
  EXPECT_EQ(event.predictions[0].model, "m");
}

// Session 12: replay reads every line into the event of the line before, its strings and
// predictions kept, so a read must write over all that event held: a symbol, a side, a model
// string, an inactive reason, other predictions. Every payload read into the event of every
// other (with and without that one's layout, with its predictions gone as a moved-from event's
// are, and against its own layout) is the event parse_entry gives. The last two are laid out alike
// (the same text between their values), the second saying less: nulls where the first has text and
// flags.
TEST(ParseFastPath, APayloadReadIntoAnotherEventsStorageIsTheEventParseEntryGives) {
  std::vector<std::string> all = payloads();
  all.push_back(
      R"({"symbol":"BTCUSDT","side":"BUY","confidence":0.7,"model_breakdown":{"nhits":{"action":"BUY","confidence":0.5,"model":"nhits_fallback","shadow":true},"lgbm":{"action":"SELL","confidence":2.0,"model":"lightgbm","inactive":1}}})");
  all.push_back(
      R"({"symbol":null,"side":null,"confidence":null,"model_breakdown":{"nhits":{"action":"sell","confidence":0.5,"model":null,"shadow":false},"lgbm":{"action":"Hold","confidence":0.3,"model":null,"inactive":0}}})");
  // Session 18: a model string after its prediction's first value is matched as part of the
  // layout's text, not read: laid out alike but for those strings (and the first model's, its
  // prediction's first value, read as a value), these read by each other's layout and storage.
  for (const char* strings :
       {R"("m1","x2","x3")", R"("m4","x5","x6_fallback")", R"("m1","x2","x6")"}) {
    const std::string names = strings;
    all.push_back(
        R"({"model_breakdown":{"a":{"model":)" + names.substr(0, 4) +
        R"(,"action":"BUY","confidence":0.5},"b":{"action":"SELL","confidence":0.25,"model":)" +
        names.substr(5, 4) + R"(},"c":{"action":"HOLD","model":)" + names.substr(10) +
        R"(,"confidence":0.125}}})");
  }
  for (const auto& first : all) {
    for (const auto& second : all) {
      const auto parsed = qsc::parse_entry(inline_entry(second));
      for (const int form : {0, 1, 2, 3}) {
        qsc::EscapedPayloadLayout layout;
        qsc::TradeIntent event;
        bool has_breakdown = false;
        (void)qsc::read_escaped_payload(escaped(first) + "\"", event, has_breakdown, {}, &layout);
        if (form == 2) event.predictions.clear();
        if (form == 3) {
          // The second's own layout (so that it is read by it), the first's event.
          qsc::TradeIntent scratch;
          (void)qsc::read_escaped_payload(escaped(second) + "\"", scratch, has_breakdown, {},
                                          &layout);
        }
        ASSERT_EQ(escaped_diff(second, parsed, form == 0 ? nullptr : &layout, &event), "")
            << second << "\nread into the event of " << first << " (form " << form << ")";
      }
    }
  }
}

TEST(ParseFastPath, EveryPayloadFormReadsAsTheReferenceReadsIt) {
  for (const auto& payload : payloads()) {
    const auto entry = inline_entry(payload);
    EXPECT_EQ(outcome_diff(qsc::parse_entry(entry), qsc::parse_entry_reference(entry)), "")
        << payload;
  }
}

TEST(ParseFastPath, LegacyFieldFormAndMissingFieldsReadAsTheReference) {
  const std::string breakdown =
      R"({"xgb":{"action":"BUY","confidence":0.55},"lgbm":{"action":"HOLD","confidence":NaN}})";
  const std::vector<StreamEntry> entries = {
      {"1-0",
       {{"event_type", "trade.intent"},
        {"payload", R"({"symbol":"ETHUSDT","side":"BUY","confidence":0.6})"},
        {"model_breakdown", breakdown}}},
      {"1-0", {{"event_type", "trade.intent"}, {"model_breakdown", breakdown}}},
      {"1-0", {{"event_type", "trade.intent"}, {"model_breakdown", breakdown + "x"}}},
      {"1-0", {{"event_type", "trade.intent"}, {"model_breakdown", "{}"}}},
      {"1-0",
       {{"event_type", "trade.intent"},
        {"payload", R"({"symbol":"X","model_breakdown":null})"},
        {"model_breakdown", breakdown}}},
      {"1-0", {{"event_type", "trade.intent"}}},
      {"x-0", {{"event_type", "trade.intent"}, {"model_breakdown", breakdown}}},
      {"1-0", {{"event_type", "heartbeat"}}},
      {"1-0", {{"payload", "{}"}}},
  };
  for (const auto& entry : entries) {
    EXPECT_EQ(outcome_diff(qsc::parse_entry(entry), qsc::parse_entry_reference(entry)), "")
        << entry.fields.size();
  }
}

// What an entry says twice is refused, never read as one of its values (session 11): a key
// repeated in any object of the payload, a field the parser reads given twice, and a breakdown
// in the payload that a model_breakdown field contradicts. The same breakdown in both is read.
TEST(ParseFastPath, WhatAnEntrySaysTwiceIsRefusedNeverReadAsOneOfItsValues) {
  const std::string healthy = R"({"action":"BUY","confidence":0.6})";
  const std::string nan = R"({"action":"HOLD","confidence":NaN})";
  const auto expect_refused = [](const StreamEntry& entry, const std::string& field,
                                 const std::string& text) {
    const auto outcome = qsc::parse_entry(entry);
    EXPECT_EQ(outcome_diff(outcome, qsc::parse_entry_reference(entry)), "");
    const auto* r = std::get_if<qsc::Rejection>(&outcome);
    ASSERT_NE(r, nullptr) << entry.fields.size();
    EXPECT_EQ(r->field, field);
    EXPECT_NE(r->message.find(text), std::string::npos) << r->message;
  };
  for (const std::string& payload : std::vector<std::string>{
           R"({"model_breakdown":{"c":)" + nan + R"(,"c":)" + healthy + "}}",
           R"({"model_breakdown":{"c":{"action":"BUY","confidence":NaN,"confidence":0.6}}})",
           R"({"model_breakdown":{"c":{"action":"BUY","confidence":0.6,"w":1,"w":2}}})",
           R"({"x":{"a":1,"a":2},"model_breakdown":{"c":)" + healthy + "}}",
           R"({"x":1,"x":2,"model_breakdown":{"c":)" + healthy + "}}",
       }) {
    expect_refused(inline_entry(payload), "payload", "appears twice in one object");
  }
  expect_refused({"1-0",
                  {{"event_type", "trade.intent"},
                   {"payload", R"({"model_breakdown":{"c":)" + healthy + "}}"},
                   {"model_breakdown", R"({"c":)" + nan + "}"}}},
                 "model_breakdown", "differs from the payload's model_breakdown");
  expect_refused({"1-0",
                  {{"event_type", "trade.intent"},
                   {"payload", R"({"model_breakdown":{"c":)" + nan + "}}"},
                   {"payload", R"({"model_breakdown":{"c":)" + healthy + "}}"}}},
                 "payload", "more than once");
  expect_refused({"1-0",
                  {{"event_type", "trade.executed"},
                   {"event_type", "trade.intent"},
                   {"payload", R"({"model_breakdown":{"c":)" + healthy + "}}"}}},
                 "event_type", "more than once");
  // The same breakdown in both places is one breakdown.
  const StreamEntry both{"1-0",
                         {{"event_type", "trade.intent"},
                          {"payload", R"({"model_breakdown":{"c":)" + nan + "}}"},
                          {"model_breakdown", R"({"c":)" + nan + "}"}}};
  const auto read = qsc::parse_entry(both);
  EXPECT_EQ(outcome_diff(read, qsc::parse_entry_reference(both)), "");
  ASSERT_TRUE(std::holds_alternative<qsc::TradeIntent>(read));
  EXPECT_EQ(std::get<qsc::TradeIntent>(read).predictions.at(0).confidence_status,
            qsc::ConfidenceStatus::kNaN);
}

TEST(ParseFastPath, LimitsAreTheReferences) {
  qsc::ParseLimits tight;
  tight.max_depth = 3;
  tight.max_models = 2;
  tight.max_payload_bytes = 200;
  for (const auto& payload : payloads()) {
    const auto entry = inline_entry(payload);
    EXPECT_EQ(
        outcome_diff(qsc::parse_entry(entry, tight), qsc::parse_entry_reference(entry, tight)), "")
        << payload;
  }
}

TEST(ParseFastPath, RandomMutationsReadAsTheReferenceReadsThem) {
  std::mt19937_64 rng(20260110);
  const std::string alphabet = "{}[]\":,.-+0123456789eENaIfinity tlrsu\\\x01\xc3\xa9";
  std::size_t accepted = 0;
  std::size_t checked = 0;
  std::size_t layouts = 0;
  for (int round = 0; round < 40'000; ++round) {
    // Half the time one of the accepted forms (the first four), so acceptances are common.
    const std::string original = payloads()[rng() % (rng() % 2 == 0 ? 4 : payloads().size())];
    std::string p = original;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !p.empty(); ++e) {
      const std::size_t at = rng() % p.size();
      switch (rng() % 3) {
        case 0:
          p[at] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          p.insert(p.begin() + static_cast<std::ptrdiff_t>(at), alphabet[rng() % alphabet.size()]);
          break;
        default:
          p.erase(at, 1 + rng() % 4);
      }
    }
    const auto entry = inline_entry(p);
    const auto fast = qsc::parse_entry(entry);
    const auto ref = qsc::parse_entry_reference(entry);
    ASSERT_EQ(outcome_diff(fast, ref), "") << p;
    ASSERT_EQ(escaped_diff(p, fast), "") << p;
    // Read against the layout of the payload it was mutated from: a changed value is read by
    // the layout, a changed structure or key falls back to the full read.
    qsc::EscapedPayloadLayout layout;
    qsc::TradeIntent base;
    bool base_breakdown = false;
    (void)qsc::read_escaped_payload(escaped(original) + "\"", base, base_breakdown, {}, &layout);
    if (layout.valid) ++layouts;
    ASSERT_EQ(escaped_diff(p, fast, &layout, &base), "")
        << p << "\nagainst the layout of, and into the event of, " << original;
    ++checked;
    if (std::holds_alternative<qsc::TradeIntent>(ref)) ++accepted;
  }
  // The mutations must exercise both outcomes, or the comparison proves little; and the layout
  // read must have had layouts to read against.
  EXPECT_GT(layouts, checked / 4);
  EXPECT_GT(accepted, checked / 20);
  EXPECT_LT(accepted, checked - checked / 20);
}

}  // namespace
