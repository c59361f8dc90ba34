// The shared-memory source on a real ring: history (oldest retained first), ranges, tailing,
// attaching before the producer, loss counts, and the missing-segment message.
#include <unistd.h>

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

}  // namespace
}  // namespace qsc::agent
