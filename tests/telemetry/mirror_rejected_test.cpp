// `qsc mirror` copies the Redis entries the parser rejects into the ring as rejected entries
// (issue 13 item 8): a ring reader counts them exactly as a Redis reader does, so the 1% rule
// fires on the ring too. Before, the mirror dropped them and the ring looked clean.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "qsc/ipc/ring.hpp"
#include "telemetry/redis_source.hpp"
#include "telemetry/shm_source.hpp"
#include "telemetry_test_util.hpp"

namespace qsc::agent {
namespace {

using qsc::test::kCutoverMs;
using qsc::test::RawRedis;
using qsc::test::RedisServer;
using qsc::test::sid;

constexpr const char* kRejectedStream = "quantum:stream:trade.intent";

class MirrorRejected : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "qsc-mirrej-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    ring_ = "qsc_mirror_rejected_" + std::to_string(::getpid());
    (void)ipc::remove_ring(ring_);
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    (void)ipc::remove_ring(ring_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void start_mirror(const RedisServer& redis, bool to_redis = false) {
    const auto config = (dir_ / "qsc.json").string();
    std::ofstream(config) << "{\"telemetry\": {\"source\": \"shm\", \"redis_url\": \""
                          << redis.url() << "\", \"shm_name\": \"" << ring_ << "\"}}\n";
    log_ = dir_ / "mirror.log";
    std::vector<std::string> args{QSC_BINARY, "--config", config,
                                  "mirror",   "--since",  "2026-01-10T05:43:15Z"};
    if (to_redis) args.emplace_back("--to-redis");
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  std::string log() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::filesystem::path dir_;
  std::filesystem::path log_;
  std::string ring_;
  pid_t pid_ = -1;
};

TEST_F(MirrorRejected, RejectedRedisEntriesReachTheRingAsRejectedEntries) {
  RedisServer redis;
  if (!redis.start()) GTEST_SKIP() << redis.error();
  RawRedis w(redis.port());
  for (int i = 0; i < 40; ++i) {
    ASSERT_EQ(w.xadd(kRejectedStream, sid(kCutoverMs + i), qsc::test::fields_inline(i)), "");
  }
  // More rejections than a batch keeps with their IDs (20): the rest are counted by reason.
  for (int i = 0; i < 25; ++i) {
    ASSERT_EQ(w.xadd(kRejectedStream, sid(kCutoverMs + 100 + i),
                     {{"event_type", "trade.intent"}, {"payload", "{broken"}}),
              "");
  }
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(w.xadd(kRejectedStream, sid(kCutoverMs + 200 + i), {{"event_type", "trade.intent"}}),
              "");
  }
  start_mirror(redis);

  ShmSource ring(ring_, ipc::WaitStrategy::kSpinThenSleep);
  std::optional<SourceSummary> seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    auto s = ring.summary(kCutoverMs);
    if (s) {
      seen = *s;
      if (s->counts.accepted + s->counts.rejected_total() >= 70) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(seen.has_value()) << log();
  const auto& c = seen->counts;
  EXPECT_EQ(c.accepted, 40u) << log();
  EXPECT_EQ(c.rejected[static_cast<std::size_t>(qsc::RejectReason::kMalformedJson)], 25u) << log();
  EXPECT_EQ(c.rejected[static_cast<std::size_t>(qsc::RejectReason::kMissingField)], 5u) << log();
  ASSERT_FALSE(seen->rejections.empty());
  EXPECT_EQ(seen->rejections.front().entry_id, sid(kCutoverMs + 100)) << log();
  EXPECT_EQ(seen->rejections.front().field, "payload");
  // 30 of 70 unreadable: the ring's reader sees the share a Redis reader would.
  EXPECT_NEAR(c.rejected_pct(), 30.0 * 100.0 / 70.0, 1e-9);
}

// The other direction: a rejected entry an engine published into the ring reaches Redis as an
// entry no parser accepts, so Redis readers count it too (as malformed_json: the original
// reason cannot travel in a Redis payload, the count does).
TEST_F(MirrorRejected, RejectedRingEntriesReachRedisAsRejectedEntries) {
  RedisServer redis;
  if (!redis.start()) GTEST_SKIP() << redis.error();
  start_mirror(redis, /*to_redis=*/true);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!std::filesystem::exists("/dev/shm/" + ring_) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ipc::ProducerOptions options;
  options.name = ring_;
  auto producer = ipc::RingProducer::open(options);
  ASSERT_TRUE(producer.ok()) << producer.error().message << log();
  // The mirror reads the ring twice: once for its resume point, then the ring -> Redis copy,
  // which starts at the newest event: publish once it is attached.
  while (producer->header().consumer_attaches.load() < 2 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GE(producer->header().consumer_attaches.load(), 2u) << log();
  ASSERT_TRUE(
      producer->publish_rejected(kCutoverMs + 5, 0, qsc::RejectReason::kTooDeep, "payload").ok());
  auto event = qsc::parse_entry({sid(kCutoverMs + 6), qsc::test::fields_inline(1)});
  ASSERT_TRUE(producer->publish(std::get<qsc::TradeIntent>(event)).ok());

  auto options_redis = RedisOptions::from_url(redis.url());
  ASSERT_TRUE(options_redis.ok());
  RedisSource source(options_redis.value(), kRejectedStream);
  std::optional<SourceSummary> seen;
  while (std::chrono::steady_clock::now() < deadline) {
    auto s = source.summary(std::nullopt);
    if (s) {
      seen = *s;
      if (s->total_events >= 2) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(seen.has_value()) << log();
  EXPECT_EQ(seen->total_events, 2u) << log();
  EXPECT_EQ(seen->counts.accepted, 1u) << log();
  EXPECT_EQ(seen->counts.rejected_total(), 1u) << log();
}

}  // namespace
}  // namespace qsc::agent
