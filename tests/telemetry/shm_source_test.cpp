// The shared-memory source on a real ring: history (oldest retained first), ranges, tailing,
// attaching before the producer, loss counts, and the missing-segment message.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "qsc/ipc/ring.hpp"
#include "telemetry/shm_source.hpp"
#include "telemetry_test_util.hpp"

namespace qsc::agent {
namespace {

using qsc::test::kCutoverMs;

qsc::TradeIntent event_at(std::int64_t ms, int i) {
  auto outcome = qsc::parse_entry({qsc::test::sid(ms), qsc::test::fields_inline(i)});
  return std::get<qsc::TradeIntent>(outcome);
}

class ShmSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    name_ = "qsc_telemetry_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    (void)ipc::remove_ring(name_);
  }
  void TearDown() override { (void)ipc::remove_ring(name_); }

  ipc::RingProducer producer(std::uint64_t capacity = 64) {
    ipc::ProducerOptions o;
    o.name = name_;
    o.capacity_records = capacity;
    auto p = ipc::RingProducer::open(o);
    EXPECT_TRUE(p.ok()) << p.error().message;
    return std::move(p).value();
  }
  std::string name_;
};

TEST_F(ShmSourceTest, MissingSegmentSaysWhoCreatesIt) {
  ShmSource source(name_, ipc::WaitStrategy::kSpinThenSleep, 64);
  auto s = source.summary(std::nullopt);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("shared-memory ring " + name_ + " does not exist"),
            std::string::npos)
      << s.error().message;
  EXPECT_NE(s.error().message.find("qsc mirror"), std::string::npos);
  EXPECT_FALSE(parse_shm_wait("sometimes").ok());
  EXPECT_EQ(parse_shm_wait("spin_then_sleep").value(), ipc::WaitStrategy::kSpinThenSleep);
}

TEST_F(ShmSourceTest, ReadsRetainedHistoryOldestFirstWithRanges) {
  auto p = producer();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(p.publish(event_at(kCutoverMs - 5 + i, i)).ok());
  ShmSource source(name_, ipc::WaitStrategy::kSpinThenSleep, 64);
  auto s = source.summary(kCutoverMs);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->total_events, 10u);
  EXPECT_EQ(s->events_after.value_or(0), 5u);
  EXPECT_EQ(s->newest_event_ms.value_or(0), kCutoverMs + 4);
  EXPECT_EQ(s->events_lost, 0u);
  auto r = source.range(kCutoverMs, kCutoverMs + 3, 2);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->events.size(), 2u);
  EXPECT_EQ(r->events[0].time_ms, static_cast<std::uint64_t>(kCutoverMs + 1));
  EXPECT_EQ(r->events[1].time_ms, static_cast<std::uint64_t>(kCutoverMs + 2));
  EXPECT_EQ(r->counts.accepted, 3u);
  ASSERT_EQ(r->events[0].predictions.size(), 2u);
}

TEST_F(ShmSourceTest, OverwrittenHistoryIsCountedAsLost) {
  auto p = producer(16);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(p.publish(event_at(kCutoverMs + i, i)).ok());
  ShmSource source(name_, ipc::WaitStrategy::kSpinThenSleep, 16);
  auto r = source.range(0, std::nullopt, 100);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_LE(r->events.size(), 16u);
  EXPECT_EQ(r->events.back().time_ms, static_cast<std::uint64_t>(kCutoverMs + 39));
}

TEST_F(ShmSourceTest, TailStartsBeforeTheProducerAndDeliversEachEventOnce) {
  ShmSource source(name_, ipc::WaitStrategy::kSpinThenSleep, 64);
  EXPECT_FALSE(source.start_tail(kCutoverMs).ok());  // no ring yet: said, and retried
  auto waiting = source.poll(std::chrono::milliseconds(20));
  EXPECT_FALSE(waiting.ok());
  auto p = producer();
  ASSERT_TRUE(p.publish(event_at(kCutoverMs - 1, 0)).ok());  // before the cutover: filtered
  ASSERT_TRUE(p.publish(event_at(kCutoverMs, 1)).ok());
  std::vector<std::uint64_t> seen;
  for (int i = 0; i < 20 && seen.size() < 1; ++i) {
    auto b = source.poll(std::chrono::milliseconds(50));
    if (b) {
      for (const auto& e : b->events) seen.push_back(e.time_ms);
      EXPECT_EQ(b->events_lost, 0u);
    }
  }
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], static_cast<std::uint64_t>(kCutoverMs));
  ASSERT_TRUE(p.publish(event_at(kCutoverMs + 1, 2)).ok());
  auto more = source.poll(std::chrono::milliseconds(500));
  ASSERT_TRUE(more.ok());
  ASSERT_EQ(more->events.size(), 1u);
  auto idle = source.poll(std::chrono::milliseconds(20));
  ASSERT_TRUE(idle.ok());
  EXPECT_TRUE(idle->events.empty());
}

// Polls until nothing more comes, summing what the polls returned.
struct Drained {
  std::uint64_t events = 0;
  std::uint64_t lost = 0;
  std::uint64_t skipped = 0;
  std::uint64_t first_ms = 0;
  std::uint64_t seen = 0;  // the tail's delivered + lost after the last poll
};
Drained drain_tail(ShmSource& source) {
  Drained d;
  for (;;) {
    auto b = source.poll(std::chrono::milliseconds(20));
    EXPECT_TRUE(b.ok()) << b.error().message;
    if (!b.ok()) return d;
    if (d.events == 0 && !b->events.empty()) d.first_ms = b->events.front().time_ms;
    d.events += b->events.size();
    d.lost += b->events_lost;
    d.skipped += b->skipped_before_window;
    // Done when a poll read nothing at all (filtered history counts as read).
    const auto stats = source.tail_stats();
    const std::uint64_t seen = stats ? stats->delivered + stats->lost : 0;
    if (seen == d.seen) return d;
    d.seen = seen;
  }
}

// A tail started on a full ring (it reads the ring's 8192 records as it attaches), then
// lapped over history before its next read: what it skipped is older than from_ms. Not loss.
TEST_F(ShmSourceTest, TailLappedOverHistoryOnAFullRingReportsNoLoss) {
  constexpr std::uint64_t kCapacity = 8192;
  auto p = producer(kCapacity);
  for (int i = 0; i < 16384; ++i) ASSERT_TRUE(p.publish(event_at(kCutoverMs - 30000 + i, i)).ok());
  ShmSource source(name_, ipc::WaitStrategy::kSpinThenSleep, kCapacity);
  // The ring is full: the tail starts an eighth of a ring in and reads ahead 9216..16383.
  ASSERT_TRUE(source.start_tail(kCutoverMs).ok());
  // 9000 more history records lap the tail, then 20 in the window: the lap from 16384 lands
  // at 25404 - 8192 + 2048 = 19260, still history, skipping 2876.
  for (int i = 0; i < 9000; ++i) ASSERT_TRUE(p.publish(event_at(kCutoverMs - 10000 + i, i)).ok());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(p.publish(event_at(kCutoverMs + i, i)).ok());
  const auto d = drain_tail(source);
  EXPECT_EQ(d.lost, 0u);
  EXPECT_EQ(d.skipped, 2876u);
  EXPECT_EQ(d.events, 20u);
  EXPECT_EQ(d.first_ms, static_cast<std::uint64_t>(kCutoverMs));
  EXPECT_EQ(source.tail_stats()->lost, 2876u);  // the ring's own count is unchanged
}

// The same lap, but the records it skips are the window's: every one of them is counted.
TEST_F(ShmSourceTest, TailLappedOverTheWindowReportsItsExactLoss) {
  constexpr std::uint64_t kCapacity = 8192;
  auto p = producer(kCapacity);
  for (int i = 0; i < 16384; ++i) ASSERT_TRUE(p.publish(event_at(kCutoverMs + i, i)).ok());
  ShmSource source(name_, ipc::WaitStrategy::kSpinThenSleep, kCapacity);
  // The ring is full: the tail starts an eighth of a ring in and reads ahead 9216..16383.
  ASSERT_TRUE(source.start_tail(kCutoverMs).ok());
  for (int i = 16384; i < 25384; ++i) ASSERT_TRUE(p.publish(event_at(kCutoverMs + i, i)).ok());
  const auto d = drain_tail(source);
  // The lap from 16384 lands at 25384 - 8192 + 2048 = 19240: 2856 window events lost.
  EXPECT_EQ(d.lost, 2856u);
  EXPECT_EQ(d.skipped, 0u);
  EXPECT_EQ(d.events + d.lost, 25384u - (8192u + 8192u / 8));
  // Lapped again later, after the window began: counted exactly as well.
  for (int i = 25384; i < 25384 + 9000; ++i) {
    ASSERT_TRUE(p.publish(event_at(kCutoverMs + i, i)).ok());
  }
  const auto again = drain_tail(source);
  EXPECT_EQ(again.events + again.lost, 9000u);
  EXPECT_GT(again.lost, 0u);
  EXPECT_EQ(again.skipped, 0u);
}

// History before the window, then the window itself, with a window record older than from_ms
// after it (another producer's clock): loss after the window began counts, whatever follows.
TEST_F(ShmSourceTest, LedgerCountsLossOnceTheWindowHasBegun) {
  LossLedger ledger(kCutoverMs);
  ledger.on_record(5, kCutoverMs - 10);  // 5 lost before a history record: skipped
  ledger.on_record(5, kCutoverMs);       // the window begins
  ledger.on_record(8, kCutoverMs - 1);   // 3 lost after it: counted, though the record is old
  ledger.settle(9);                      // 1 lost at the end, no record after it: counted
  TelemetryBatch batch;
  ledger.flush_into(batch);
  EXPECT_EQ(batch.skipped_before_window, 5u);
  EXPECT_EQ(batch.events_lost, 4u);
  // A bounded read: loss before the oldest of the newest 3 accepted events is outside them.
  LossLedger bounded(kCutoverMs);
  bounded.on_record(4, kCutoverMs, 0);      // 4 lost before any event: evicted
  bounded.on_record(6, kCutoverMs + 5, 2);  // 2 lost after 2 of 6 events (oldest kept: #3)
  bounded.on_record(7, kCutoverMs + 9, 5);  // 1 lost among the kept ones: counted
  TelemetryBatch window;
  bounded.flush_into(window, 3, 6);
  EXPECT_EQ(window.skipped_before_window, 6u);
  EXPECT_EQ(window.events_lost, 1u);
  LossLedger unbounded;  // no window: every loss counts
  unbounded.on_record(7, 0);
  TelemetryBatch all;
  unbounded.flush_into(all);
  EXPECT_EQ(all.events_lost, 7u);
}

// A real producer thread publishing history as fast as it can on a small ring while a tail
// (started after the ring filled), ranges and summaries read it; then the window's events,
// paced so a reader that keeps up loses nothing. Nothing counts as lost; the laps over the
// history are reported apart.
TEST_F(ShmSourceTest, BusyRingStartedAfterItFilledReportsNoLossForTheWindow) {
  constexpr std::uint64_t kCapacity = 64;
  constexpr int kWindowEvents = 2000;
  auto p = producer(kCapacity);
  std::atomic<bool> stop_history{false};
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> history_published{0};
  std::atomic<bool> abandon{false};  // the test failed early: the engine stops at once
  std::thread engine([&] {
    std::int64_t ms = kCutoverMs - 10'000'000;
    while (!stop_history.load()) {
      ASSERT_TRUE(p.publish(event_at(ms++, 1)).ok());
      history_published.fetch_add(1);
    }
    // The window: at most a quarter ring ahead of what the tail has read.
    for (int i = 0; i < kWindowEvents; ++i) {
      while (static_cast<std::uint64_t>(i) >= delivered.load() + kCapacity / 4) {
        if (abandon.load()) return;
        std::this_thread::yield();
      }
      ASSERT_TRUE(p.publish(event_at(kCutoverMs + i, i)).ok());
    }
  });
  // Joins the engine however the test ends (a failed ASSERT returns early).
  struct Join {
    std::thread& t;
    std::atomic<bool>& stop;
    std::atomic<bool>& abandon;
    ~Join() {
      stop.store(true);
      abandon.store(true);
      if (t.joinable()) t.join();
    }
  } join{engine, stop_history, abandon};
  while (history_published.load() < 10 * kCapacity) std::this_thread::yield();

  ShmSource source(name_, ipc::WaitStrategy::kSpinThenSleep, kCapacity);
  ShmSource reader(name_, ipc::WaitStrategy::kSpinThenSleep, kCapacity);
  ASSERT_TRUE(source.start_tail(kCutoverMs).ok());
  std::uint64_t lost = 0;
  std::uint64_t skipped = 0;
  std::uint64_t range_lost = 0;
  std::uint64_t range_skipped = 0;
  // Reads while the history is still flowing (the ring is lapped over and over).
  for (int round = 0; round < 50; ++round) {
    auto r = reader.range(kCutoverMs, std::nullopt, 100);
    ASSERT_TRUE(r.ok()) << r.error().message;
    range_lost += r->events_lost;
    range_skipped += r->skipped_before_window;
    EXPECT_TRUE(r->events.empty());
    auto s = reader.summary(kCutoverMs);
    ASSERT_TRUE(s.ok()) << s.error().message;
    range_lost += s->events_lost;
    range_skipped += s->skipped_before_window;
    auto b = source.poll(std::chrono::milliseconds(1));
    ASSERT_TRUE(b.ok()) << b.error().message;
    lost += b->events_lost;
    skipped += b->skipped_before_window;
    EXPECT_TRUE(b->events.empty());
  }
  stop_history.store(true);
  std::vector<std::uint64_t> times;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (times.size() < static_cast<std::size_t>(kWindowEvents) &&
         std::chrono::steady_clock::now() < deadline) {
    auto b = source.poll(std::chrono::milliseconds(50));
    ASSERT_TRUE(b.ok()) << b.error().message;
    lost += b->events_lost;
    skipped += b->skipped_before_window;
    for (const auto& e : b->events) times.push_back(e.time_ms);
    delivered.store(times.size());
  }
  stop_history.store(true);
  engine.join();
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(range_lost, 0u);
  ASSERT_EQ(times.size(), static_cast<std::size_t>(kWindowEvents));
  for (int i = 0; i < kWindowEvents; ++i) {
    ASSERT_EQ(times[static_cast<std::size_t>(i)], static_cast<std::uint64_t>(kCutoverMs + i));
  }
  // The readers were lapped over the history (a 64-record ring under a free-running
  // producer); what they skipped is reported apart (informational: timing decides how much).
  RecordProperty("tail_skipped_before_window", std::to_string(skipped));
  RecordProperty("range_skipped_before_window", std::to_string(range_skipped));
}

// The gate's read on a busy ring whose every record is in the window: the scan is lapped at
// its start, over events older than the newest max_events it keeps. Not loss.
TEST_F(ShmSourceTest, BoundedRangeOnABusyRingReportsNoLossBeforeItsWindow) {
  constexpr std::uint64_t kCapacity = 4096;
  auto p = producer(kCapacity);
  for (std::uint64_t i = 0; i < 2 * kCapacity; ++i) {
    ASSERT_TRUE(p.publish(event_at(kCutoverMs + static_cast<std::int64_t>(i), 1)).ok());
  }
  std::atomic<bool> stop{false};
  std::thread engine([&] {
    std::int64_t ms = kCutoverMs + static_cast<std::int64_t>(2 * kCapacity);
    while (!stop.load()) {  // about 50,000 events/s, in bursts
      for (int k = 0; k < 50; ++k) (void)p.publish(event_at(ms++, 1));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  ShmSource source(name_, ipc::WaitStrategy::kSpinThenSleep, kCapacity);
  std::uint64_t lost = 0;
  std::uint64_t skipped = 0;
  for (int round = 0; round < 20; ++round) {
    auto r = source.range(kCutoverMs, std::nullopt, 100);
    if (!r.ok()) {
      ADD_FAILURE() << r.error().message;
      break;
    }
    EXPECT_EQ(r->events.size(), 100u);
    lost += r->events_lost;
    skipped += r->skipped_before_window;
  }
  stop.store(true);
  engine.join();
  EXPECT_EQ(lost, 0u);
  RecordProperty("range_skipped_before_window", std::to_string(skipped));
}

// Issue 13 item 8: what a producer could not publish as an event reaches the source as a
// rejected entry, counted by reason like a rejected Redis entry, in summaries, ranges and the
// tail alike.
TEST_F(ShmSourceTest, RejectedEntriesAreCountedByReasonInEveryRead) {
  auto p = producer();
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(p.publish(event_at(kCutoverMs + i, i)).ok());
  ASSERT_TRUE(
      p.publish_rejected(kCutoverMs + 10, 0, qsc::RejectReason::kMalformedJson, "payload").ok());
  qsc::TradeIntent too_many = event_at(kCutoverMs + 11, 0);
  while (too_many.predictions.size() <= ipc::kMaxPredictions) {
    too_many.predictions.push_back(too_many.predictions.front());
  }
  EXPECT_FALSE(p.publish(too_many).ok());
  ipc::Record empty{};
  empty.time_ms = kCutoverMs + 12;
  empty.side = ipc::kNoSide;
  ASSERT_TRUE(p.publish_record(empty).ok());

  ShmSource source(name_, ipc::WaitStrategy::kSpinThenSleep, 64);
  const auto check = [&](const qsc::ParseCounts& c, const std::vector<qsc::Rejection>& kept) {
    EXPECT_EQ(c.accepted, 6u);
    EXPECT_EQ(c.rejected_total(), 3u);
    EXPECT_EQ(c.rejected[static_cast<std::size_t>(qsc::RejectReason::kMalformedJson)], 1u);
    EXPECT_EQ(c.rejected[static_cast<std::size_t>(qsc::RejectReason::kTooLarge)], 1u);
    EXPECT_EQ(c.rejected[static_cast<std::size_t>(qsc::RejectReason::kMissingField)], 1u);
    ASSERT_EQ(kept.size(), 3u);
    EXPECT_EQ(kept[0].entry_id, std::to_string(kCutoverMs + 10) + "-0");
  };
  auto s = source.summary(std::nullopt);
  ASSERT_TRUE(s.ok()) << s.error().message;
  check(s->counts, s->rejections);
  auto r = source.range(kCutoverMs, std::nullopt, 100);
  ASSERT_TRUE(r.ok()) << r.error().message;
  check(r->counts, r->rejections);
  EXPECT_EQ(r->events.size(), 6u);

  ASSERT_TRUE(source.start_tail(kCutoverMs).ok());
  auto t = source.poll(std::chrono::milliseconds(1000));
  ASSERT_TRUE(t.ok()) << t.error().message;
  check(t->counts, t->rejections);
}

// The monitor hands each polled batch back (recycle) once its step has swapped the events
// out: the next poll reads its records into those events, so their prediction vectors keep
// their storage (no allocation per event), and the events read are the ones published.
TEST_F(ShmSourceTest, APollReadsItsRecordsIntoTheEventsOfARecycledBatch) {
  auto p = producer();
  ShmSource source(name_, ipc::WaitStrategy::kSpinThenSleep, 64);
  ASSERT_TRUE(source.start_tail(kCutoverMs).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(p.publish(event_at(kCutoverMs + i, i)).ok());
  auto first = source.poll(std::chrono::milliseconds(1000));
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(first->events.size(), 3u);
  std::vector<const qsc::Prediction*> storage;
  for (const auto& e : first->events) storage.push_back(e.predictions.data());
  source.recycle(std::move(*first));

  for (int i = 3; i < 6; ++i) ASSERT_TRUE(p.publish(event_at(kCutoverMs + i, i)).ok());
  auto second = source.poll(std::chrono::milliseconds(1000));
  ASSERT_TRUE(second.ok()) << second.error().message;
  ASSERT_EQ(second->events.size(), 3u);
  EXPECT_EQ(second->counts.accepted, 3u);
  for (int i = 3; i < 6; ++i) {
    SCOPED_TRACE(i);
    const auto& got = second->events[static_cast<std::size_t>(i - 3)];
    const auto want = event_at(kCutoverMs + i, i);
    EXPECT_EQ(got.time_ms, want.time_ms);
    EXPECT_EQ(got.symbol, want.symbol);
    EXPECT_EQ(got.side, want.side);
    ASSERT_EQ(got.predictions.size(), want.predictions.size());
    for (std::size_t k = 0; k < want.predictions.size(); ++k) {
      EXPECT_EQ(got.predictions[k].model, want.predictions[k].model);
      EXPECT_EQ(got.predictions[k].action, want.predictions[k].action);
      EXPECT_DOUBLE_EQ(got.predictions[k].confidence, want.predictions[k].confidence);
    }
    // Read into one of the recycled events (the first batch's are still held by nobody else).
    EXPECT_NE(std::find(storage.begin(), storage.end(), got.predictions.data()), storage.end());
  }
}

TEST_F(ShmSourceTest, ShmOwnerIsAUserNameOrAUid) {
  EXPECT_EQ(parse_shm_owner("").value(), std::nullopt);
  EXPECT_EQ(parse_shm_owner("0").value(), std::optional<uid_t>(0));
  EXPECT_EQ(parse_shm_owner("root").value(), std::optional<uid_t>(0));
  auto unknown = parse_shm_owner("no_such_user_qsc");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("telemetry.shm_owner \"no_such_user_qsc\""),
            std::string::npos)
      << unknown.error().message;
  EXPECT_FALSE(parse_shm_owner("99999999999").ok());
  EXPECT_FALSE(ShmSource::open(name_, "block", "no_such_user_qsc").ok());
}

TEST_F(ShmSourceTest, ASegmentOthersMayWriteIsRefusedWithTheFix) {
  auto p = producer();
  ASSERT_TRUE(p.publish(event_at(kCutoverMs, 0)).ok());
  ASSERT_EQ(::chmod(("/dev/shm/" + name_).c_str(), 0666), 0);
  ShmSource source(name_, ipc::WaitStrategy::kSpinThenSleep, 64);
  auto s = source.summary(std::nullopt);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("mode 0666"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("chmod o-w /dev/shm/" + name_), std::string::npos)
      << s.error().message;
}

TEST_F(ShmSourceTest, ASegmentOfAnotherUserIsReadOnlyWhenItIsTheConfiguredOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the segment to another uid";
  auto p = producer();
  ASSERT_TRUE(p.publish(event_at(kCutoverMs, 0)).ok());
  ASSERT_EQ(::chown(("/dev/shm/" + name_).c_str(), 65534, static_cast<gid_t>(-1)), 0);
  ShmSource untrusting(name_, ipc::WaitStrategy::kSpinThenSleep, 64);
  auto refused = untrusting.summary(std::nullopt);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("owned by uid 65534"), std::string::npos)
      << refused.error().message;
  ShmSource trusting(name_, ipc::WaitStrategy::kSpinThenSleep, 64, uid_t{65534});
  auto read = trusting.summary(std::nullopt);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->counts.accepted, 1u);
}

}  // namespace
}  // namespace qsc::agent
