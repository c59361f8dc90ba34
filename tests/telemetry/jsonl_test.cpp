// The JSONL recording form and the file source: round trip, replay of the bundled sample,
// ranges, rejected lines, and tailing a file that grows (and is truncated).
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <algorithm>
#include <array>
#include <iostream>
#include <limits>
#include <random>
#include <tuple>

#include "qsc/checks.hpp"
#include "qsc/stats.hpp"
#include "support/parse_outcome_diff.hpp"
#include "telemetry/jsonl.hpp"
#include "telemetry/jsonl_plain.hpp"
#include "telemetry/jsonl_source.hpp"
#include "telemetry_test_util.hpp"

namespace qsc::agent {
namespace {

using qsc::test::kCutoverMs;
using qsc::test::sid;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "qsc-jsonl-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::filesystem::path operator/(const char* name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

qsc::StreamEntry entry(std::int64_t ms, int i, std::uint64_t seq = 0) {
  return qsc::StreamEntry{sid(ms, seq), test::fields_inline(i)};
}

TEST(JsonlForm, RoundTripsEntriesWithFieldOrderAndAwkwardText) {
  qsc::StreamEntry e{"1-2", {{"z", "line\nbreak \"quoted\" \\"}, {"a", "ünïcode"}, {"m", ""}}};
  const auto line = format_jsonl_entry(e);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto back = parse_jsonl_entry(line);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->id, e.id);
  EXPECT_EQ(back->fields, e.fields);
  // Invalid UTF-8 is not repaired into a readable entry: the line is refused on replay.
  qsc::StreamEntry bad{"1-3", {{"payload", std::string("{\"x\":\"\xff\xfe\"}")}}};
  EXPECT_FALSE(parse_jsonl_entry(format_jsonl_entry(bad)).ok());
  qsc::StreamEntry control{"1-4", {{"c", std::string("a\x01b\tc")}}};
  auto control_back = parse_jsonl_entry(format_jsonl_entry(control));
  ASSERT_TRUE(control_back.ok());
  EXPECT_EQ(control_back->fields, control.fields);
  EXPECT_FALSE(parse_jsonl_entry("{\"id\":1,\"fields\":{}}").ok());
  EXPECT_FALSE(parse_jsonl_entry("[]").ok());
  EXPECT_FALSE(parse_jsonl_entry("{\"id\":\"1-0\"}").ok());
}

// parse_jsonl_entry reads the plain form without nlohmann's DOM: for every line, plain or not,
// it must give what the DOM reader gives (the same entry, or the same error).
TEST(JsonlForm, ThePlainReaderReadsEveryLineAsTheDomReaderDoes) {
  const std::vector<std::string> lines = {
      R"({"id":"1-0","fields":{"event_type":"trade.intent","payload":"{\"a\":1}"}})",
      R"( { "fields" : { "k" : "v" } , "id" : "2-0" } )",
      "{\"id\":\"3-0\",\"fields\":{\"k\":\"tab\\tnl\\nq\\\"bs\\\\sl\\/bf\\b\\f\\r\"}}\r",
      R"({"id":"4-0","fields":{}})",
      R"({"id":"5-0","fields":{"k":"caf\u00e9","s":"\ud83d\ude00"}})",
      "{\"id\":\"6-0\",\"fields\":{\"k\":\"caf\xc3\xa9\"}}",
      "{\"id\":\"7-0\",\"fields\":{\"k\":\"bad\xff\"}}",
      "{\"id\":\"8-0\",\"fields\":{\"k\":\"del\x7f\"}}",
      "{\"id\":\"9-0\",\"fields\":{\"k\":\"ctl\x01\"}}",
      R"({"id":"10-0","fields":{"k":"a","k":"b"}})",
      R"({"id":"11-0","id":"11-1","fields":{}})",
      R"({"id":"12-0","fields":{"n":1.50,"b":true,"z":null,"o":{"x":[1,2]}}})",
      R"({"id":"13-0","fields":{"k":"v"},"extra":1})",
      R"({"id":"14-0","fields":{"k":"v"}} trailing)",
      R"({"id":"15-0","fields":{"k":"v"},})",
      R"({"id":"16-0","fields":{"k":"v",}})",
      R"({"id":17,"fields":{}})",
      R"({"id":"18-0"})",
      R"({"fields":{}})",
      R"(["id","fields"])",
      R"({"id":"19-0","fields":{"k":"\x"}})",
      R"({"id":"20-0","fields":{"k":"unterminated)",
      R"({"id":"21-0","fields":{"k" "v"}})",
      "",
      "   ",
      "\xef\xbb\xbf{\"id\":\"22-0\",\"fields\":{}}",
      R"({"id":"23-0","fields":{"k":"v"}}{})",
  };
  for (const auto& line : lines) {
    SCOPED_TRACE(line);
    const auto fast = parse_jsonl_entry(line);
    const auto reference = parse_jsonl_entry_dom(line);
    ASSERT_EQ(fast.ok(), reference.ok());
    if (fast) {
      EXPECT_EQ(fast->id, reference->id);
      EXPECT_EQ(fast->fields, reference->fields);
    } else {
      EXPECT_EQ(fast.error().message, reference.error().message);
    }
  }
  // The plain form itself is read without the DOM (and what --record writes is plain).
  EXPECT_TRUE(read_plain_jsonl_entry(lines[0]).has_value());
  EXPECT_TRUE(read_plain_jsonl_entry(lines[2]).has_value());
  EXPECT_FALSE(read_plain_jsonl_entry(lines[4]).has_value());
  qsc::StreamEntry awkward{"24-0", {{"k", "q\"\\\n\t/"}, {"payload", "{\"x\":\"y\"}"}}};
  EXPECT_TRUE(read_plain_jsonl_entry(format_jsonl_entry(awkward)).has_value());
}

// read_plain_jsonl_intent reads the usual recorded line straight to its event: it must be the
// event the two readers give one after the other, and every other line must be handed back.
TEST(JsonlForm, AnIntentReadStraightFromItsLineIsTheEventTheTwoReadersGive) {
  std::vector<std::string> lines;
  std::ifstream sample(QSC_SAMPLE_STREAM);
  for (std::string line; std::getline(sample, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 602u);
  std::size_t read_straight = 0;
  // Each line also read against the payload layout the line before left, and into the ID and
  // event the line before was read into (as replay reads: the storage is kept, session 12).
  qsc::EscapedPayloadLayout layout;
  qsc::EscapedPayloadLayout kept_layout;
  std::string kept_id;
  qsc::TradeIntent kept_event;
  const auto compare = [&](const std::string& line) {
    SCOPED_TRACE(line);
    const auto intent = read_plain_jsonl_intent(line);
    const auto by_layout = read_plain_jsonl_intent(line, &layout);
    ASSERT_EQ(intent.has_value(), by_layout.has_value());
    ASSERT_EQ(read_plain_jsonl_intent(line, kept_id, kept_event, &kept_layout), intent.has_value());
    if (!intent) return;
    EXPECT_EQ(kept_id, intent->id);
    EXPECT_EQ(
        qsc::test::outcome_diff(qsc::ParseOutcome{kept_event}, qsc::ParseOutcome{intent->event}),
        "");
    ++read_straight;
    const auto entry = parse_jsonl_entry(line);
    ASSERT_TRUE(entry.ok());
    EXPECT_EQ(intent->id, entry->id);
    const auto two_readers = qsc::parse_entry(*entry);
    EXPECT_EQ(qsc::test::outcome_diff(qsc::ParseOutcome{intent->event}, two_readers), "");
    EXPECT_EQ(qsc::test::outcome_diff(qsc::ParseOutcome{by_layout->event}, two_readers), "");
  };
  for (const auto& line : lines) compare(line);
  // The bundled sample is the usual form: 441 lines with the breakdown in the payload and 159
  // with the legacy field of its own are read straight; its two trade.executed lines are
  // parse_entry's to skip.
  EXPECT_EQ(read_straight, 600u);
  // Fields in the other order, spaces between tokens, escaped whitespace in the payload.
  const std::string spaced =
      R"( { "fields" : { "payload" : "{\n \"model_breakdown\": {\"m\": {\"action\": \"sell\", \"confidence\": NaN}}}" , "event_type" : "trade.intent" } , "id" : "7-1" } )";
  compare(spaced);
  EXPECT_EQ(read_straight, 601u);
  // Each of these is another reader's to judge: handed back.
  for (
      const char* other : {
          R"({"id":"1-0","fields":{"event_type":"heartbeat","payload":"{}"}})",
          R"({"id":"1-0","fields":{"event_type":"trade.intent","payload":"{\"symbol\":\"\u0041\",\"model_breakdown\":{\"m\":{\"action\":\"BUY\",\"confidence\":0.5}}}"}})",
          R"({"id":"1-0","fields":{"event_type":"trade.intent","payload":"{\"symbol\":\"A\"}","model_breakdown":"{}"}})",
          R"({"id":"1-0","fields":{"event_type":"trade.intent","payload":"{\"symbol\":\"A\"}"}})",
          R"({"id":"1-0","fields":{"event_type":"trade.intent","model_breakdown":"{\"m\":{\"action\":\"BUY\",\"confidence\":0.5}}","payload":"{\"symbol\":\"A\"}"}})",
          R"({"id":"1-0","fields":{"event_type":"trade.intent","payload":"{\"model_breakdown\":{\"m\":{\"action\":\"BUY\",\"confidence\":0.5}}}","model_breakdown":"{\"m\":{\"action\":\"BUY\",\"confidence\":0.5}}"}})",
          R"({"id":"1-0","fields":{"event_type":"trade.intent","event_type":"trade.intent","payload":"{\"model_breakdown\":{\"m\":{\"action\":\"BUY\",\"confidence\":0.5}}}"}})",
          R"({"id":"x-0","fields":{"event_type":"trade.intent","payload":"{\"model_breakdown\":{\"m\":{\"action\":\"BUY\",\"confidence\":0.5}}}"}})",
          R"({"id":"1-0","fields":{"event_type":"trade.intent","payload":"{\"model_breakdown\":{\"m\":{\"action\":\"BUY\",\"confidence\":0.5}}} x"}})",
          R"({"id":"1-0","fields":{"event_type":"trade.intent","payload":"{\"model_breakdown\":{\"m\":{\"action\":\"BUY\",\"confidence\":0.5}}}"}} x)",
      }) {
    EXPECT_FALSE(read_plain_jsonl_intent(other).has_value()) << other;
    EXPECT_FALSE(read_plain_jsonl_intent(other, kept_id, kept_event, &kept_layout)) << other;
  }
}

// The recorder's line with stream IDs at and past the limits of the reading that takes the
// usual <ms>-<seq> ID's numbers as it scans it (nineteen digits each): every ID is accepted or
// refused as parse_stream_id (parse_entry's reading) does, with the same numbers, read fresh and
// into the storage of the line before (whose time and sequence must not be left standing).
TEST(JsonlForm, TheRecordersStreamIdIsReadAsParseEntryReadsIt) {
  const std::string payload =
      R"({\"model_breakdown\":{\"m\":{\"action\":\"BUY\",\"confidence\":0.5}}})";
  std::string kept_id;
  qsc::TradeIntent kept_event;
  qsc::EscapedPayloadLayout kept_layout;
  std::size_t accepted = 0;
  for (const std::string id : {"1768023795000-0",
                               "1768023795000-17",
                               "007-010",
                               "0-0",
                               "1768023795000",
                               "9999999999999999999-9999999999999999999",
                               "18446744073709551615-18446744073709551615",
                               "18446744073709551616-0",
                               "0-18446744073709551616",
                               "99999999999999999999-1",
                               "1-99999999999999999999",
                               "-1",
                               "1-",
                               "1--2",
                               "1-2-3",
                               "1-x",
                               "x-1",
                               "",
                               "1 -2",
                               "1-2 "}) {
    SCOPED_TRACE(id);
    const std::string line = R"({"id":")" + id +
                             R"(","fields":{"event_type":"trade.intent","payload":")" + payload +
                             R"("}})";
    std::uint64_t ms = 0;
    std::uint64_t seq = 0;
    const bool readable = qsc::parse_stream_id(id, ms, seq);
    const auto fresh = read_plain_jsonl_intent(line);
    ASSERT_EQ(fresh.has_value(), readable);
    ASSERT_EQ(read_plain_jsonl_intent(line, kept_id, kept_event, &kept_layout), readable);
    if (!readable) continue;
    ++accepted;
    EXPECT_EQ(fresh->id, id);
    EXPECT_EQ(kept_id, id);
    EXPECT_EQ(fresh->event.time_ms, ms);
    EXPECT_EQ(fresh->event.seq, seq);
    EXPECT_EQ(kept_event.time_ms, ms);
    EXPECT_EQ(kept_event.seq, seq);
    const auto entry = parse_jsonl_entry(line);
    ASSERT_TRUE(entry.ok());
    EXPECT_EQ(qsc::test::outcome_diff(qsc::ParseOutcome{fresh->event}, qsc::parse_entry(*entry)),
              "");
  }
  // The first seven: 19 digits each side and 2^64 - 1 read, 2^64 and 20 nines refused.
  EXPECT_EQ(accepted, 7u);
}

// Random recorded lines read one after another into kept storage (an ID, an event and a payload
// layout carried from line to line, as replay reads) must each give what a fresh read gives: a
// member the line does not reset would carry the line before's value into a verdict (a NaN
// confidence turned healthy, a shadow flag, a symbol, a model). The lines share a shape (keys,
// order, models) most of the time, so that the layout path is taken, and differ in values of any
// type, in missing, extra, null or reordered members, in the model set, in the legacy form, in
// the field order of the line, and in breakage (a cut, a bad ID).
class RecordedLineGenerator {
 public:
  explicit RecordedLineGenerator(std::uint32_t seed) : rng_(seed) {}

  std::string next() {
    // A few shapes in turn, as a recording mixes its producers' forms (27% of the bundled
    // sample's lines are legacy ones between the others): a line laid out as one some lines
    // before is read against that one's layout, into what the lines between left.
    if (shape_.empty() || pick(10) < 3) {
      if (pool_.size() < 4 || pick(8) == 0) {
        new_shape();
        if (pool_.size() < 4) {
          pool_.emplace_back(shape_, legacy_);
        } else {
          pool_[pick(4)] = {shape_, legacy_};
        }
      } else {
        std::tie(shape_, legacy_) = pool_[pick(static_cast<std::uint32_t>(pool_.size()))];
      }
    }
    std::string payload = "{";
    std::string breakdown = "{";
    for (const auto& member : shape_) {
      std::string& out = member.in_legacy_breakdown ? breakdown : payload;
      out += member.text_before;
      if (member.key != nullptr) out += envelope_value(member.key);
      if (member.prediction_key != nullptr) out += prediction_value(member.prediction_key);
    }
    payload += "}";
    breakdown += "}";
    // Every payload member is written with a comma before it: the first one's is dropped.
    if (payload.size() > 2 && payload[1] == ',') payload.erase(1, 1);
    const std::uint64_t ms = 1'700'000'000'000ULL + line_++;
    qsc::StreamEntry e{pick(50) == 0 ? "x-0" : std::to_string(ms) + "-" + std::to_string(pick(3)),
                       {{"event_type", "trade.intent"}, {"payload", payload}}};
    if (legacy_) e.fields.emplace_back("model_breakdown", breakdown);
    if (pick(8) == 0) std::swap(e.fields[0], e.fields[1]);  // the scanner's path
    std::string line = format_jsonl_entry(e);
    if (pick(25) == 0) line.resize(pick(static_cast<std::uint32_t>(line.size())));
    return line;
  }

 private:
  // Text, then (unless both are null) a value for an envelope key or a prediction's key.
  struct Member {
    std::string text_before;
    const char* key = nullptr;
    const char* prediction_key = nullptr;
    bool in_legacy_breakdown = false;
  };

  std::uint32_t pick(std::uint32_t n) {
    return std::uniform_int_distribution<std::uint32_t>(0, n - 1)(rng_);
  }

  template <std::size_t N>
  const char* any(const std::array<const char*, N>& options) {
    return options[pick(static_cast<std::uint32_t>(N))];
  }

  // The models' objects, each with some of a prediction's members in some order.
  void add_models(const std::vector<std::string>& models, bool legacy) {
    for (std::size_t m = 0; m < models.size(); ++m) {
      std::vector<const char*> members{"action", "confidence", "model",
                                       "shadow", "inactive",   "note"};
      std::shuffle(members.begin(), members.end(), rng_);
      // Mostly the two required ones and some others; now and then fewer.
      members.resize(pick(8) == 0 ? 1 + pick(6) : 2 + pick(5));
      if (pick(8) != 0) {
        members[0] = "action";
        members[1] = "confidence";
        if (std::count(members.begin(), members.end(), std::string_view("action")) > 1 ||
            std::count(members.begin(), members.end(), std::string_view("confidence")) > 1) {
          members.resize(2);
        }
        std::shuffle(members.begin(), members.end(), rng_);
      }
      for (std::size_t k = 0; k < members.size(); ++k) {
        std::string before = k == 0 ? (m == 0 ? "\"" : ",\"") + models[m] + "\":{" : ",";
        shape_.push_back({before + "\"" + members[k] + "\":", nullptr, members[k], legacy});
      }
      shape_.push_back({"}", nullptr, nullptr, legacy});
    }
  }

  // A new shape: the envelope's keys and the breakdown's models and members, each in an order.
  void new_shape() {
    shape_.clear();
    legacy_ = pick(4) == 0;
    std::vector<const char*> keys{"symbol", "side", "confidence", "extra"};
    std::shuffle(keys.begin(), keys.end(), rng_);
    keys.resize(pick(5));
    std::vector<std::string> models{"alpha", "beta", "gamma", "a", "zeta"};
    std::shuffle(models.begin(), models.end(), rng_);
    // Now and then a name with an escape (a quote, a tab, a backslash: escaped once more in the
    // line), which the straight read gives up on.
    if (pick(6) == 0) models[0] = any(std::array{R"(q\"m)", R"(t\tm)", R"(b\\s)"});
    models.resize(1 + pick(5));
    if (pick(20) == 0) models.push_back(models.front());  // a model twice
    const std::size_t breakdown_at = pick(static_cast<std::uint32_t>(keys.size() + 1));
    for (std::size_t i = 0; i <= keys.size(); ++i) {
      if (!legacy_ && i == breakdown_at) {
        shape_.push_back({R"(,"model_breakdown":{)"});
        add_models(models, false);
        shape_.push_back({"}"});
      }
      if (i < keys.size()) shape_.push_back({std::string(",\"") + keys[i] + "\":", keys[i]});
    }
    if (legacy_) add_models(models, true);
  }

  std::string envelope_value(const char* key) {
    const std::string_view k = key;
    if (pick(8) == 0) return any(std::array{"null", "1", "true", R"("x")", "NaN", "[1]"});
    if (k == "symbol") {
      if (pick(10) == 0) return any(std::array{R"("B\"T")", R"("\u0041")"});
      return any(std::array{R"("BTCUSDT")", R"("ETHUSDT")", R"("")"});
    }
    if (k == "side") return any(std::array{R"("BUY")", R"("SELL")", R"("HOLD")", R"("up")"});
    if (k == "confidence") return any(std::array{"0.7", "0.2", "1e-3", "-1", "Infinity"});
    return any(std::array{R"("note")", "{\"k\":1}", "2"});
  }

  std::string prediction_value(const char* key) {
    const std::string_view k = key;
    if (pick(10) == 0) return any(std::array{"null", "0", "true", R"("x")", "NaN", "{}"});
    if (k == "action") return any(std::array{R"("BUY")", R"("SELL")", R"("HOLD")", R"("buy")"});
    if (k == "confidence") {
      return any(std::array{"0.9", "0.55", "0.1", "NaN", "-Infinity", "Infinity", "3.5", "-0.2",
                            R"("NaN")"});
    }
    if (k == "model") {
      if (pick(10) == 0) return R"("x\tfallback")";
      return any(std::array{R"("xgboost")", R"("fallback_v1")", R"("")"});
    }
    if (k == "shadow" || k == "inactive") return any(std::array{"true", "false", "1", "0"});
    return any(std::array{R"("n")", "[0]", "1"});
  }

  std::mt19937 rng_;
  std::vector<Member> shape_;
  bool legacy_ = false;
  std::vector<std::pair<std::vector<Member>, bool>> pool_;
  std::uint64_t line_ = 0;
};

TEST(JsonlForm, ALineReadIntoTheLineBeforesStorageIsTheLineReadAfresh) {
  constexpr int kSeeds = 20;
  constexpr int kLinesPerSeed = 5000;
  std::size_t read_straight = 0;
  std::size_t intents = 0;
  for (int seed = 1; seed <= kSeeds; ++seed) {
    RecordedLineGenerator generator(static_cast<std::uint32_t>(seed));
    qsc::EscapedPayloadLayout kept_layout;
    std::string kept_id;
    qsc::TradeIntent kept_event;
    for (int i = 0; i < kLinesPerSeed; ++i) {
      const std::string line = generator.next();
      SCOPED_TRACE("seed " + std::to_string(seed) + " line " + std::to_string(i) + ": " + line);
      const auto fresh = read_plain_jsonl_intent(line);
      const bool kept = read_plain_jsonl_intent(line, kept_id, kept_event, &kept_layout);
      ASSERT_EQ(kept, fresh.has_value());
      const auto entry = parse_jsonl_entry(line);
      const auto two_readers = entry ? qsc::parse_entry(*entry) : qsc::ParseOutcome{};
      if (entry && std::holds_alternative<qsc::TradeIntent>(two_readers)) ++intents;
      if (!kept) continue;
      ++read_straight;
      ASSERT_EQ(kept_id, fresh->id);
      ASSERT_EQ(
          qsc::test::outcome_diff(qsc::ParseOutcome{kept_event}, qsc::ParseOutcome{fresh->event}),
          "");
      ASSERT_TRUE(entry.ok());
      ASSERT_EQ(qsc::test::outcome_diff(qsc::ParseOutcome{kept_event}, two_readers), "");
    }
  }
  // The generator must reach the straight read often (else this compares little): most of the
  // events are read straight.
  EXPECT_GT(read_straight, intents / 2);
  EXPECT_GT(read_straight, static_cast<std::size_t>(kSeeds * kLinesPerSeed / 5));
  std::cout << "[ kept storage ] " << read_straight << " lines read straight of "
            << kSeeds * kLinesPerSeed << " (" << intents << " events)\n";
}

// Replay reads a line straight to its event (read_plain_jsonl_intent, against the layout and
// into the storage the line before left) and hands every other line to the general readers. On
// recorded lines mutated byte by byte (a digit, a quote, an escape, a brace, a byte past ASCII
// put in, dropped or changed), whatever the straight read accepts must be the very event the
// general readers (nlohmann's line DOM, then parse_entry_reference) give, and whatever it hands
// back must come out of replay's fallback (parse_jsonl_entry, parse_entry) as out of the general
// readers: the same event, or the same refusal with the same message.
TEST(JsonlForm, EveryMutatedRecordedLineReadsAsTheGeneralReadersReadIt) {
  constexpr int kSeeds = 8;
  constexpr int kLinesPerSeed = 6000;
  const std::string alphabet = "0123456789.eE-+\"\\,:{}[] Nnutx/\x7f\xc3\x01";
  std::size_t straight = 0;
  std::size_t straight_mutated = 0;
  std::size_t refused = 0;
  std::size_t mutated = 0;
  // The bundled sample (the usual recorded form, 600 of its 602 lines read straight) for odd
  // seeds, the generator's mix of forms for even ones.
  std::vector<std::string> sample;
  std::ifstream sample_file(QSC_SAMPLE_STREAM);
  for (std::string line; std::getline(sample_file, line);) sample.push_back(line);
  ASSERT_EQ(sample.size(), 602u);
  for (int seed = 1; seed <= kSeeds; ++seed) {
    RecordedLineGenerator generator(static_cast<std::uint32_t>(100 + seed));
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
    const auto pick = [&rng](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
    qsc::EscapedPayloadLayout kept_layout;
    std::string kept_id;
    qsc::TradeIntent kept_event;
    for (int i = 0; i < kLinesPerSeed; ++i) {
      std::string line =
          seed % 2 == 1 ? sample[static_cast<std::size_t>(i) % sample.size()] : generator.next();
      // A quarter of the lines as written, so the layouts that the mutated ones are read
      // against are their unmutated neighbours'.
      const bool line_mutated = !line.empty() && pick(4) != 0;
      if (line_mutated) {
        ++mutated;
        for (std::size_t edits = 1 + pick(2); edits > 0 && !line.empty(); --edits) {
          std::size_t at = pick(line.size());
          const char c = alphabet[pick(alphabet.size())];
          // Half the edits in a number (a value the layout reads), the others anywhere.
          const std::size_t digit = line.find_first_of("0123456789", at);
          if (pick(2) == 0 && digit != std::string::npos) at = digit;
          switch (pick(3)) {
            case 0:
              line[at] = c;
              break;
            case 1:
              line.insert(line.begin() + static_cast<std::ptrdiff_t>(at), c);
              break;
            default:
              line.erase(at, 1 + pick(3));
          }
        }
      }
      SCOPED_TRACE("seed " + std::to_string(seed) + " line " + std::to_string(i) + ": " + line);
      const auto general_entry = parse_jsonl_entry_dom(line);
      const auto general =
          general_entry ? qsc::parse_entry_reference(*general_entry) : qsc::ParseOutcome{};
      if (read_plain_jsonl_intent(line, kept_id, kept_event, &kept_layout)) {
        ++straight;
        if (line_mutated) ++straight_mutated;
        ASSERT_TRUE(general_entry.ok()) << general_entry.error().message;
        ASSERT_EQ(kept_id, general_entry->id);
        ASSERT_EQ(qsc::test::outcome_diff(qsc::ParseOutcome{kept_event}, general), "");
        continue;
      }
      const auto fallback_entry = parse_jsonl_entry(line);
      ASSERT_EQ(fallback_entry.ok(), general_entry.ok());
      if (!fallback_entry) {
        ++refused;
        ASSERT_EQ(fallback_entry.error().message, general_entry.error().message);
        continue;
      }
      ASSERT_EQ(fallback_entry->id, general_entry->id);
      const auto fallback = qsc::parse_entry(*fallback_entry);
      if (std::holds_alternative<qsc::Rejection>(fallback)) ++refused;
      ASSERT_EQ(qsc::test::outcome_diff(fallback, general), "");
    }
  }
  // Both ways must be taken often, or the comparison proves little.
  const std::size_t lines = static_cast<std::size_t>(kSeeds) * kLinesPerSeed;
  EXPECT_GT(mutated, lines / 2);
  EXPECT_GT(straight_mutated, mutated / 20);
  EXPECT_GT(refused, lines / 10);
  std::cout << "[ mutated lines ] " << straight << " read straight (" << straight_mutated
            << " of them mutated), " << refused << " refused, of " << lines << " (" << mutated
            << " mutated)\n";
}

TEST(JsonlForm, PayloadOfAnEventParsesBackToTheSameEvent) {
  auto parsed = qsc::parse_entry(entry(kCutoverMs, 4));
  ASSERT_TRUE(std::holds_alternative<qsc::TradeIntent>(parsed));
  auto event = std::get<qsc::TradeIntent>(parsed);
  event.predictions[0].raw_confidence = std::numeric_limits<double>::quiet_NaN();
  event.predictions[0].confidence_status = qsc::ConfidenceStatus::kNaN;
  event.predictions[1].inactive = qsc::InactiveReason::kShadow;
  qsc::StreamEntry again{sid(kCutoverMs), fields_for_event(event)};
  auto reparsed = qsc::parse_entry(again);
  ASSERT_TRUE(std::holds_alternative<qsc::TradeIntent>(reparsed));
  const auto& r = std::get<qsc::TradeIntent>(reparsed);
  EXPECT_EQ(r.symbol, event.symbol);
  EXPECT_EQ(r.side, event.side);
  ASSERT_EQ(r.predictions.size(), event.predictions.size());
  EXPECT_EQ(r.predictions[0].confidence_status, qsc::ConfidenceStatus::kNaN)
      << "a violation must survive the trip";
  EXPECT_EQ(r.predictions[1].inactive, qsc::InactiveReason::kShadow);
  EXPECT_EQ(r.predictions[1].model_string, event.predictions[1].model_string);
}

TEST(JsonlSource, ReplaysTheBundledSampleAndItIsHealthy) {
  JsonlSource source(QSC_SAMPLE_STREAM);
  auto s = source.summary(kCutoverMs);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->total_events, 602u);
  EXPECT_EQ(s->counts.rejected_total(), 0u);
  EXPECT_GE(s->events_after.value_or(0), 300u);
  auto post = source.range(kCutoverMs, std::nullopt, 2000);
  ASSERT_TRUE(post.ok());
  ASSERT_GE(post->events.size(), 300u);
  EXPECT_EQ(post->events.front().time_ms, static_cast<std::uint64_t>(kCutoverMs));
  EXPECT_EQ(post->counts.skipped, 2u);
  // The gate's per-model checks pass with margin (docs/design.md's thresholds).
  const auto stats = qsc::compute_window_stats(post->events);
  ASSERT_EQ(stats.models.size(), 4u);
  for (const auto& m : stats.models) {
    EXPECT_TRUE(qsc::gate_model(m, qsc::GateThresholds{}).pass) << m.model;
    EXPECT_EQ(m.confidence_violations, 0u) << m.model;
    EXPECT_EQ(m.inactive, 0u) << m.model;
  }
  EXPECT_GE(stats.ensemble.agreement_pct, 55.0);
  EXPECT_LE(stats.ensemble.agreement_pct, 80.0);
  EXPECT_LT(stats.ensemble.hard_disagree_pct, 20.0);
}

TEST(JsonlSource, RangeKeepsTheNewestAndCountsBadLines) {
  TempDir dir;
  const auto path = dir / "stream.jsonl";
  {
    auto w = JsonlWriter::open(path);
    ASSERT_TRUE(w.ok()) << w.error().message;
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(w->write(entry(kCutoverMs + i, i)).ok());
    ASSERT_TRUE(w->close().ok());
  }
  {
    std::ofstream bad(path, std::ios::app);
    bad << "this is not json\n\n{\"id\":\"" << kCutoverMs + 60 << "-0\",\"fields\":{}}\n";
  }
  JsonlSource source(path.string());
  auto r = source.range(kCutoverMs + 10, std::nullopt, 5);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->events.size(), 5u);
  EXPECT_EQ(r->events.front().time_ms, static_cast<std::uint64_t>(kCutoverMs + 45));
  EXPECT_EQ(r->events.back().time_ms, static_cast<std::uint64_t>(kCutoverMs + 49));
  EXPECT_EQ(r->counts.accepted, 40u);
  EXPECT_EQ(r->counts.rejected[static_cast<int>(qsc::RejectReason::kMalformedJson)], 1u);
  EXPECT_EQ(r->counts.rejected[static_cast<int>(qsc::RejectReason::kMissingField)], 1u);
  ASSERT_FALSE(r->rejections.empty());
  EXPECT_NE(r->rejections[0].message.find("line 51"), std::string::npos)
      << r->rejections[0].message;

  JsonlSource missing((dir / "nope.jsonl").string());
  auto m = missing.summary(std::nullopt);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("does not exist"), std::string::npos);
}

// A field value a million levels deep was kept as its JSON text through a recursive dump():
// a stack overflow. The line is refused unread and counted as too_deep; the lines around it are
// read.
TEST(JsonlForm, ALineAMillionLevelsDeepIsRefusedAsTooDeep) {
  constexpr std::size_t kLevels = 1'000'000;
  const std::string line =
      "{\"id\":\"" + sid(kCutoverMs) +
      "\",\"fields\":{\"event_type\":\"trade.intent\",\"payload\":" + std::string(kLevels, '[') +
      std::string(kLevels, ']') + "}}";
  auto reason = qsc::RejectReason::kMalformedJson;
  auto parsed = parse_jsonl_entry(line, &reason);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(reason, qsc::RejectReason::kTooDeep);
  EXPECT_EQ(parsed.error().message, "JSON nesting deeper than 64 levels (at byte " +
                                        std::to_string(line.find('[') + 62) + ")");
  // Just inside the limit a JSON field value is still kept as its text.
  const std::string nested = std::string(62, '[') + std::string(62, ']');
  auto within = parse_jsonl_entry("{\"id\":\"1-0\",\"fields\":{\"v\":" + nested + "}}", &reason);
  ASSERT_TRUE(within.ok()) << within.error().message;
  EXPECT_EQ(within->fields[0].second, nested);
  auto malformed = parse_jsonl_entry("{not json", &reason);
  EXPECT_FALSE(malformed.ok());
  EXPECT_EQ(reason, qsc::RejectReason::kMalformedJson);
}

TEST(JsonlSource, CountsAMillionLevelsDeepLineAsTooDeepAndReadsTheRest) {
  TempDir dir;
  const auto path = dir / "stream.jsonl";
  {
    auto w = JsonlWriter::open(path);
    ASSERT_TRUE(w.ok()) << w.error().message;
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(w->write(entry(kCutoverMs + i, i)).ok());
    ASSERT_TRUE(w->close().ok());
  }
  {
    std::ofstream deep(path, std::ios::app);
    deep << "{\"id\":\"" << sid(kCutoverMs + 10)
         << "\",\"fields\":{\"payload\":" << std::string(1'000'000, '{') << "}}\n";
  }
  JsonlSource source(path.string());
  auto r = source.range(kCutoverMs, std::nullopt, 100);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->counts.accepted, 10u);
  EXPECT_EQ(r->counts.rejected[static_cast<int>(qsc::RejectReason::kTooDeep)], 1u);
  EXPECT_EQ(r->counts.rejected_total(), 1u);
  ASSERT_EQ(r->rejections.size(), 1u);
  EXPECT_NE(r->rejections[0].message.find("line 11: JSON nesting deeper than 64 levels"),
            std::string::npos)
      << r->rejections[0].message;
  auto s = source.summary(std::nullopt);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->counts.rejected[static_cast<int>(qsc::RejectReason::kTooDeep)], 1u);
}

TEST(JsonlSource, TailFollowsAppendedLinesExactlyOnce) {
  TempDir dir;
  const auto path = dir / "tail.jsonl";
  auto w = JsonlWriter::open(path);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->write(entry(kCutoverMs - 5, 0)).ok());
  ASSERT_TRUE(w->write(entry(kCutoverMs, 1)).ok());
  JsonlSource source(path.string());
  ASSERT_TRUE(source.start_tail(kCutoverMs).ok());
  auto first = source.poll(std::chrono::milliseconds(50));
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->events.size(), 1u);

  // Half a line is not an entry until its newline arrives.
  const auto line = format_jsonl_entry(entry(kCutoverMs + 1, 2));
  {
    std::ofstream out(path, std::ios::app);
    out << line.substr(0, 20);
  }
  auto partial = source.poll(std::chrono::milliseconds(50));
  ASSERT_TRUE(partial.ok());
  EXPECT_TRUE(partial->events.empty());
  {
    std::ofstream out(path, std::ios::app);
    out << line.substr(20) << "\n";
  }
  auto rest = source.poll(std::chrono::milliseconds(200));
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->events.size(), 1u);
  EXPECT_EQ(rest->events[0].time_ms, static_cast<std::uint64_t>(kCutoverMs + 1));

  // Rotated: a new file with old and new entries; only the new ones are delivered.
  auto w2 = JsonlWriter::open(dir / "rotated.jsonl");
  ASSERT_TRUE(w2->write(entry(kCutoverMs, 1)).ok());
  ASSERT_TRUE(w2->write(entry(kCutoverMs + 2, 3)).ok());
  ASSERT_TRUE(w2->close().ok());
  std::filesystem::rename(dir / "rotated.jsonl", path);
  auto rotated = source.poll(std::chrono::milliseconds(200));
  ASSERT_TRUE(rotated.ok());
  ASSERT_EQ(rotated->events.size(), 1u);
  EXPECT_EQ(rotated->events[0].time_ms, static_cast<std::uint64_t>(kCutoverMs + 2));
}

}  // namespace
}  // namespace qsc::agent
