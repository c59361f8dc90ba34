// The ring's wake protocol across processes (docs/design.md, "The ring's wake protocol"): a
// blocking consumer that asks for the record S past its position (the wake watermark) sleeps
// through the commits before it and is woken by the one that reaches it; a record that must not
// wait wakes it at once; a consumer that wants every commit beside it is still woken at each;
// and producers and consumers built before the watermark share the ring with new ones, neither
// leaving the other asleep.
//
// The test process publishes; the consumers are ring_helper processes ("wait"). Whether a
// commit woke anyone is read from the futex word itself (a producer bumps it exactly when it
// wakes), and whether a consumer is asleep from /proc/PID/syscall (blocked in futex): no timing.
#include <gtest/gtest.h>
#include <sys/syscall.h>

#include <chrono>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "qsc/ipc/ring.hpp"
#include "ring_test_util.hpp"

#ifndef QSC_RING_HELPER
#error "QSC_RING_HELPER must name the ring_helper executable"
#endif

namespace qsc::ipc {
namespace {

using namespace testing;  // qsc::ipc::testing: ring_test_util.hpp

constexpr std::uint64_t kCapacity = 1024;

// A consumer process that waits `count` times for `wake_after` records.
std::unique_ptr<Child> waiter(const std::string& name, std::uint64_t wake_after,
                              std::uint64_t count, bool legacy = false,
                              const std::string& watch = {}) {
  std::vector<std::string> argv{
      QSC_RING_HELPER,      "wait", name, std::to_string(kCapacity), std::to_string(wake_after),
      std::to_string(count)};
  if (legacy) argv.emplace_back("--legacy");
  if (!watch.empty()) {
    argv.emplace_back("--watch");
    argv.emplace_back(watch);
  }
  return std::make_unique<Child>(argv);
}

// An event with no inactive prediction and valid confidences: nothing in it needs a prompt wake.
TradeIntent quiet_event(std::uint64_t index) {
  TradeIntent e = make_event(0, index);
  for (auto& p : e.predictions) p.inactive = InactiveReason::kNone;
  return e;
}

// True when `pid`'s (single) thread is blocked in the futex system call.
bool in_futex(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/syscall");
  long number = -1;
  return (in >> number) && number == SYS_futex;
}

// Waits (bounded) until `pid` sleeps in the futex with `sleepers` consumers counted asleep.
::testing::AssertionResult asleep(pid_t pid, const SegmentHeader& h, std::uint32_t sleepers) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (h.sleepers.load() == sleepers && in_futex(pid)) return ::testing::AssertionSuccess();
    std::this_thread::yield();
  }
  return ::testing::AssertionFailure()
         << "pid " << pid << " not asleep in the futex (" << h.sleepers.load() << " sleepers)";
}

Result<RingProducer> open_producer(const std::string& name, bool legacy = false) {
  auto options = producer_options(name, kCapacity);
  options.test_legacy_wake = legacy;
  return RingProducer::open(options);
}

// One ring per test: the test process's producer and the consumer processes it starts.
class RingWake : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(open(/*legacy=*/false)); }

  // (Re)opens the test's producer; `legacy`: as built before the watermark.
  void open(bool legacy) {
    auto p = open_producer(guard_.name, legacy);
    ASSERT_TRUE(p) << p.error().message;
    producer_.emplace(std::move(p).value());
  }
  // Starts a waiter (see waiter()) and waits until it has attached.
  Child& start(std::uint64_t wake_after, std::uint64_t count, bool legacy = false,
               const std::string& watch = {}) {
    children_.push_back(waiter(guard_.name, wake_after, count, legacy, watch));
    EXPECT_EQ(children_.back()->read_line(), "READY");
    return *children_.back();
  }
  const SegmentHeader& h() const { return producer_->header(); }
  RingProducer& producer() { return *producer_; }

  RingGuard guard_{unique_ring_name("wake")};

 private:
  std::optional<RingProducer> producer_;
  std::vector<std::unique_ptr<Child>> children_;
};

// Asking for the 5th record, a consumer sleeps through the first 4 commits (no wake at all)
// and is woken by the 5th, which finds all 5 ready. Before the watermark every commit woke it.
TEST_F(RingWake, WatermarkConsumerSleepsUntilItsRecord) {
  const SegmentHeader& h = this->h();
  Child& w = start(5, 1);
  ASSERT_TRUE(asleep(w.pid(), h, 1));
  const std::uint32_t before = h.wake_futex.load();
  for (std::uint64_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(producer().publish(quiet_event(i)));
    EXPECT_EQ(h.wake_futex.load(), before) << "commit " << i << " woke the consumer";
  }
  EXPECT_TRUE(in_futex(w.pid()));
  ASSERT_TRUE(producer().publish(quiet_event(4)));
  EXPECT_NE(h.wake_futex.load(), before);
  EXPECT_EQ(w.read_line(), "seq=0 ready=5");
  EXPECT_EQ(w.wait_exit(), 0);
  EXPECT_EQ(h.wake_at_inverted.load(), 0u) << "the watermark is taken down when reached";
}

// A rejected entry must not wait for the watermark (QSC_UNLESS_REJECTED_ENTRY): it wakes the
// consumer at once, which returns the events before it first.
TEST_F(RingWake, RejectedRecordWakesAtOnce) {
  const SegmentHeader& h = this->h();
  Child& w = start(100, 1);
  ASSERT_TRUE(asleep(w.pid(), h, 1));
  const std::uint32_t before = h.wake_futex.load();
  ASSERT_TRUE(producer().publish(quiet_event(0)));
  ASSERT_TRUE(producer().publish(quiet_event(1)));
  EXPECT_EQ(h.wake_futex.load(), before);
  ASSERT_TRUE(producer().publish_rejected(1'700'000'000'002ULL, 2, RejectReason::kWrongType, "x"));
  EXPECT_NE(h.wake_futex.load(), before);
  EXPECT_EQ(w.read_line(), "seq=0 ready=3");
  EXPECT_EQ(w.wait_exit(), 0);
}

// So do an inactive prediction and a confidence violation (QSC_UNLESS_CANARY_INACTIVE,
// _CANARY_CONFIDENCE_VIOLATION: the ring knows no canary, so any model's prediction wakes).
TEST_F(RingWake, InactiveOrViolatingPredictionWakesAtOnce) {
  for (const bool inactive : {true, false}) {
    SCOPED_TRACE(inactive ? "inactive" : "violation");
    const SegmentHeader& h = this->h();
    Child& w = start(100, 1);
    ASSERT_TRUE(asleep(w.pid(), h, 1));
    const std::uint32_t before = h.wake_futex.load();
    ASSERT_TRUE(producer().publish(quiet_event(0)));
    EXPECT_EQ(h.wake_futex.load(), before);
    TradeIntent e = quiet_event(1);
    if (inactive) {
      e.predictions.back().inactive = InactiveReason::kShadow;
    } else {
      e.predictions.back().confidence_status = ConfidenceStatus::kNaN;
      e.predictions.back().confidence = std::numeric_limits<double>::quiet_NaN();
    }
    ASSERT_TRUE(producer().publish(e));
    EXPECT_NE(h.wake_futex.load(), before);
    EXPECT_EQ(w.read_line(), "seq=0 ready=2");
    EXPECT_EQ(w.wait_exit(), 0);
  }
}

// A consumer that watches a model (the monitor's canary) is woken at once by that model's
// inactive prediction only: another model's (a shadow model publishes them at every event)
// waits for the watermark. Until the watched model is interned it takes no watermark at all.
TEST_F(RingWake, OnlyTheWatchedModelsAbnormalPredictionWakesAtOnce) {
  const SegmentHeader& h = this->h();
  const std::string canary = testing::kModels[1];
  // Not interned yet: the consumer waits for every commit (its first record wakes it).
  Child& w = start(100, 3, false, canary);
  ASSERT_TRUE(asleep(w.pid(), h, 1));
  EXPECT_EQ(h.plain_sleepers.load(), 1u);
  TradeIntent first = quiet_event(1);
  ASSERT_GE(first.predictions.size(), 2u);  // interns the canary's name
  ASSERT_TRUE(producer().publish(first));
  EXPECT_EQ(w.read_line(), "seq=1 ready=1");
  // Interned now: a watermark, which another model's inactive prediction does not reach.
  ASSERT_TRUE(asleep(w.pid(), h, 1));
  EXPECT_EQ(h.plain_sleepers.load(), 0u);
  const std::uint32_t before = h.wake_futex.load();
  TradeIntent shadow = quiet_event(2);
  for (auto& p : shadow.predictions) {
    if (p.model != canary) p.inactive = InactiveReason::kShadow;
  }
  ASSERT_TRUE(producer().publish(shadow));
  EXPECT_EQ(h.wake_futex.load(), before) << "another model's inactive prediction woke it";
  TradeIntent fallback = quiet_event(3);
  for (auto& p : fallback.predictions) {
    if (p.model == canary) p.inactive = InactiveReason::kFallback;
  }
  ASSERT_TRUE(producer().publish(fallback));
  EXPECT_NE(h.wake_futex.load(), before);
  EXPECT_EQ(w.read_line(), "seq=2 ready=2");
  EXPECT_EQ(w.read_line(), "seq=3 ready=1");
  EXPECT_EQ(w.wait_exit(), 0);
}

// A consumer that wants every commit (`qsc mirror`, `qsc telemetry`) beside a watermark one is
// woken at each commit, as before; the watermark consumer is woken with it (one futex word).
TEST_F(RingWake, PlainConsumerBesideIsWokenAtEveryCommit) {
  const SegmentHeader& h = this->h();
  Child& w = start(100, 1);
  Child& plain = start(1, 3);
  ASSERT_TRUE(asleep(w.pid(), h, 2));
  ASSERT_TRUE(asleep(plain.pid(), h, 2));
  for (std::uint64_t i = 0; i < 3; ++i) {
    if (i > 0) {
      ASSERT_TRUE(asleep(plain.pid(), h, 1));
    }
    const std::uint32_t before = h.wake_futex.load();
    ASSERT_TRUE(producer().publish(quiet_event(i)));
    EXPECT_NE(h.wake_futex.load(), before) << "commit " << i;
    EXPECT_EQ(plain.read_line(), "seq=" + std::to_string(i) + " ready=1");
    if (i == 0) {
      EXPECT_EQ(w.read_line(), "seq=0 ready=1");
      EXPECT_EQ(w.wait_exit(), 0);
    }
  }
  EXPECT_EQ(plain.wait_exit(), 0);
}

// A producer built before the watermark (an engine not rebuilt) wakes at every commit while
// anyone sleeps: a watermark consumer counts itself where that producer looks, so it is never
// left asleep until its timeout; it just gains nothing.
TEST_F(RingWake, OldProducerWakesAWatermarkConsumerAtEveryCommit) {
  ASSERT_NO_FATAL_FAILURE(open(/*legacy=*/true));
  const SegmentHeader& h = this->h();
  Child& w = start(100, 2);
  for (std::uint64_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(asleep(w.pid(), h, 1));
    const std::uint32_t before = h.wake_futex.load();
    ASSERT_TRUE(producer().publish(quiet_event(i)));
    EXPECT_NE(h.wake_futex.load(), before);
    EXPECT_EQ(w.read_line(), "seq=" + std::to_string(i) + " ready=1");
  }
  EXPECT_EQ(w.wait_exit(), 0);
}

// A consumer built before the watermark counts itself only in `sleepers`: once one has attached,
// new producers wake at every commit while anyone sleeps, for the segment's life.
TEST_F(RingWake, OldConsumerBesideIsWokenAtEveryCommit) {
  const SegmentHeader& h = this->h();
  Child& old = start(100, 3, /*legacy=*/true);
  EXPECT_NE(h.consumer_attaches.load(), h.watermark_consumer_attaches.load());
  for (std::uint64_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(asleep(old.pid(), h, 1));
    const std::uint32_t before = h.wake_futex.load();
    ASSERT_TRUE(producer().publish(quiet_event(i)));
    EXPECT_NE(h.wake_futex.load(), before) << "commit " << i;
    EXPECT_EQ(old.read_line(), "seq=" + std::to_string(i) + " ready=1");
  }
  EXPECT_EQ(old.wait_exit(), 0);
}

// A batch reaching the watermark wakes the consumer once, after its last commit.
TEST_F(RingWake, BatchReachingTheWatermarkWakesOnce) {
  const SegmentHeader& h = this->h();
  Child& w = start(3, 2);
  ASSERT_TRUE(asleep(w.pid(), h, 1));
  std::vector<Record> batch;
  for (std::uint64_t i = 0; i < 3; ++i) {
    auto r = producer().encode(quiet_event(i));
    ASSERT_TRUE(r);
    batch.push_back(*r);
  }
  const std::uint32_t before = h.wake_futex.load();
  ASSERT_TRUE(producer().publish_records(batch));
  EXPECT_EQ(h.wake_futex.load(), before + 1);
  EXPECT_EQ(w.read_line(), "seq=0 ready=3");
  // The helper's next wait finds record 1 ready and returns it without sleeping.
  EXPECT_EQ(w.read_line(), "seq=1 ready=2");
  EXPECT_EQ(w.wait_exit(), 0);
}

// Commits out of order (two producers): producer A claims the consumer's next sequence and,
// mid-write, producer B commits the two after it, reaching the watermark. The consumer wakes,
// finds its next record unfinished and, the watermark's record being ready, sleeps waiting for
// every commit: A's commit then wakes it. (Waiting for a watermark again would sleep until the
// timeout.)
struct OutOfOrder {
  RingProducer* b = nullptr;
  pid_t consumer = -1;
  const SegmentHeader* header = nullptr;
  bool fired = false;
  bool b_ok = false;
  bool asleep_plain = false;
};
OutOfOrder g_ooo;

void commit_later_sequences_first() {
  if (g_ooo.fired || g_ooo.b == nullptr) return;
  g_ooo.fired = true;
  g_ooo.b_ok = g_ooo.b->publish(quiet_event(1)) && g_ooo.b->publish(quiet_event(2));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline && !g_ooo.asleep_plain) {
    g_ooo.asleep_plain = g_ooo.header->plain_sleepers.load() == 1 && in_futex(g_ooo.consumer);
    std::this_thread::yield();
  }
}

TEST_F(RingWake, OutOfOrderCommitsStillWake) {
  // Producer A stops mid-write; B is the test's producer.
  auto a_options = producer_options(guard_.name, kCapacity);
  a_options.test_hook_mid_write = &commit_later_sequences_first;
  auto a = RingProducer::open(a_options);
  ASSERT_TRUE(a) << a.error().message;
  const SegmentHeader& h = this->h();
  Child& w = start(3, 1);
  ASSERT_TRUE(asleep(w.pid(), h, 1));
  g_ooo = {&producer(), w.pid(), &h, false, false, false};
  ASSERT_TRUE(a->publish(quiet_event(0)));
  g_ooo.b = nullptr;
  EXPECT_TRUE(g_ooo.b_ok);
  EXPECT_TRUE(g_ooo.asleep_plain) << "the consumer did not go back to sleep for every commit";
  EXPECT_EQ(w.read_line(), "seq=0 ready=3");
  EXPECT_EQ(w.wait_exit(), 0);
}

}  // namespace
}  // namespace qsc::ipc
