// Multi-process tests of the ring: producers and consumers are separate processes (fork +
// exec of ring_helper) on one real shared-memory segment.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "qsc/ipc/ring.hpp"
#include "ring_test_util.hpp"

#ifndef QSC_RING_HELPER
#error "QSC_RING_HELPER must name the ring_helper executable"
#endif

namespace qsc::ipc {
namespace {

using testing::Child;
using testing::consumer_options;
using testing::make_event;
using testing::producer_options;
using testing::RingGuard;
using testing::unique_ring_name;

std::vector<std::string> helper(std::initializer_list<std::string> args) {
  std::vector<std::string> argv{QSC_RING_HELPER};
  argv.insert(argv.end(), args);
  return argv;
}

/// Parses "key=value key=value" from the last line of a helper's output.
std::map<std::string, std::uint64_t> summary(const std::string& output) {
  std::map<std::string, std::uint64_t> values;
  auto end = output.find_last_not_of('\n');
  auto begin = output.rfind('\n', end);
  std::istringstream line(output.substr(begin == std::string::npos ? 0 : begin + 1));
  std::string field;
  while (line >> field) {
    const auto eq = field.find('=');
    if (eq != std::string::npos) values[field.substr(0, eq)] = std::stoull(field.substr(eq + 1));
  }
  return values;
}

// N producers x M consumers, all separate processes. The ring holds every event, so no
// consumer can be lapped: each must see every event exactly once, in order per producer.
TEST(RingProcesses, ProducersTimesConsumersExactlyOnceInOrder) {
  RingGuard guard{unique_ring_name("nxm")};
  constexpr int kProducers = 3, kConsumers = 3;
  constexpr std::uint64_t kEach = 20000, kCapacity = 65536;
  const std::string cap = std::to_string(kCapacity);
  std::vector<std::unique_ptr<Child>> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.push_back(std::make_unique<Child>(
        helper({"consume", guard.name, cap, std::to_string(kProducers), std::to_string(kEach)})));
  }
  // Every consumer attaches (the first one creates the segment) before any producer starts.
  for (auto& c : consumers) ASSERT_EQ(c->read_line(), "READY");
  std::vector<std::unique_ptr<Child>> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.push_back(std::make_unique<Child>(
        helper({"produce", guard.name, cap, std::to_string(p), std::to_string(kEach)})));
  }
  for (auto& p : producers) EXPECT_EQ(p->wait_exit(), 0);
  for (auto& c : consumers) {
    std::string out;
    EXPECT_EQ(c->wait_exit(&out), 0) << out;
    auto s = summary(out);
    EXPECT_EQ(s["delivered"], kProducers * kEach) << out;
    EXPECT_EQ(s["lost"], 0u) << out;
    EXPECT_EQ(s["intact"], 1u) << out;
    EXPECT_EQ(s["ordered"], 1u) << out;
  }
}

// A producer that finished long before its consumer read anything: the loss is exact.
TEST(RingProcesses, LappedConsumerLosesExactlyWhatWasOverwritten) {
  RingGuard guard{unique_ring_name("exactloss")};
  constexpr std::uint64_t kCapacity = 1024, kPublished = 10000;
  auto consumer = RingConsumer::open(consumer_options(guard.name, kCapacity));
  ASSERT_TRUE(consumer) << consumer.error().message;
  Child producer(
      helper({"produce", guard.name, std::to_string(kCapacity), "0", std::to_string(kPublished)}));
  ASSERT_EQ(producer.wait_exit(), 0);
  std::vector<std::uint64_t> got;
  for (;;) {
    auto e = consumer->poll();
    ASSERT_TRUE(e) << e.error().message;
    if (!e->has_value()) break;
    ASSERT_TRUE(testing::is_intact(**e));
    got.push_back((*e)->seq);
  }
  const std::uint64_t landing = kPublished - kCapacity + kCapacity / 4;
  EXPECT_EQ(consumer->stats().lost, landing);
  EXPECT_EQ(consumer->stats().lapped, 1u);
  ASSERT_EQ(got.size(), kPublished - landing);
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], landing + i);
}

// A consumer slowed down while the producer runs at full speed: every sequence number is
// either delivered (intact, in order) or counted lost; nothing in between.
TEST(RingProcesses, SlowConsumerCountsEveryLostEvent) {
  RingGuard guard{unique_ring_name("slow")};
  constexpr std::uint64_t kCapacity = 256, kPublished = 20000;
  const std::string cap = std::to_string(kCapacity);
  Child consumer(helper({"consume", guard.name, cap, "1", std::to_string(kPublished), "--delay-us",
                         "100", "--idle-ms", "300", "--lossy"}));
  ASSERT_EQ(consumer.read_line(), "READY");
  Child producer(helper({"produce", guard.name, cap, "0", std::to_string(kPublished)}));
  ASSERT_EQ(producer.wait_exit(), 0);
  std::string out;
  ASSERT_EQ(consumer.wait_exit(&out), 0) << out;
  auto s = summary(out);
  EXPECT_GT(s["lost"], 0u) << out;
  EXPECT_GT(s["lapped"], 0u) << out;
  EXPECT_EQ(s["delivered"] + s["lost"] + s["holes"], s["position"]) << out;
  EXPECT_EQ(s["position"], kPublished) << out;  // it reached the end: every sequence accounted
  EXPECT_EQ(s["intact"], 1u) << out;
  EXPECT_EQ(s["ordered"], 1u) << out;
}

// A producer stopped between claim and commit, then SIGKILLed: readers skip the abandoned
// slot after the bounded wait, count it lost, and read what other producers publish next.
TEST(RingProcesses, ProducerKilledMidWriteDoesNotHangReaders) {
  RingGuard guard{unique_ring_name("killed")};
  constexpr std::uint64_t kCapacity = 1024;
  const std::string cap = std::to_string(kCapacity);
  auto options = consumer_options(guard.name, kCapacity);
  options.abandon_timeout = std::chrono::milliseconds(50);
  auto consumer = RingConsumer::open(options);
  ASSERT_TRUE(consumer);

  Child doomed(helper({"produce", guard.name, cap, "0", "10", "--stop-at", "5"}));
  ASSERT_TRUE(doomed.wait_stopped()) << "the producer should stop in its 6th write";
  for (std::uint64_t i = 0; i < 5; ++i) {
    auto e = consumer->next(std::chrono::milliseconds(1000));
    ASSERT_TRUE(e && e->has_value());
    EXPECT_EQ((*e)->seq, i);
  }
  // The 6th slot is claimed but never committed: next() returns empty at its timeout rather
  // than hang on it (a hang is caught by the test's timeout), and once the reader has watched
  // the slot stuck for abandon_timeout it skips it, counted lost. Polled until then: on a loaded
  // machine one 300 ms call can end before the reader has watched the slot for 50 ms.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (consumer->stats().abandoned == 0 && std::chrono::steady_clock::now() < deadline) {
    auto none = consumer->next(std::chrono::milliseconds(300));
    ASSERT_TRUE(none);
    ASSERT_FALSE(none->has_value());
  }
  EXPECT_EQ(consumer->stats().abandoned, 1u);
  EXPECT_EQ(consumer->lost(), 1u);
  doomed.kill_and_reap();

  Child next_producer(helper({"produce", guard.name, cap, "1", "500"}));
  ASSERT_EQ(next_producer.wait_exit(), 0);
  for (std::uint64_t i = 0; i < 500; ++i) {
    auto e = consumer->next(std::chrono::milliseconds(1000));
    ASSERT_TRUE(e && e->has_value());
    ASSERT_EQ((*e)->symbol, "P1");
    ASSERT_EQ((*e)->seq, i);
    ASSERT_TRUE(testing::is_intact(**e));
  }
  EXPECT_EQ(consumer->lost(), 1u);

  // Another lap reaches the abandoned slot: the producer neither waits nor writes into it
  // (the dead writer's stores could land there); it leaves a hole and claims again.
  Child lapper(helper({"produce", guard.name, cap, "2", std::to_string(kCapacity)}));
  ASSERT_EQ(lapper.wait_exit(), 0);
  EXPECT_EQ(consumer->header().hole_claims.load(), 1u);
  EXPECT_EQ(consumer->header().poisoned_slots.load(), 1u);
  EXPECT_EQ(consumer->header().producer_overruns.load(), 0u);
  // The consumer was lapped meanwhile; every sequence is still accounted for.
  for (;;) {
    auto e = consumer->poll();
    ASSERT_TRUE(e) << e.error().message;
    if (!e->has_value()) break;
    ASSERT_TRUE(testing::is_intact(**e));
  }
  const auto& s = consumer->stats();
  EXPECT_EQ(consumer->position(), consumer->tail());
  EXPECT_EQ(s.delivered + s.lost + s.holes, consumer->position());
}

// A producer restarts (same segment) while a consumer stays attached: nothing is lost.
TEST(RingProcesses, ConsumerSurvivesProducerRestart) {
  RingGuard guard{unique_ring_name("restart")};
  constexpr std::uint64_t kCapacity = 4096;
  const std::string cap = std::to_string(kCapacity);
  auto consumer = RingConsumer::open(consumer_options(guard.name, kCapacity));
  ASSERT_TRUE(consumer);
  for (int run = 0; run < 3; ++run) {
    Child producer(
        helper({"produce", guard.name, cap, "0", "100", "--start", std::to_string(run * 100)}));
    ASSERT_EQ(producer.wait_exit(), 0);
  }
  for (std::uint64_t i = 0; i < 300; ++i) {
    auto e = consumer->next(std::chrono::milliseconds(1000));
    ASSERT_TRUE(e && e->has_value());
    ASSERT_EQ((*e)->seq, i);
  }
  EXPECT_EQ(consumer->lost(), 0u);
  EXPECT_EQ(consumer->header().producer_attaches.load(), 3u);
}

// The restarted producer starts from a fresh segment (the old one removed): the consumer
// notices the replacement and re-attaches.
TEST(RingProcesses, ConsumerFollowsARecreatedSegment) {
  RingGuard guard{unique_ring_name("recreate")};
  constexpr std::uint64_t kCapacity = 256;
  const std::string cap = std::to_string(kCapacity);
  auto options = consumer_options(guard.name, kCapacity);
  options.replacement_check_interval = std::chrono::milliseconds(10);
  auto consumer = RingConsumer::open(options);
  ASSERT_TRUE(consumer);
  {
    Child producer(helper({"produce", guard.name, cap, "0", "50"}));
    ASSERT_EQ(producer.wait_exit(), 0);
  }
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(consumer->next(std::chrono::milliseconds(1000))->has_value());
  ASSERT_TRUE(remove_ring(guard.name));
  Child producer(helper({"produce", guard.name, cap, "1", "50"}));
  ASSERT_EQ(producer.wait_exit(), 0);
  for (std::uint64_t i = 0; i < 50; ++i) {
    auto e = consumer->next(std::chrono::milliseconds(2000));
    ASSERT_TRUE(e) << e.error().message;
    ASSERT_TRUE(e->has_value()) << "event " << i;
    EXPECT_EQ((*e)->symbol, "P1");
    EXPECT_EQ((*e)->seq, i);
  }
  EXPECT_EQ(consumer->stats().reattached, 1u);
}

// A consumer started before any producer creates the segment; the producer attaches later.
TEST(RingProcesses, ConsumerMayStartBeforeTheProducer) {
  RingGuard guard{unique_ring_name("early")};
  const std::string cap = "512";
  Child consumer(helper({"consume", guard.name, cap, "1", "300"}));
  ASSERT_EQ(consumer.read_line(), "READY");
  Child producer(helper({"produce", guard.name, cap, "0", "300"}));
  ASSERT_EQ(producer.wait_exit(), 0);
  std::string out;
  EXPECT_EQ(consumer.wait_exit(&out), 0) << out;
  EXPECT_EQ(summary(out)["delivered"], 300u) << out;
}

// A process attaching with another capacity is refused with the mismatch named.
TEST(RingProcesses, MismatchedCapacityIsRefusedAcrossProcesses) {
  RingGuard guard{unique_ring_name("mismatch")};
  auto consumer = RingConsumer::open(consumer_options(guard.name, 512));
  ASSERT_TRUE(consumer);
  Child producer(helper({"produce", guard.name, "1024", "0", "1"}));
  EXPECT_EQ(producer.wait_exit(), 2);
}

}  // namespace
}  // namespace qsc::ipc
