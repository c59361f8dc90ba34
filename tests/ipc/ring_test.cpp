// Single-process tests of the ring: encoding round trips, refusals, header validation, segment
// mode, start positions, wait strategies' timeouts. Real POSIX shared memory throughout.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <variant>
#include <vector>

#include "qsc/ipc/ring.hpp"
#include "ring_test_util.hpp"

namespace qsc::ipc {
namespace {

namespace bip = boost::interprocess;
using testing::consumer_options;
using testing::make_event;
using testing::producer_options;
using testing::RingGuard;
using testing::unique_ring_name;

/// A prediction that only names its model.
Prediction named(std::string model) {
  Prediction p;
  p.model = std::move(model);
  return p;
}

/// Maps the raw header of an existing segment so a test can corrupt it.
struct RawHeader {
  explicit RawHeader(const std::string& name)
      : shm(bip::open_only, name.c_str(), bip::read_write),
        region(shm, bip::read_write, 0, kHeaderBytes) {}
  SegmentHeader& header() { return *static_cast<SegmentHeader*>(region.get_address()); }
  bip::shared_memory_object shm;
  bip::mapped_region region;
};

TEST(RingRecord, RoundTripKeepsEveryField) {
  RingGuard guard{unique_ring_name("roundtrip")};
  auto producer = RingProducer::open(producer_options(guard.name));
  ASSERT_TRUE(producer) << producer.error().message;
  auto consumer = RingConsumer::open(consumer_options(guard.name));
  ASSERT_TRUE(consumer) << consumer.error().message;

  TradeIntent e;
  e.time_ms = 1736487795123;
  e.seq = 7;
  e.symbol = "BTCUSDT";
  e.side = Vote::kSell;
  e.confidence = 0.71;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  e.predictions = {
      {"xgb", "xgboost", Vote::kBuy, 0.82, 0.82, ConfidenceStatus::kOk, InactiveReason::kNone},
      {"patchtst", "patchtst", Vote::kHold, 0.88, 2.0, ConfidenceStatus::kNormalized,
       InactiveReason::kShadow},
      {"nhits", "nhits_fallback", Vote::kSell, nan, nan, ConfidenceStatus::kNaN,
       InactiveReason::kFallback},
      {"lgbm", "", Vote::kBuy, nan, -0.5, ConfidenceStatus::kNegative, InactiveReason::kInactive},
      {"tft", "a-very-long-model-string-fallback", Vote::kHold, 0.5, 0.5, ConfidenceStatus::kOk,
       InactiveReason::kFallback},
  };
  ASSERT_TRUE(producer->publish(e));
  auto got = consumer->poll();
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_TRUE(got->has_value());
  const TradeIntent& r = **got;
  EXPECT_EQ(r.time_ms, e.time_ms);
  EXPECT_EQ(r.seq, e.seq);
  EXPECT_EQ(r.symbol, e.symbol);
  EXPECT_EQ(r.side, e.side);
  EXPECT_DOUBLE_EQ(r.confidence, e.confidence);
  ASSERT_EQ(r.predictions.size(), e.predictions.size());
  for (std::size_t i = 0; i < e.predictions.size(); ++i) {
    SCOPED_TRACE(e.predictions[i].model);
    const auto& a = r.predictions[i];
    const auto& b = e.predictions[i];
    EXPECT_EQ(a.model, b.model);
    EXPECT_EQ(a.action, b.action);
    EXPECT_EQ(a.confidence_status, b.confidence_status);
    EXPECT_EQ(a.inactive, b.inactive);
    EXPECT_TRUE(a.confidence == b.confidence ||
                (std::isnan(a.confidence) && std::isnan(b.confidence)));
    EXPECT_TRUE(a.raw_confidence == b.raw_confidence ||
                (std::isnan(a.raw_confidence) && std::isnan(b.raw_confidence)));
  }
  EXPECT_EQ(r.predictions[0].model_string, "xgboost");
  EXPECT_EQ(r.predictions[2].model_string, "nhits_fallback");
  // A model string longer than the layout keeps its first kModelStringBytes bytes.
  EXPECT_EQ(r.predictions[4].model_string,
            std::string("a-very-long-model-string-fallback", kModelStringBytes));
  EXPECT_EQ(consumer->lost(), 0u);
}

TEST(RingRecord, EventWithoutSideOrSymbol) {
  RingGuard guard{unique_ring_name("noside")};
  auto producer = RingProducer::open(producer_options(guard.name));
  ASSERT_TRUE(producer) << producer.error().message;
  auto consumer = RingConsumer::open(consumer_options(guard.name));
  ASSERT_TRUE(consumer);
  TradeIntent e;
  e.confidence = std::numeric_limits<double>::quiet_NaN();
  e.predictions.push_back(named("xgb"));
  ASSERT_TRUE(producer->publish(e));
  auto got = consumer->poll();
  ASSERT_TRUE(got && got->has_value());
  EXPECT_FALSE((*got)->side.has_value());
  EXPECT_TRUE((*got)->symbol.empty());
  EXPECT_TRUE(std::isnan((*got)->confidence));
  EXPECT_EQ((*got)->predictions.size(), 1u);
}

// read_into over a spent event (ShmSource reads every record into one the monitor released):
// every member is written, so it equals read()'s fresh event whatever the spent one held
// (more or fewer predictions, a side or none, a symbol or none), and its prediction vector
// keeps its storage. A rejection leaves the outcome read() gives.
TEST(RingRecord, ReadIntoASpentEventEqualsAFreshReadAndKeepsItsStorage) {
  RingGuard guard{unique_ring_name("readinto")};
  auto producer = RingProducer::open(producer_options(guard.name));
  ASSERT_TRUE(producer) << producer.error().message;
  auto consumer = RingConsumer::open(consumer_options(guard.name));
  ASSERT_TRUE(consumer) << consumer.error().message;
  TradeIntent bare;  // no side, no symbol, NaN confidence, one prediction
  bare.time_ms = 1'700'000'000'500ULL;
  bare.confidence = std::numeric_limits<double>::quiet_NaN();
  bare.predictions.push_back(named("xgb"));
  TradeIntent violation = make_event(0, 11);  // a NaN confidence: read as the violation
  violation.predictions[0].confidence = std::numeric_limits<double>::quiet_NaN();
  // make_event(0, 7) has 8 predictions, the layout's most: the storage every later read fits.
  ASSERT_TRUE(producer->publish(make_event(0, 7)));
  ASSERT_TRUE(producer->publish(bare));
  ASSERT_TRUE(producer->publish(make_event(1, 1)));  // 3 predictions, another symbol and side
  ASSERT_TRUE(
      producer->publish_rejected(1'700'000'000'900ULL, 4, RejectReason::kMalformedJson, "payload"));
  ASSERT_TRUE(producer->publish(violation));
  ASSERT_TRUE(producer->publish(make_event(2, 13)));

  const auto same_number = [](double a, double b) {
    return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b));
  };
  TradeIntent reused;
  const Prediction* storage = nullptr;
  Record record;
  int read = 0;
  while (consumer->poll_record(record)) {
    SCOPED_TRACE(read);
    ++read;
    const ParseOutcome fresh = consumer->read(record);
    const auto rejection = consumer->read_into(record, reused);
    if (const auto* r = std::get_if<Rejection>(&fresh)) {
      ASSERT_TRUE(rejection.has_value());
      EXPECT_EQ(rejection->reason, r->reason);
      EXPECT_EQ(rejection->entry_id, r->entry_id);
      EXPECT_EQ(rejection->field, r->field);
      EXPECT_EQ(rejection->message, r->message);
      continue;
    }
    ASSERT_FALSE(rejection.has_value()) << rejection->message;
    const TradeIntent& want = std::get<TradeIntent>(fresh);
    EXPECT_EQ(reused.time_ms, want.time_ms);
    EXPECT_EQ(reused.seq, want.seq);
    EXPECT_EQ(reused.symbol, want.symbol);
    EXPECT_EQ(reused.side, want.side);
    EXPECT_TRUE(same_number(reused.confidence, want.confidence));
    ASSERT_EQ(reused.predictions.size(), want.predictions.size());
    for (std::size_t k = 0; k < want.predictions.size(); ++k) {
      const Prediction& a = reused.predictions[k];
      const Prediction& b = want.predictions[k];
      EXPECT_EQ(a.model, b.model) << k;
      EXPECT_EQ(a.model_string, b.model_string) << k;
      EXPECT_EQ(a.action, b.action) << k;
      EXPECT_TRUE(same_number(a.confidence, b.confidence)) << k;
      EXPECT_TRUE(same_number(a.raw_confidence, b.raw_confidence)) << k;
      EXPECT_EQ(a.confidence_status, b.confidence_status) << k;
      EXPECT_EQ(a.inactive, b.inactive) << k;
    }
    // The first event's vector (the largest) holds every later one: no reallocation.
    if (storage == nullptr) storage = reused.predictions.data();
    EXPECT_EQ(reused.predictions.data(), storage);
  }
  EXPECT_EQ(read, 6);
  EXPECT_EQ(reused.predictions[0].confidence_status, ConfidenceStatus::kOk);  // the last event's
}

// read_into writes a name only where it differs from the spent event's (qsc::assign_changed
// in ring_codec.cpp): names of the same length at the same place, differing in one byte (a model,
// its "model" string, the symbol), and a name that is a prefix of the spent one's, must all be
// the new record's. A compare of the lengths alone, or of the first bytes, keeps the old names.
TEST(RingRecord, ReadIntoRewritesANameTheSpentEventHeldAtTheSamePlaceWithTheSameLength) {
  RingGuard guard{unique_ring_name("readnames")};
  auto producer = RingProducer::open(producer_options(guard.name));
  ASSERT_TRUE(producer) << producer.error().message;
  auto consumer = RingConsumer::open(consumer_options(guard.name));
  ASSERT_TRUE(consumer) << consumer.error().message;
  const auto event = [](std::uint64_t ms, std::string symbol, std::vector<Prediction> predictions) {
    TradeIntent e;
    e.time_ms = ms;
    e.symbol = std::move(symbol);
    e.predictions = std::move(predictions);
    return e;
  };
  const auto with_string = [](std::string model, std::string model_string) {
    Prediction p = named(std::move(model));
    p.model_string = std::move(model_string);
    return p;
  };
  const std::vector<TradeIntent> sent = {
      event(1'700'000'000'001ULL, "BTCUSDT",
            {with_string("patchtst", "xgboost"), with_string("nhits", "lgbm")}),
      event(1'700'000'000'002ULL, "ETHUSDT",
            {with_string("patchtsX", "xgboosX"), with_string("nhitz", "lgbn")}),
      event(1'700'000'000'003ULL, "ETHUSD",
            {with_string("patchts", ""), with_string("nhit", "lgb")}),
      event(1'700'000'000'004ULL, "", {with_string("patchtst", "xgboost")}),
  };
  for (const auto& e : sent) ASSERT_TRUE(producer->publish(e));
  TradeIntent reused;
  Record record;
  for (const auto& want : sent) {
    SCOPED_TRACE(want.time_ms);
    ASSERT_TRUE(consumer->poll_record(record));
    const auto rejection = consumer->read_into(record, reused);
    ASSERT_FALSE(rejection.has_value()) << rejection->message;
    EXPECT_EQ(reused.symbol, want.symbol);
    ASSERT_EQ(reused.predictions.size(), want.predictions.size());
    for (std::size_t k = 0; k < want.predictions.size(); ++k) {
      EXPECT_EQ(reused.predictions[k].model, want.predictions[k].model) << k;
      EXPECT_EQ(reused.predictions[k].model_string, want.predictions[k].model_string) << k;
    }
  }
  EXPECT_FALSE(consumer->poll_record(record));
}

TEST(RingRecord, RefusesMorePredictionsThanTheLayoutHolds) {
  RingGuard guard{unique_ring_name("toomany")};
  auto producer = RingProducer::open(producer_options(guard.name));
  ASSERT_TRUE(producer);
  TradeIntent e;
  for (std::size_t i = 0; i <= kMaxPredictions; ++i)
    e.predictions.push_back(named("m" + std::to_string(i)));
  auto st = producer->publish(e);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("9 predictions"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("at most 8"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("published as a rejected entry"), std::string::npos)
      << st.error().message;
  EXPECT_EQ(producer->header().tail_claim.load(), 1u) << "only the rejected-entry record";
  EXPECT_EQ(producer->header().publish_refusals.load(), 1u);
}

TEST(RingRecord, RefusesLongNamesAndSymbols) {
  RingGuard guard{unique_ring_name("longname")};
  auto producer = RingProducer::open(producer_options(guard.name));
  ASSERT_TRUE(producer);
  TradeIntent e;
  e.predictions.push_back(named(std::string(kModelNameMaxBytes + 1, 'x')));
  auto st = producer->publish(e);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("model name"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("at most 55"), std::string::npos) << st.error().message;

  TradeIntent s;
  s.symbol = std::string(kSymbolBytes + 1, 'S');
  st = producer->publish(s);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("symbol"), std::string::npos) << st.error().message;
  EXPECT_EQ(producer->header().tail_claim.load(), 2u) << "two rejected-entry records, no event";

  TradeIntent fits;
  fits.symbol = std::string(kSymbolBytes, 'S');
  fits.predictions.push_back(named(std::string(kModelNameMaxBytes, 'x')));
  EXPECT_TRUE(producer->publish(fits));
}

TEST(RingRecord, RefusesWhenTheModelTableIsFull) {
  RingGuard guard{unique_ring_name("tablefull")};
  auto producer = RingProducer::open(producer_options(guard.name));
  ASSERT_TRUE(producer);
  for (std::size_t i = 0; i < kModelTableEntries; ++i) {
    TradeIntent e;
    e.predictions.push_back(named("model" + std::to_string(i)));
    ASSERT_TRUE(producer->publish(e)) << i;
  }
  TradeIntent e;
  e.predictions.push_back(named("one_too_many"));
  auto st = producer->publish(e);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("model table full"), std::string::npos) << st.error().message;
  // A second producer sees the names the first interned.
  auto other = RingProducer::open(producer_options(guard.name));
  ASSERT_TRUE(other);
  TradeIntent known;
  known.predictions.push_back(named("model5"));
  EXPECT_TRUE(other->publish(known));
}

// Only the words a record uses cross the ring; the reader gets the unused predictions zeroed
// and a full (8-prediction) record byte for byte.
TEST(RingRecord, OnlyUsedPredictionsCrossAndTheRestReadsZero) {
  RingGuard guard{unique_ring_name("used_words")};
  auto producer = RingProducer::open(producer_options(guard.name));
  ASSERT_TRUE(producer) << producer.error().message;
  auto consumer = RingConsumer::open(consumer_options(guard.name));
  ASSERT_TRUE(consumer) << consumer.error().message;

  Record full{};
  std::memset(&full, 0x5A, sizeof full);  // every byte non-zero, padding included
  full.prediction_count = kMaxPredictions;
  Record partial = full;
  partial.prediction_count = 2;
  Record out;
  ASSERT_TRUE(producer->publish_record(full));
  ASSERT_TRUE(producer->publish_record(partial));
  ASSERT_TRUE(consumer->poll_record(out));
  EXPECT_EQ(std::memcmp(&out, &full, sizeof out), 0);
  std::memset(&out, 0x77, sizeof out);
  ASSERT_TRUE(consumer->poll_record(out));
  EXPECT_EQ(
      std::memcmp(&out, &partial, offsetof(Record, predictions) + 2 * sizeof(PredictionRecord)), 0);
  const auto* tail = reinterpret_cast<const unsigned char*>(&out.predictions[2]);
  const std::size_t tail_bytes = sizeof(Record) - offsetof(Record, predictions[2]);
  EXPECT_EQ(std::count(tail, tail + tail_bytes, 0), static_cast<std::ptrdiff_t>(tail_bytes));

  // A corrupt count never makes a copy run past the slot, and decode names it.
  Record corrupt = full;
  corrupt.prediction_count = 200;
  ASSERT_TRUE(producer->publish_record(corrupt));
  ASSERT_TRUE(consumer->poll_record(out));
  EXPECT_EQ(out.prediction_count, 200);
  auto decoded = consumer->decode(out);
  ASSERT_FALSE(decoded);
  EXPECT_NE(decoded.error().message.find("prediction count"), std::string::npos);
}

TEST(RingRecord, PublishTakesTheCallersStamp) {
  RingGuard guard{unique_ring_name("stamp")};
  auto producer = RingProducer::open(producer_options(guard.name));
  ASSERT_TRUE(producer) << producer.error().message;
  auto consumer = RingConsumer::open(consumer_options(guard.name));
  ASSERT_TRUE(consumer) << consumer.error().message;
  const std::uint64_t before = monotonic_ns();
  ASSERT_TRUE(producer->publish(make_event(0, 1), 123456789));
  ASSERT_TRUE(producer->publish(make_event(0, 2)));  // stamps the clock itself
  Record out;
  ASSERT_TRUE(consumer->poll_record(out));
  EXPECT_EQ(out.publish_ns, 123456789u);
  ASSERT_TRUE(consumer->poll_record(out));
  EXPECT_GE(out.publish_ns, before);
  EXPECT_LE(out.publish_ns, monotonic_ns());
}

// A batch longer than a quarter ring takes several claims; readers see every record in order.
TEST(RingBatch, PublishRecordsKeepsOrderAcrossClaims) {
  RingGuard guard{unique_ring_name("batch")};
  auto producer = RingProducer::open(producer_options(guard.name, 16));  // claims of 4
  ASSERT_TRUE(producer) << producer.error().message;
  auto consumer = RingConsumer::open(consumer_options(guard.name, 16));
  ASSERT_TRUE(consumer) << consumer.error().message;
  std::vector<Record> records;
  for (std::uint64_t i = 0; i < 10; ++i) {
    auto r = producer->encode(make_event(3, i));
    ASSERT_TRUE(r) << r.error().message;
    r->publish_ns = i;
    records.push_back(*r);
  }
  ASSERT_TRUE(producer->publish_records(records));
  ASSERT_TRUE(producer->publish_records({}));  // an empty batch publishes nothing
  EXPECT_EQ(consumer->tail(), 10u);
  for (std::uint64_t i = 0; i < 10; ++i) {
    auto e = consumer->poll();
    ASSERT_TRUE(e && e->has_value()) << i;
    EXPECT_EQ((*e)->seq, i);
    EXPECT_TRUE(testing::is_intact(**e));
  }
  auto none = consumer->poll();
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(consumer->stats().delivered, 10u);
  EXPECT_EQ(consumer->stats().lost, 0u);
  EXPECT_EQ(consumer->header().hole_claims.load(), 0u);
}

TEST(RingHeader, CapacityMismatchIsNamed) {
  RingGuard guard{unique_ring_name("cap")};
  auto producer = RingProducer::open(producer_options(guard.name, 1024));
  ASSERT_TRUE(producer);
  auto consumer = RingConsumer::open(consumer_options(guard.name, 2048));
  ASSERT_FALSE(consumer);
  EXPECT_NE(consumer.error().message.find("capacity mismatch"), std::string::npos);
  EXPECT_NE(consumer.error().message.find("1024"), std::string::npos);
  EXPECT_NE(consumer.error().message.find("2048"), std::string::npos);
  EXPECT_NE(consumer.error().message.find(guard.name), std::string::npos);
}

/// Creates a ring, lets `corrupt` edit its header in place, and returns the message with
/// which a new consumer and a new producer are refused (they must agree).
template <typename Corrupt>
std::string refusal_after(const std::string& name, Corrupt corrupt) {
  {
    auto producer = RingProducer::open(producer_options(name));
    EXPECT_TRUE(producer);
  }
  RawHeader raw(name);
  corrupt(raw.header());
  auto consumer = RingConsumer::open(consumer_options(name));
  auto producer = RingProducer::open(producer_options(name));
  if (consumer || producer) return "not refused";
  EXPECT_EQ(consumer.error().message, producer.error().message);
  return consumer.error().message;
}

TEST(RingHeader, RecordSizeMismatchIsNamed) {
  RingGuard guard{unique_ring_name("recsize")};
  const std::string message =
      refusal_after(guard.name, [](SegmentHeader& h) { h.record_size_bytes = 512; });
  EXPECT_NE(message.find("record size mismatch"), std::string::npos) << message;
  EXPECT_NE(message.find("512-byte"), std::string::npos) << message;
  EXPECT_NE(message.find("384-byte"), std::string::npos) << message;
}

TEST(RingHeader, LayoutVersionMismatchIsNamed) {
  RingGuard guard{unique_ring_name("version")};
  const std::string message =
      refusal_after(guard.name, [](SegmentHeader& h) { h.layout_version = 99; });
  EXPECT_NE(message.find("layout version mismatch"), std::string::npos) << message;
  EXPECT_NE(message.find("version 99"), std::string::npos) << message;
}

TEST(RingHeader, MagicMismatchIsNamed) {
  RingGuard guard{unique_ring_name("magic")};
  {
    // A foreign object of the right size whose first bytes are not the ring's magic.
    bip::shared_memory_object shm(bip::create_only, guard.name.c_str(), bip::read_write);
    shm.truncate(static_cast<bip::offset_t>(segment_bytes_for(64)));
    bip::mapped_region region(shm, bip::read_write);
    std::memcpy(region.get_address(), "NOTARING", 8);
  }
  auto consumer = RingConsumer::open(consumer_options(guard.name));
  ASSERT_FALSE(consumer);
  EXPECT_NE(consumer.error().message.find("magic mismatch"), std::string::npos)
      << consumer.error().message;
  EXPECT_NE(consumer.error().message.find("0x31474e4952435351"), std::string::npos);
}

TEST(RingHeader, TooSmallObjectIsRefusedAfterTheInitTimeout) {
  RingGuard guard{unique_ring_name("small")};
  {
    bip::shared_memory_object shm(bip::create_only, guard.name.c_str(), bip::read_write);
    shm.truncate(16);
  }
  auto options = consumer_options(guard.name);
  options.init_timeout = std::chrono::milliseconds(50);
  auto consumer = RingConsumer::open(options);
  ASSERT_FALSE(consumer);
  EXPECT_NE(consumer.error().message.find("too small"), std::string::npos)
      << consumer.error().message;
}

TEST(RingHeader, BadNamesAndCapacitiesAreRefused) {
  EXPECT_FALSE(RingConsumer::open(consumer_options("")));
  EXPECT_FALSE(RingConsumer::open(consumer_options("a/b")));
  auto odd = RingProducer::open(producer_options(unique_ring_name("odd"), 1000));
  ASSERT_FALSE(odd);
  EXPECT_NE(odd.error().message.find("power of two"), std::string::npos);
  auto missing = consumer_options(unique_ring_name("missing"));
  missing.create_if_missing = false;
  auto consumer = RingConsumer::open(missing);
  ASSERT_FALSE(consumer);
  EXPECT_NE(consumer.error().message.find("does not exist"), std::string::npos)
      << consumer.error().message;
  EXPECT_TRUE(remove_ring(unique_ring_name("never_created")));
}

void expect_mode_0660_with_umask(mode_t mask) {
  RingGuard guard{unique_ring_name("mode")};
  const mode_t old = ::umask(mask);
  auto producer = RingProducer::open(producer_options(guard.name));
  ::umask(old);
  ASSERT_TRUE(producer);
  struct stat st {};
  ASSERT_EQ(::stat(("/dev/shm/" + guard.name).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u) << "umask " << std::oct << mask;
}

TEST(RingSegment, CreatedWithMode0660WhateverTheUmask) {
  expect_mode_0660_with_umask(0);
  expect_mode_0660_with_umask(077);
  expect_mode_0660_with_umask(022);
}

TEST(RingSegment, HeaderDescribesTheLayout) {
  RingGuard guard{unique_ring_name("header")};
  auto producer = RingProducer::open(producer_options(guard.name, 128));
  ASSERT_TRUE(producer);
  const SegmentHeader& h = producer->header();
  EXPECT_EQ(h.magic.load(), kMagic);
  EXPECT_EQ(h.layout_version, kLayoutVersion);
  EXPECT_EQ(h.record_size_bytes, 384u);
  EXPECT_EQ(h.capacity_records, 128u);
  EXPECT_EQ(h.segment_bytes, segment_bytes_for(128));
  EXPECT_EQ(h.model_table_entries, kModelTableEntries);
  EXPECT_EQ(h.producer_attaches.load(), 1u);
}

TEST(RingConsumer, StartOldestReadsHistoryStartLatestDoesNot) {
  RingGuard guard{unique_ring_name("start")};
  auto producer = RingProducer::open(producer_options(guard.name));
  ASSERT_TRUE(producer);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(producer->publish(make_event(0, i)));
  auto oldest = RingConsumer::open(consumer_options(guard.name));
  auto latest_options = consumer_options(guard.name);
  latest_options.start = StartPosition::kLatest;
  auto latest = RingConsumer::open(latest_options);
  ASSERT_TRUE(oldest && latest);
  EXPECT_EQ(oldest->position(), 0u);
  EXPECT_EQ(latest->position(), 10u);
  auto none = latest->poll();
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(producer->publish(make_event(0, 10)));
  auto got = latest->poll();
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->seq, 10u);
  for (std::uint64_t i = 0; i <= 10; ++i) {
    auto e = oldest->poll();
    ASSERT_TRUE(e && e->has_value());
    EXPECT_EQ((*e)->seq, i);
  }
}

TEST(RingConsumer, StartOldestOnAFullRingLeavesTheProducerHeadroomAndCountsNoLoss) {
  RingGuard guard{unique_ring_name("fullstart")};
  constexpr std::uint64_t kCapacity = 64;
  auto producer = RingProducer::open(producer_options(guard.name, kCapacity));
  ASSERT_TRUE(producer);
  constexpr std::uint64_t kPublished = 1000;
  for (std::uint64_t i = 0; i < kPublished; ++i) ASSERT_TRUE(producer->publish(make_event(0, i)));
  auto consumer = RingConsumer::open(consumer_options(guard.name, kCapacity));
  ASSERT_TRUE(consumer);
  const std::uint64_t first = kPublished - kCapacity + kCapacity / 8;
  EXPECT_EQ(consumer->position(), first);
  // The producer keeps going for less than the headroom before the first read: nothing lost.
  for (std::uint64_t i = kPublished; i < kPublished + kCapacity / 8; ++i) {
    ASSERT_TRUE(producer->publish(make_event(0, i)));
  }
  std::uint64_t expected = first;
  for (;;) {
    auto e = consumer->poll();
    ASSERT_TRUE(e);
    if (!e->has_value()) break;
    EXPECT_EQ((*e)->seq, expected++);
  }
  EXPECT_EQ(expected, kPublished + kCapacity / 8);
  EXPECT_EQ(consumer->lost(), 0u);
}

// A consumer that starts on a busy full ring and is lapped while it still reads history (a
// monitor restarting under load, found by tests/soak/run at 10,000 events/s: "Telemetry
// stale: events_lost=14054" rolled back a healthy canary) has lost nothing that reached the
// ring while it was attached: history overwritten before it was read is passed over.
TEST(RingConsumer, StartOldestLappedWhileReadingHistoryCountsNoLoss) {
  RingGuard guard{unique_ring_name("histlap")};
  constexpr std::uint64_t kCapacity = 64;
  auto producer = RingProducer::open(producer_options(guard.name, kCapacity));
  ASSERT_TRUE(producer);
  constexpr std::uint64_t kPublished = 1000;
  for (std::uint64_t i = 0; i < kPublished; ++i) ASSERT_TRUE(producer->publish(make_event(0, i)));
  auto consumer = RingConsumer::open(consumer_options(guard.name, kCapacity));
  ASSERT_TRUE(consumer);
  // Half a ring more before the first read: past the headroom, into the history it would read.
  constexpr std::uint64_t kAfter = kCapacity / 2;
  for (std::uint64_t i = kPublished; i < kPublished + kAfter; ++i) {
    ASSERT_TRUE(producer->publish(make_event(0, i)));
  }
  std::vector<std::uint64_t> got;
  for (;;) {
    auto e = consumer->poll();
    ASSERT_TRUE(e);
    if (!e->has_value()) break;
    got.push_back((*e)->seq);
  }
  const std::uint64_t landing = kPublished + kAfter - kCapacity + kCapacity / 4;
  ASSERT_LT(landing, kPublished) << "the test must lap the consumer inside the history";
  ASSERT_EQ(got.size(), kPublished + kAfter - landing);
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], landing + i);
  EXPECT_EQ(consumer->stats().lapped, 1u);
  EXPECT_EQ(consumer->lost(), 0u);
}

// Lapped past its start, the same consumer counts exactly the records published after it
// attached that it never read.
TEST(RingConsumer, StartOldestLappedPastItsStartCountsOnlyLiveRecordsLost) {
  RingGuard guard{unique_ring_name("livelap")};
  constexpr std::uint64_t kCapacity = 64;
  auto producer = RingProducer::open(producer_options(guard.name, kCapacity));
  ASSERT_TRUE(producer);
  constexpr std::uint64_t kPublished = 1000;
  for (std::uint64_t i = 0; i < kPublished; ++i) ASSERT_TRUE(producer->publish(make_event(0, i)));
  auto consumer = RingConsumer::open(consumer_options(guard.name, kCapacity));
  ASSERT_TRUE(consumer);
  constexpr std::uint64_t kAfter = 2 * kCapacity;
  for (std::uint64_t i = kPublished; i < kPublished + kAfter; ++i) {
    ASSERT_TRUE(producer->publish(make_event(0, i)));
  }
  std::uint64_t delivered = 0;
  for (;;) {
    auto e = consumer->poll();
    ASSERT_TRUE(e);
    if (!e->has_value()) break;
    ++delivered;
  }
  const std::uint64_t landing = kPublished + kAfter - kCapacity + kCapacity / 4;
  EXPECT_EQ(delivered, kPublished + kAfter - landing);
  EXPECT_EQ(consumer->lost(), landing - kPublished);
  EXPECT_EQ(delivered + consumer->lost(), kAfter);
}

TEST(RingConsumer, LappedConsumerCountsExactLoss) {
  RingGuard guard{unique_ring_name("lapped")};
  constexpr std::uint64_t kCapacity = 64;
  auto consumer = RingConsumer::open(consumer_options(guard.name, kCapacity));
  auto producer = RingProducer::open(producer_options(guard.name, kCapacity));
  ASSERT_TRUE(consumer && producer);
  constexpr std::uint64_t kPublished = 1000;
  for (std::uint64_t i = 0; i < kPublished; ++i) ASSERT_TRUE(producer->publish(make_event(0, i)));
  std::vector<std::uint64_t> got;
  for (;;) {
    auto e = consumer->poll();
    ASSERT_TRUE(e);
    if (!e->has_value()) break;
    got.push_back((*e)->seq);
  }
  // Lapped at sequence 0: the consumer lands a quarter ring past the oldest record.
  const std::uint64_t landing = kPublished - kCapacity + kCapacity / 4;
  ASSERT_EQ(got.size(), kPublished - landing);
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], landing + i);
  EXPECT_EQ(consumer->stats().lost, landing);
  EXPECT_EQ(consumer->stats().lapped, 1u);
  EXPECT_EQ(consumer->stats().delivered + consumer->stats().lost, kPublished);
}

TEST(RingConsumer, EveryWaitStrategyHonoursItsTimeout) {
  RingGuard guard{unique_ring_name("timeout")};
  for (auto strategy : {WaitStrategy::kSpin, WaitStrategy::kSpinThenSleep, WaitStrategy::kBlock}) {
    SCOPED_TRACE(std::string(wait_strategy_name(strategy)));
    auto options = consumer_options(guard.name);
    options.wait = strategy;
    auto consumer = RingConsumer::open(options);
    ASSERT_TRUE(consumer);
    const auto start = std::chrono::steady_clock::now();
    auto e = consumer->next(std::chrono::milliseconds(30));
    const auto waited = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(e);
    EXPECT_FALSE(e->has_value());
    EXPECT_GE(waited, std::chrono::milliseconds(29));
    EXPECT_LT(waited, std::chrono::milliseconds(500));
  }
  EXPECT_EQ(parse_wait_strategy("spin-then-sleep"), WaitStrategy::kSpinThenSleep);
  EXPECT_EQ(parse_wait_strategy("block"), WaitStrategy::kBlock);
  EXPECT_FALSE(parse_wait_strategy("nap").has_value());
}

TEST(RingConsumer, ReattachesWhenTheSegmentIsReplaced) {
  RingGuard guard{unique_ring_name("replace")};
  auto options = consumer_options(guard.name);
  options.replacement_check_interval = std::chrono::milliseconds(1);
  auto consumer = RingConsumer::open(options);
  ASSERT_TRUE(consumer);
  {
    auto producer = RingProducer::open(producer_options(guard.name));
    ASSERT_TRUE(producer);
    ASSERT_TRUE(producer->publish(make_event(0, 0)));
  }
  auto first = consumer->next(std::chrono::milliseconds(100));
  ASSERT_TRUE(first && first->has_value());
  ASSERT_TRUE(remove_ring(guard.name));
  auto producer = RingProducer::open(producer_options(guard.name));  // a fresh segment
  ASSERT_TRUE(producer);
  ASSERT_TRUE(producer->publish(make_event(1, 0)));
  auto second = consumer->next(std::chrono::milliseconds(1000));
  ASSERT_TRUE(second) << second.error().message;
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->symbol, "P1");
  EXPECT_EQ(consumer->stats().reattached, 1u);
  EXPECT_EQ(consumer->lost(), 0u);
}

// ---- Unreadable telemetry on the ring (issue 13 items 8 and 9) ----

/// The outcome of the next record a consumer reads.
ParseOutcome read_next(RingConsumer& consumer) {
  Record record;
  EXPECT_TRUE(consumer.poll_record(record)) << "no record";
  return consumer.read(record);
}

/// The rejection `outcome` holds, or a failure.
Rejection rejection_of(const ParseOutcome& outcome) {
  const auto* r = std::get_if<Rejection>(&outcome);
  EXPECT_NE(r, nullptr) << "not a rejection";
  return r != nullptr ? *r : Rejection{};
}

TEST(RingRejected, EveryEncoderRefusalIsPublishedAsARejectedEntryWithItsId) {
  RingGuard guard{unique_ring_name("refusedrec")};
  auto producer = RingProducer::open(producer_options(guard.name, 256));
  ASSERT_TRUE(producer);
  auto consumer = RingConsumer::open(consumer_options(guard.name, 256));
  ASSERT_TRUE(consumer);
  const auto event_at = [](std::uint64_t ms, std::uint64_t seq) {
    TradeIntent e;
    e.time_ms = ms;
    e.seq = seq;
    return e;
  };
  TradeIntent too_many = event_at(1000, 1);
  for (std::size_t i = 0; i <= kMaxPredictions; ++i) too_many.predictions.push_back(named("m"));
  TradeIntent long_symbol = event_at(1001, 2);
  long_symbol.symbol = std::string(kSymbolBytes + 1, 'S');
  long_symbol.predictions.push_back(named("xgb"));
  TradeIntent long_name = event_at(1002, 3);
  long_name.predictions.push_back(named(std::string(kModelNameMaxBytes + 1, 'x')));
  TradeIntent empty = event_at(1003, 4);
  TradeIntent unnamed = event_at(1004, 5);
  unnamed.predictions.push_back(named(""));
  TradeIntent control = event_at(1005, 6);
  control.predictions.push_back(named("x\x01y"));
  for (const auto* e : {&too_many, &long_symbol, &long_name, &empty, &unnamed, &control}) {
    EXPECT_FALSE(producer->publish(*e));
  }
  struct Want {
    RejectReason reason;
    const char* id;
    const char* field;
  };
  for (const Want& want : {Want{RejectReason::kTooLarge, "1000-1", "model_breakdown"},
                           Want{RejectReason::kTooLarge, "1001-2", "symbol"},
                           Want{RejectReason::kTooLarge, "1002-3", "model_breakdown."},
                           Want{RejectReason::kMissingField, "1003-4", "model_breakdown"},
                           Want{RejectReason::kMissingField, "1004-5", "model_breakdown"},
                           Want{RejectReason::kWrongType, "1005-6", "model_breakdown"}}) {
    const Rejection r = rejection_of(read_next(*consumer));
    EXPECT_EQ(r.reason, want.reason) << want.id;
    EXPECT_EQ(r.entry_id, want.id);
    EXPECT_EQ(r.field.rfind(want.field, 0), 0u) << r.field;
    EXPECT_NE(r.message.find(want.id), std::string::npos) << r.message;
    EXPECT_NE(r.message.find(guard.name), std::string::npos) << r.message;
  }
  EXPECT_EQ(consumer->stats().delivered, 6u);
  EXPECT_EQ(consumer->lost(), 0u);
  // Neither odd name reached the model table: the segment stays valid for new readers.
  EXPECT_TRUE(RingConsumer::open(consumer_options(guard.name, 256)));
}

TEST(RingRejected, AFullModelTableIsARejectedEntry) {
  RingGuard guard{unique_ring_name("tablerej")};
  auto producer = RingProducer::open(producer_options(guard.name, 256));
  ASSERT_TRUE(producer);
  for (std::size_t i = 0; i < kModelTableEntries; ++i) {
    TradeIntent e;
    e.predictions.push_back(named("model" + std::to_string(i)));
    ASSERT_TRUE(producer->publish(e)) << i;
  }
  auto consumer = RingConsumer::open(consumer_options(guard.name, 256));
  ASSERT_TRUE(consumer);
  TradeIntent e;
  e.time_ms = 77;
  e.predictions.push_back(named("one_too_many"));
  EXPECT_FALSE(producer->publish(e));
  Record record;
  for (std::size_t i = 0; i < kModelTableEntries; ++i) ASSERT_TRUE(consumer->poll_record(record));
  const Rejection r = rejection_of(read_next(*consumer));
  EXPECT_EQ(r.reason, RejectReason::kTooLarge);
  EXPECT_EQ(r.entry_id, "77-0");
}

TEST(RingRejected, PublishRejectedCarriesTheParsersReasonAndTheEntryId) {
  RingGuard guard{unique_ring_name("pubrej")};
  auto producer = RingProducer::open(producer_options(guard.name));
  ASSERT_TRUE(producer);
  auto consumer = RingConsumer::open(consumer_options(guard.name));
  ASSERT_TRUE(consumer);
  ASSERT_TRUE(
      producer->publish_rejected(1736487795000, 7, RejectReason::kMalformedJson, "payload"));
  Record record;
  ASSERT_TRUE(consumer->poll_record(record));
  EXPECT_EQ(record.flags, kRecordRejected);
  const Rejection r = rejection_of(consumer->read(record));
  EXPECT_EQ(r.reason, RejectReason::kMalformedJson);
  EXPECT_EQ(r.entry_id, "1736487795000-7");
  EXPECT_EQ(r.field, "payload");
  // decode() (the event-only form) refuses it with the same message.
  auto decoded = consumer->decode(record);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().message, r.message);
}

TEST(RingRejected, ARecordWithZeroPredictionsIsRejectedLikeAnEmptyModelBreakdown) {
  RingGuard guard{unique_ring_name("zeropred")};
  auto producer = RingProducer::open(producer_options(guard.name));
  ASSERT_TRUE(producer);
  auto consumer = RingConsumer::open(consumer_options(guard.name));
  ASSERT_TRUE(consumer);
  Record raw{};  // published as is: a producer that skips encode()
  raw.time_ms = 5;
  raw.seq = 6;
  raw.side = kNoSide;
  ASSERT_TRUE(producer->publish_record(raw));
  const Rejection r = rejection_of(read_next(*consumer));
  EXPECT_EQ(r.reason, RejectReason::kMissingField);
  EXPECT_EQ(r.field, "model_breakdown");
  EXPECT_EQ(r.entry_id, "5-6");
}

TEST(RingRejected, UnknownFlagsAndReasonCodesAreRejectedNotRead) {
  RingGuard guard{unique_ring_name("badflags")};
  auto producer = RingProducer::open(producer_options(guard.name));
  ASSERT_TRUE(producer);
  auto consumer = RingConsumer::open(consumer_options(guard.name));
  ASSERT_TRUE(consumer);
  auto good = producer->encode(make_event(1, 3));
  ASSERT_TRUE(good);
  Record flagged = *good;
  flagged.flags = 0x80;
  ASSERT_TRUE(producer->publish_record(flagged));
  Record bad_reason = rejected_record(1, 2, RejectReason::kTooDeep, "payload");
  bad_reason.side = 200;
  ASSERT_TRUE(producer->publish_record(bad_reason));
  EXPECT_EQ(rejection_of(read_next(*consumer)).reason, RejectReason::kWrongType);
  EXPECT_EQ(rejection_of(read_next(*consumer)).reason, RejectReason::kWrongType);
}

/// Publishes one single-prediction record with `status` and `confidence` as a producer that
/// skips the parser could, and returns how the consumer reads it.
ParseOutcome read_prediction(ConfidenceStatus status, double confidence) {
  RingGuard guard{unique_ring_name("nan")};
  auto producer = RingProducer::open(producer_options(guard.name));
  EXPECT_TRUE(producer);
  auto consumer = RingConsumer::open(consumer_options(guard.name));
  EXPECT_TRUE(consumer);
  TradeIntent e;
  Prediction p = named("xgb");
  p.confidence_status = status;
  p.confidence = confidence;
  p.raw_confidence = confidence;
  e.predictions.push_back(p);
  EXPECT_TRUE(producer->publish(e));
  return read_next(*consumer);
}

TEST(RingNaN, AnOkStatusWithANonFiniteOrNegativeValueIsReadAsThatViolation) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  struct Case {
    ConfidenceStatus sent;
    double value;
    ConfidenceStatus read;
  };
  for (const Case& c : {Case{ConfidenceStatus::kOk, nan, ConfidenceStatus::kNaN},
                        Case{ConfidenceStatus::kOk, inf, ConfidenceStatus::kInfinite},
                        Case{ConfidenceStatus::kOk, -inf, ConfidenceStatus::kInfinite},
                        Case{ConfidenceStatus::kOk, -0.25, ConfidenceStatus::kNegative},
                        Case{ConfidenceStatus::kNormalized, nan, ConfidenceStatus::kNaN}}) {
    const auto outcome = read_prediction(c.sent, c.value);
    const auto* event = std::get_if<TradeIntent>(&outcome);
    ASSERT_NE(event, nullptr) << c.value;
    ASSERT_EQ(event->predictions.size(), 1u);
    const Prediction& p = event->predictions[0];
    EXPECT_EQ(p.confidence_status, c.read) << c.value;
    EXPECT_TRUE(is_confidence_violation(p.confidence_status));
    EXPECT_TRUE(std::isnan(p.confidence));
  }
}

TEST(RingNaN, AViolationStatusNeverCarriesAUsableValue) {
  const auto outcome = read_prediction(ConfidenceStatus::kNaN, 0.5);
  const auto* event = std::get_if<TradeIntent>(&outcome);
  ASSERT_NE(event, nullptr);
  EXPECT_EQ(event->predictions[0].confidence_status, ConfidenceStatus::kNaN);
  EXPECT_TRUE(std::isnan(event->predictions[0].confidence));
}

TEST(RingNaN, AnOkStatusAboveOneFitsNoReadingAndIsRejected) {
  const Rejection r = rejection_of(read_prediction(ConfidenceStatus::kOk, 1.5));
  EXPECT_EQ(r.reason, RejectReason::kWrongType);
  EXPECT_EQ(r.field, "model_breakdown.xgb.confidence");
}

TEST(RingNaN, HealthyValuesAreReadAsSent) {
  const auto outcome = read_prediction(ConfidenceStatus::kOk, 0.42);
  const auto* event = std::get_if<TradeIntent>(&outcome);
  ASSERT_NE(event, nullptr);
  EXPECT_EQ(event->predictions[0].confidence_status, ConfidenceStatus::kOk);
  EXPECT_DOUBLE_EQ(event->predictions[0].confidence, 0.42);
}

// ---- Corrupt slot states (found by tests/fuzz/ring_segment) ----

TEST(RingCorruptSlots, SlotStatesPastTheTailAreWaitedOnNotSkippedOneByOne) {
  // Every slot claims a sequence near 2^60 while one event was ever claimed: the consumer
  // used to skip towards it one sequence at a time (up to 2^62 rounds, a hang). It may skip
  // what is below the tail, then waits there.
  RingGuard guard{unique_ring_name("futureslots")};
  constexpr std::uint64_t kCapacity = 4;
  auto producer = RingProducer::open(producer_options(guard.name, kCapacity));
  ASSERT_TRUE(producer);
  // Attached before the event is published, so the event is live, not history: skipping it
  // is a loss.
  auto consumer = RingConsumer::open(consumer_options(guard.name, kCapacity));
  ASSERT_TRUE(consumer);
  TradeIntent event;
  event.predictions.push_back(named("xgb"));
  ASSERT_TRUE(producer->publish(event));
  // One process maps a segment once, so the producer's header is the consumer's.
  auto* base = reinterpret_cast<unsigned char*>(const_cast<SegmentHeader*>(&producer->header()));
  auto* slots = reinterpret_cast<Slot*>(base + kHeaderBytes);
  for (std::uint64_t i = 0; i < kCapacity; ++i) {
    slots[i].state.store(slot_state::committed((std::uint64_t{1} << 60) + i));
  }
  auto polled = consumer->poll();
  ASSERT_TRUE(polled) << polled.error().message;
  EXPECT_FALSE(polled->has_value());
  EXPECT_EQ(consumer->position(), 1u) << "skipped up to the tail, not past it";
  EXPECT_EQ(consumer->stats().lost, 1u);
}

// ---- Corrupt segments (issue 13 item 14): refused at attach, never clamped ----

TEST(RingHeader, AModelNameLongerThanTheLayoutIsACorruptSegment) {
  RingGuard guard{unique_ring_name("corruptname")};
  const std::string message = refusal_after(guard.name, [](SegmentHeader& h) {
    h.models[3].name_len = 255;
    std::memset(h.models[3].name, 'Q', kModelNameMaxBytes);
    h.models[3].state.store(kModelEntryReady);
  });
  EXPECT_NE(message.find("corrupt segment " + guard.name), std::string::npos) << message;
  EXPECT_NE(message.find("entry 3"), std::string::npos) << message;
  EXPECT_NE(message.find("255 bytes"), std::string::npos) << message;
  EXPECT_NE(message.find("not clamped"), std::string::npos) << message;
}

TEST(RingHeader, ControlBytesOrAnEmptyNameOrAnUnknownStateAreACorruptSegment) {
  for (int variant = 0; variant < 3; ++variant) {
    RingGuard guard{unique_ring_name("corrupttable")};
    const std::string message = refusal_after(guard.name, [&](SegmentHeader& h) {
      if (variant == 2) {
        h.models[0].state.store(7);
        return;
      }
      h.models[0].name_len = variant == 0 ? 4 : 0;
      std::memcpy(h.models[0].name, "a\x01b\x02", 4);
      h.models[0].state.store(kModelEntryReady);
    });
    EXPECT_NE(message.find("corrupt segment " + guard.name), std::string::npos)
        << variant << ": " << message;
  }
}

TEST(RingHeader, LimitsThatDisagreeWithTheLayoutAreACorruptSegment) {
  RingGuard guard{unique_ring_name("corruptlimits")};
  std::string message =
      refusal_after(guard.name, [](SegmentHeader& h) { h.max_predictions = 200; });
  EXPECT_NE(message.find("corrupt segment"), std::string::npos) << message;
  EXPECT_NE(message.find("200 predictions"), std::string::npos) << message;
  RingGuard guard2{unique_ring_name("corruptlimits")};
  message = refusal_after(guard2.name, [](SegmentHeader& h) { h.model_name_max_bytes = 255; });
  EXPECT_NE(message.find("corrupt segment"), std::string::npos) << message;
  RingGuard guard3{unique_ring_name("corruptlimits")};
  message = refusal_after(guard3.name, [](SegmentHeader& h) { h.model_table_entries = 1000; });
  EXPECT_NE(message.find("corrupt segment"), std::string::npos) << message;
}

// ---- Segment ownership (issue 13 item 15): /dev/shm is world-writable ----

/// The uid tests chown segments to, as another local user would own them.
constexpr uid_t kOtherUid = 65534;

/// Creates the ring as its producer would, then gives it `owner` and `mode`.
void create_with(const std::string& name, uid_t owner, mode_t mode) {
  {
    auto producer = RingProducer::open(producer_options(name));
    ASSERT_TRUE(producer) << producer.error().message;
  }
  const std::string path = "/dev/shm/" + name;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
  if (owner != ::geteuid()) {
    ASSERT_EQ(::chown(path.c_str(), owner, static_cast<gid_t>(-1)), 0);
  }
}

TEST(RingOwnership, AWorldWritableSegmentIsRefusedWithTheModeAndTheFix) {
  RingGuard guard{unique_ring_name("o666")};
  create_with(guard.name, ::geteuid(), 0666);
  auto consumer = RingConsumer::open(consumer_options(guard.name));
  ASSERT_FALSE(consumer);
  const std::string& message = consumer.error().message;
  EXPECT_NE(message.find(guard.name), std::string::npos) << message;
  EXPECT_NE(message.find("mode 0666"), std::string::npos) << message;
  EXPECT_NE(message.find("uid " + std::to_string(::geteuid())), std::string::npos) << message;
  EXPECT_NE(message.find("chmod o-w"), std::string::npos) << message;
  // The producer does not reuse it either: it did not create it so.
  auto producer = RingProducer::open(producer_options(guard.name));
  ASSERT_FALSE(producer);
  EXPECT_NE(producer.error().message.find("mode 0666"), std::string::npos);
  // Group write is the layout's own mode (0660): accepted.
  ASSERT_EQ(::chmod(("/dev/shm/" + guard.name).c_str(), 0660), 0);
  EXPECT_TRUE(RingConsumer::open(consumer_options(guard.name)));
}

TEST(RingOwnership, ASegmentOwnedByAnotherUserIsRefusedUnlessItIsTheConfiguredOwner) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to give a segment to uid " << kOtherUid
                 << " (no second uid is available to this user)";
  }
  RingGuard guard{unique_ring_name("foreign")};
  create_with(guard.name, kOtherUid, 0660);
  auto consumer = RingConsumer::open(consumer_options(guard.name));
  ASSERT_FALSE(consumer);
  const std::string& message = consumer.error().message;
  EXPECT_NE(message.find("owned by uid " + std::to_string(kOtherUid)), std::string::npos)
      << message;
  EXPECT_NE(message.find("mode 0660"), std::string::npos) << message;
  EXPECT_NE(message.find("telemetry.shm_owner"), std::string::npos) << message;
  EXPECT_NE(message.find("rm /dev/shm/" + guard.name), std::string::npos) << message;

  // The configured owner (telemetry.shm_owner) is trusted ...
  auto trusting = consumer_options(guard.name);
  trusting.trusted_owner_uid = kOtherUid;
  EXPECT_TRUE(RingConsumer::open(trusting));
  // ... but not when others may write the segment.
  ASSERT_EQ(::chmod(("/dev/shm/" + guard.name).c_str(), 0662), 0);
  auto writable = RingConsumer::open(trusting);
  ASSERT_FALSE(writable);
  EXPECT_NE(writable.error().message.find("mode 0662"), std::string::npos);

  // A producer never reuses a segment it does not own.
  ASSERT_EQ(::chmod(("/dev/shm/" + guard.name).c_str(), 0660), 0);
  auto producer = RingProducer::open(producer_options(guard.name));
  ASSERT_FALSE(producer);
  EXPECT_NE(producer.error().message.find("owned by uid " + std::to_string(kOtherUid)),
            std::string::npos)
      << producer.error().message;
}

TEST(RingOwnership, ASegmentPlantedBeforeTheProducerIsNotReused) {
  // Another user creates the name first, world-writable, as an attacker would.
  RingGuard guard{unique_ring_name("planted")};
  const std::string path = "/" + guard.name;
  const int fd = ::shm_open(path.c_str(), O_CREAT | O_EXCL | O_RDWR, 0666);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::fchmod(fd, 0666), 0);
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(segment_bytes_for(64))), 0);
  if (::geteuid() == 0) {
    ASSERT_EQ(::fchown(fd, kOtherUid, static_cast<gid_t>(-1)), 0);
  }
  ::close(fd);
  auto producer = RingProducer::open(producer_options(guard.name));
  ASSERT_FALSE(producer) << "a planted segment was reused";
  EXPECT_NE(producer.error().message.find("mode 0666"), std::string::npos)
      << producer.error().message;
}

TEST(RingOwnership, TheProducerCreatesItsSegmentExclusivelyWithMode0660) {
  RingGuard guard{unique_ring_name("excl")};
  const mode_t old = ::umask(0);
  auto producer = RingProducer::open(producer_options(guard.name));
  ::umask(old);
  ASSERT_TRUE(producer);
  struct stat st {};
  ASSERT_EQ(::stat(("/dev/shm/" + guard.name).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  EXPECT_EQ(st.st_uid, ::geteuid());
  // It created the object (O_EXCL), so it owns it: a second producer attaches to the same one.
  auto second = RingProducer::open(producer_options(guard.name));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->header().creator_pid, static_cast<std::int32_t>(::getpid()));
  EXPECT_EQ(second->header().producer_attaches.load(), 2u);
}

}  // namespace
}  // namespace qsc::ipc
