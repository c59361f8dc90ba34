// The shared-memory ring fails closed, end to end: the built `qsc` (telemetry, gate) reads a
// real ring fed as engines feed it (the C++ producer and the C ABI), in a temporary workspace
// (tests/lifecycle's harness, no Redis). Unreadable telemetry on the ring counts as rejected,
// a NaN with status OK is never healthy, a corrupt segment and a segment another user owns or
// others may write are refused with exit 2 and a message naming them.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cmath>
#include <string>
#include <variant>

#include "lifecycle/lifecycle_harness.hpp"
#include "qsc/ipc/qsc_ring.h"
#include "qsc/ipc/ring.hpp"
#include "qsc/parse.hpp"

namespace qsc::test {
namespace {

namespace bip = boost::interprocess;

constexpr const char* kFail = "❌ QUALITY GATE: FAIL (BLOCKER)";
constexpr const char* kPass = "✅ QUALITY GATE: PASS";
/// The uid the ownership tests give a segment to, as another local user would own it.
constexpr uid_t kOtherUid = 65534;

class RingCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ring_ = "qsc_ring_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    (void)ipc::remove_ring(ring_);
    ws.config["telemetry"] = {{"source", "shm"},
                              {"shm_name", ring_},
                              {"min_events", 200},
                              {"window_events", 2000},
                              {"stale_after", "1h"}};  // the events follow a recent cutover
    ipc::ProducerOptions options;
    options.name = ring_;
    auto producer = ipc::RingProducer::open(options);
    ASSERT_TRUE(producer) << producer.error().message;
    producer_.emplace(std::move(producer).value());
  }
  void TearDown() override {
    producer_.reset();
    (void)ipc::remove_ring(ring_);
  }

  /// Publishes event i (one a second from 1 s after the cutover) as the engine's payload read
  /// by the SDK's parser, exactly as a Redis reader would read it.
  void publish_healthy(int first, int count) {
    for (int i = first; i < first + count; ++i) {
      const std::int64_t ms = kRecentCutoverMs + 1000 + i * 1000;
      auto outcome = qsc::parse_entry({sid(ms), event_fields(i, Flaw::kHealthy)});
      ASSERT_TRUE(std::holds_alternative<TradeIntent>(outcome)) << i;
      ASSERT_TRUE(producer_->publish(std::get<TradeIntent>(outcome)));
    }
  }

  QscRun gate() { return ws.run({"gate", "--after", kRecentCutoverIso}); }
  QscRun telemetry() { return ws.run({"telemetry", "--after", kRecentCutoverIso}); }
  std::string shm_path() const { return "/dev/shm/" + ring_; }

  Workspace ws;
  std::string ring_;
  std::optional<ipc::RingProducer> producer_;
};

// Item 8: a payload the parser rejects (published through the C ABI, as the Python binding
// does) and an event the layout cannot hold (nine models) reach every ring reader as rejected
// entries, so the 1% rule fires on the default source. Before, both were dropped before the
// ring and the gate passed on the 300 healthy events.
TEST_F(RingCli, RejectedEntriesOnTheRingFireTheOnePercentRule) {
  ASSERT_NO_FATAL_FAILURE(publish_healthy(0, 300));
  qsc_ring_producer* c_producer = qsc_ring_producer_open(ring_.c_str(), 0);
  ASSERT_NE(c_producer, nullptr) << qsc_ring_last_error();
  const std::uint64_t late_ms = kRecentCutoverMs + 400'000;
  for (std::uint64_t seq = 0; seq < 3; ++seq) {
    const std::string broken = "{\"model_breakdown\": {broken";
    EXPECT_EQ(qsc_ring_publish_json(c_producer, broken.data(), broken.size(), late_ms, seq),
              QSC_RING_EREFUSED);
  }
  qsc_ring_producer_close(c_producer);
  TradeIntent nine_models;
  nine_models.time_ms = static_cast<std::uint64_t>(late_ms + 1);
  for (int k = 0; k < 9; ++k) {
    qsc::Prediction p;
    p.model = "m" + std::to_string(k);
    p.confidence = 0.5;
    nine_models.predictions.push_back(p);
  }
  EXPECT_FALSE(producer_->publish(nine_models));
  nine_models.seq = 1;
  EXPECT_FALSE(producer_->publish(nine_models));

  // 5 rejected of 305 = 1.64% > 1%.
  const auto t = telemetry();
  EXPECT_EQ(t.exit_code, 2) << t.all();
  EXPECT_TRUE(t.has("Rejected:        5 (1.6%): malformed_json=3 too_large=2")) << t.all();
  EXPECT_TRUE(t.has("❌ TELEMETRY UNREADABLE")) << t.all();
  EXPECT_TRUE(t.has(std::to_string(late_ms) + "-0")) << t.all();

  const auto g = gate();
  EXPECT_EQ(g.exit_code, 2) << g.all();
  EXPECT_TRUE(g.has(kFail)) << g.all();
  EXPECT_TRUE(g.has("unreadable telemetry: 5 rejected entries = 1.64% (> 1%)")) << g.all();
}

// Item 8: a record with zero predictions is rejected as an empty model_breakdown is.
TEST_F(RingCli, RecordsWithoutPredictionsAreRejectedEntries) {
  ASSERT_NO_FATAL_FAILURE(publish_healthy(0, 200));
  for (std::uint64_t seq = 0; seq < 3; ++seq) {
    ipc::Record empty{};
    empty.time_ms = static_cast<std::uint64_t>(kRecentCutoverMs + 300'000);
    empty.seq = seq;
    empty.side = ipc::kNoSide;
    ASSERT_TRUE(producer_->publish_record(empty));
  }
  const auto t = telemetry();
  EXPECT_EQ(t.exit_code, 2) << t.all();
  EXPECT_TRUE(t.has("missing_field=3")) << t.all();
  const auto g = gate();
  EXPECT_EQ(g.exit_code, 2) << g.all();
  EXPECT_TRUE(g.has("unreadable telemetry: 3 rejected entries")) << g.all();
}

// Item 9: 150 NaN confidences with status OK plus 150 x 0.5 from the canary (a producer that
// fills the record itself) used to pass the gate: every spread figure was NaN and every
// comparison with NaN is false.
TEST_F(RingCli, NaNConfidencesWithAnOkStatusFailTheGate) {
  for (int i = 0; i < 300; ++i) {
    auto outcome = qsc::parse_entry(
        {sid(kRecentCutoverMs + 1000 + i * 1000), event_fields(i, Flaw::kHealthy)});
    ASSERT_TRUE(std::holds_alternative<TradeIntent>(outcome));
    auto event = std::get<TradeIntent>(outcome);
    for (auto& p : event.predictions) {
      if (p.model != "patchtst") continue;
      p.confidence = i % 2 == 0 ? std::nan("") : 0.5;
      p.raw_confidence = p.confidence;
      p.confidence_status = ConfidenceStatus::kOk;
    }
    ASSERT_TRUE(producer_->publish(event));
  }
  const auto g = gate();
  EXPECT_EQ(g.exit_code, 2) << g.all();
  EXPECT_TRUE(g.has(kFail)) << g.all();
  EXPECT_FALSE(g.has(kPass)) << g.all();
  // The quality_gate detector judges confidence violations, in its combined message.
  EXPECT_TRUE(g.has("patchtst: Quality gate: NO-GO (")) << g.all();
  EXPECT_TRUE(g.has("Confidence violations: 150 (nan=150))")) << g.all();
}

// Item 14: a model-name table with an impossible length is a corrupt segment, not clamped.
TEST_F(RingCli, ACorruptModelTableExitsTwoNamingTheSegment) {
  ASSERT_NO_FATAL_FAILURE(publish_healthy(0, 300));
  {
    bip::shared_memory_object shm(bip::open_only, ring_.c_str(), bip::read_write);
    bip::mapped_region region(shm, bip::read_write, 0, ipc::kHeaderBytes);
    auto& header = *static_cast<ipc::SegmentHeader*>(region.get_address());
    header.models[0].name_len = 255;
    for (std::size_t b = 0; b < ipc::kModelNameMaxBytes; ++b) {
      header.models[0].name[b] = static_cast<char>('A' + (b * 7) % 26);
    }
  }
  producer_.reset();  // a fresh process maps it anew: no cached names
  for (const auto& run : {gate(), telemetry()}) {
    EXPECT_EQ(run.exit_code, 2) << run.all();
    EXPECT_TRUE(run.has("corrupt segment " + ring_ + " (/dev/shm/" + ring_ +
                        "): model table entry 0 has a name of 255 bytes"))
        << run.all();
    EXPECT_FALSE(run.has(kPass)) << run.all();
  }
}

// Item 15: a segment owned by another user is refused unless telemetry.shm_owner names it.
TEST_F(RingCli, ASegmentOwnedByAnotherUserIsRefusedUnlessConfigured) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to give the segment to uid " << kOtherUid
                 << " (no second uid is available to this user)";
  }
  ASSERT_NO_FATAL_FAILURE(publish_healthy(0, 300));
  producer_.reset();
  ASSERT_EQ(::chown(shm_path().c_str(), kOtherUid, static_cast<gid_t>(-1)), 0);
  const auto refused = gate();
  EXPECT_EQ(refused.exit_code, 2) << refused.all();
  EXPECT_TRUE(refused.has("is refused: it is owned by uid " + std::to_string(kOtherUid) +
                          " (nobody) with mode 0660"))
      << refused.all();
  EXPECT_TRUE(refused.has("set telemetry.shm_owner")) << refused.all();

  ws.config["telemetry"]["shm_owner"] = "nobody";
  const auto trusted = gate();
  EXPECT_EQ(trusted.exit_code, 0) << trusted.all();
  EXPECT_TRUE(trusted.has(kPass)) << trusted.all();
  ws.config["telemetry"]["shm_owner"] = std::to_string(kOtherUid);
  EXPECT_EQ(gate().exit_code, 0);

  ws.config["telemetry"]["shm_owner"] = "no_such_user_qsc";
  const auto unknown = gate();
  EXPECT_EQ(unknown.exit_code, 2) << unknown.all();
  EXPECT_TRUE(unknown.has("telemetry.shm_owner \"no_such_user_qsc\" is not a user on this host"))
      << unknown.all();
}

// Item 15: a segment others may write is refused whoever owns it (anyone could forge events).
TEST_F(RingCli, AWorldWritableSegmentIsRefusedWithTheModeAndTheFix) {
  ASSERT_NO_FATAL_FAILURE(publish_healthy(0, 300));
  producer_.reset();
  ASSERT_EQ(::chmod(shm_path().c_str(), 0666), 0);
  for (const auto& run : {gate(), telemetry()}) {
    EXPECT_EQ(run.exit_code, 2) << run.all();
    EXPECT_TRUE(run.has("with mode 0666; others may write it")) << run.all();
    EXPECT_TRUE(run.has("chmod o-w " + shm_path())) << run.all();
  }
  ASSERT_EQ(::chmod(shm_path().c_str(), 0660), 0);
  const auto fixed = gate();
  EXPECT_EQ(fixed.exit_code, 0) << fixed.all();
}

}  // namespace
}  // namespace qsc::test
