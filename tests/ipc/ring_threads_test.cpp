// Multi-threaded tests of the ring (run under ThreadSanitizer in CI: label `tsan`). Threads
// in one process share one mapping, so TSan sees every access to the slots and counters.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "qsc/ipc/ring.hpp"
#include "ring_test_util.hpp"

namespace qsc::ipc {
namespace {

using testing::make_event;
using testing::RingGuard;
using testing::unique_ring_name;

struct ConsumerReport {
  std::uint64_t delivered = 0, lost = 0, holes = 0, history_passed = 0;
  std::uint64_t start = 0, position = 0;  // where the consumer started and ended
  bool intact = true, ordered = true;
};

// Reads until the cursor passed sequence `total` or nothing arrives for 2 s; checks every
// record and the per-producer order.
ConsumerReport consume(const std::string& name, std::uint64_t capacity, int producers,
                       std::uint64_t total, WaitStrategy wait, bool slow) {
  ConsumerReport report;
  ConsumerOptions options = testing::consumer_options(name, capacity);
  options.wait = wait;
  // No producer dies here: under TSan on a loaded host a preempted one must not look dead.
  options.abandon_timeout = std::chrono::seconds(30);
  auto consumer = RingConsumer::open(options);
  if (!consumer) {
    ADD_FAILURE() << consumer.error().message;
    report.intact = false;
    return report;
  }
  std::vector<std::int64_t> last(static_cast<std::size_t>(producers), -1);
  std::uint64_t n = 0;
  report.start = consumer->position();  // later than 0 if producers were already running
  while (consumer->position() < total) {
    auto e = consumer->next(std::chrono::milliseconds(2000));
    if (!e || !e->has_value()) break;
    const TradeIntent& event = **e;
    const int p = testing::producer_of(event);
    if (p < 0 || p >= producers || !testing::is_intact(event)) {
      report.intact = false;
      continue;
    }
    if (static_cast<std::int64_t>(event.seq) <= last[static_cast<std::size_t>(p)])
      report.ordered = false;
    last[static_cast<std::size_t>(p)] = static_cast<std::int64_t>(event.seq);
    if (slow && ++n % 16 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  report.delivered = consumer->stats().delivered;
  report.lost = consumer->stats().lost;
  report.holes = consumer->stats().holes;
  report.history_passed = consumer->stats().history_passed;
  report.position = consumer->position();
  return report;
}

// Publishes `count` events one by one, or (batch > 0) with publish_records in batches of 1 to
// `batch` records. `failures` counts failed calls.
void produce(const std::string& name, std::uint64_t capacity, int producer, std::uint64_t count,
             std::atomic<std::uint64_t>* failures, std::uint64_t batch = 0) {
  auto ring = RingProducer::open(testing::producer_options(name, capacity));
  if (!ring) {
    ADD_FAILURE() << ring.error().message;
    failures->fetch_add(count);
    return;
  }
  std::vector<Record> records;
  std::uint64_t size = batch;  // of the next batch
  for (std::uint64_t i = 0; i < count; ++i) {
    const TradeIntent event = make_event(static_cast<std::uint32_t>(producer), i);
    if (batch == 0) {
      if (!ring->publish(event)) failures->fetch_add(1);
      continue;
    }
    auto record = ring->encode(event);
    if (!record) {
      ADD_FAILURE() << record.error().message;
      return;
    }
    records.push_back(*record);
    if (records.size() == size || i + 1 == count) {
      if (!ring->publish_records(records)) failures->fetch_add(1);
      records.clear();
      size = 1 + (size * 7 + i) % batch;  // vary the batch size
    }
  }
}

// N producers x M consumers that keep up: every event delivered exactly once, in order per
// producer. `batch` > 0: producers publish with publish_records (one claim per batch).
void exactly_once(const std::string& tag, WaitStrategy first_wait, std::uint64_t batch) {
  RingGuard guard{unique_ring_name(tag)};
  constexpr int kProducers = 3, kConsumers = 2;
  constexpr std::uint64_t kEach = 3000, kCapacity = 16384;
  ConsumerOptions create;
  create.name = guard.name;
  create.capacity_records = kCapacity;
  auto anchor = RingConsumer::open(create);  // creates the segment before anyone publishes
  ASSERT_TRUE(anchor);
  std::vector<ConsumerReport> reports(kConsumers);
  std::vector<std::thread> threads;
  const WaitStrategy waits[] = {first_wait, WaitStrategy::kBlock};
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&, c] {
      reports[c] = consume(guard.name, kCapacity, kProducers, kProducers * kEach, waits[c], false);
    });
  }
  std::atomic<std::uint64_t> failures{0};
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] { produce(guard.name, kCapacity, p, kEach, &failures, batch); });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_EQ(anchor->tail(), kProducers * kEach);
  for (const auto& r : reports) {
    EXPECT_EQ(r.delivered, kProducers * kEach);
    EXPECT_EQ(r.lost, 0u);
    EXPECT_TRUE(r.intact);
    EXPECT_TRUE(r.ordered);
  }
}

// A tiny ring, fast producers and a slowed consumer: lapping, copies torn by a concurrent
// rewrite (detected and discarded; records of different lengths share slots) and exact
// accounting, all under TSan.
void lapping(const std::string& tag, std::uint64_t batch) {
  RingGuard guard{unique_ring_name(tag)};
  constexpr int kProducers = 2;
  constexpr std::uint64_t kEach = 20000, kCapacity = 64;
  ConsumerOptions create;
  create.name = guard.name;
  create.capacity_records = kCapacity;
  auto anchor = RingConsumer::open(create);
  ASSERT_TRUE(anchor);
  ConsumerReport fast, slow;
  std::atomic<std::uint64_t> failures{0};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    fast =
        consume(guard.name, kCapacity, kProducers, kProducers * kEach, WaitStrategy::kSpin, false);
  });
  threads.emplace_back([&] {
    slow = consume(guard.name, kCapacity, kProducers, kProducers * kEach,
                   WaitStrategy::kSpinThenSleep, true);
  });
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] { produce(guard.name, kCapacity, p, kEach, &failures, batch); });
  }
  for (auto& t : threads) t.join();
  for (const ConsumerReport* r : {&fast, &slow}) {
    EXPECT_TRUE(r->intact);
    EXPECT_TRUE(r->ordered);
    // Every sequence number it passed is accounted for exactly once.
    EXPECT_EQ(r->delivered + r->lost + r->holes + r->history_passed, r->position - r->start);
  }
  // The producers never waited: every claimed number carried a record (published, or dropped
  // as an overrun) or was left as a hole.
  EXPECT_EQ(anchor->tail(), kProducers * kEach + anchor->header().hole_claims.load());
  if (batch == 0) {
    EXPECT_EQ(failures.load(), anchor->header().producer_overruns.load());
  } else {  // one failed call may have dropped several records
    EXPECT_LE(failures.load(), anchor->header().producer_overruns.load());
    EXPECT_EQ(failures.load() == 0, anchor->header().producer_overruns.load() == 0);
  }
  EXPECT_GT(slow.lost, 0u);
}

TEST(RingThreads, ProducersTimesConsumersExactlyOnce) {
  exactly_once("thr_nxm", WaitStrategy::kSpinThenSleep, 0);
}

TEST(RingThreads, BatchedProducersExactlyOnce) {
  exactly_once("thr_batch", WaitStrategy::kSpin, 16);
}

TEST(RingThreads, LappingIsDetectedAndCountedExactly) {
  lapping("thr_lap", 0);
}

TEST(RingThreads, BatchedLappingIsCountedExactly) {
  lapping("thr_batch_lap", 24);
}

TEST(RingThreads, BlockingConsumerWakesOnPublish) {
  RingGuard guard{unique_ring_name("thr_block")};
  ConsumerOptions options;
  options.name = guard.name;
  options.capacity_records = 64;
  options.wait = WaitStrategy::kBlock;
  auto consumer = RingConsumer::open(options);
  ASSERT_TRUE(consumer);
  std::thread producer([&] {
    ProducerOptions po;
    po.name = guard.name;
    po.capacity_records = 64;
    auto ring = RingProducer::open(po);
    ASSERT_TRUE(ring);
    for (std::uint64_t i = 0; i < 20; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      ASSERT_TRUE(ring->publish(make_event(0, i)));
    }
  });
  for (std::uint64_t i = 0; i < 20; ++i) {
    auto e = consumer->next(std::chrono::milliseconds(5000));
    ASSERT_TRUE(e && e->has_value());
    EXPECT_EQ((*e)->seq, i);
  }
  producer.join();
  EXPECT_EQ(consumer->header().sleepers.load(), 0u);
}

// Many producers interning the same names at once end up agreeing on what each index means.
TEST(RingThreads, ConcurrentInterningIsConsistent) {
  RingGuard guard{unique_ring_name("thr_intern")};
  ConsumerOptions options;
  options.name = guard.name;
  options.capacity_records = 1024;
  auto consumer = RingConsumer::open(options);
  ASSERT_TRUE(consumer);
  std::atomic<std::uint64_t> failures{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < 4; ++p) {
    threads.emplace_back([&, p] { produce(guard.name, 1024, p, 50, &failures); });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0u);
  for (int i = 0; i < 200; ++i) {
    auto e = consumer->poll();
    ASSERT_TRUE(e && e->has_value());
    EXPECT_TRUE(testing::is_intact(**e));
  }
}

}  // namespace
}  // namespace qsc::ipc
