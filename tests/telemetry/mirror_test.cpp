// `qsc mirror` as a process: Redis -> ring with a kill -9 and restart of redis-server in the
// middle (every event exactly once in the ring), ring -> Redis without echo, clean SIGTERM.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "qsc/ipc/ring.hpp"
#include "telemetry/shm_source.hpp"
#include "telemetry_test_util.hpp"

namespace qsc::agent {
namespace {

using qsc::test::kCutoverMs;
using qsc::test::RawRedis;
using qsc::test::RedisServer;
using qsc::test::sid;

constexpr const char* kMirrorStream = "quantum:stream:trade.intent";

/// A `qsc mirror` child process with its output in a file.
class MirrorProcess {
 public:
  MirrorProcess(const std::filesystem::path& dir, const std::string& config,
                std::vector<std::string> extra) {
    log_ = dir / "mirror.log";
    std::vector<std::string> args{QSC_BINARY, "--config",         config,
                                  "mirror",   "--stats-interval", "1s"};
    args.insert(args.end(), extra.begin(), extra.end());
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
  ~MirrorProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  /// Sends SIGTERM and returns the exit code (-1 when it did not exit within 60 s: generous,
  /// a loaded machine only makes it slower).
  int terminate() {
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  /// Waits until the mirror's output holds `text` (60 s at most).
  bool wait_for_output(const std::string& text) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (output().find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }
  std::string output() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
};

class MirrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "qsc-mirror-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    ring_ = "qsc_mirror_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    (void)ipc::remove_ring(ring_);
  }
  void TearDown() override {
    (void)ipc::remove_ring(ring_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string write_config(const RedisServer& redis) {
    const auto path = dir_ / "qsc.json";
    std::ofstream(path) << "{\"telemetry\": {\"source\": \"shm\", \"redis_url\": \"" << redis.url()
                        << "\", \"shm_name\": \"" << ring_ << "\"}}\n";
    return path.string();
  }
  // Waits until the ring holds `n` events (or 60 s pass); returns them.
  std::vector<qsc::TradeIntent> ring_events(std::size_t n) {
    return ring_events_until([n](const auto& events) { return events.size() >= n; });
  }
  // Waits until the ring holds an event of `symbol` (or 60 s pass); returns the ring's events.
  std::vector<qsc::TradeIntent> ring_events_through(const std::string& symbol) {
    return ring_events_until([&symbol](const auto& events) {
      return std::any_of(events.begin(), events.end(),
                         [&symbol](const auto& e) { return e.symbol == symbol; });
    });
  }
  template <typename Done>
  std::vector<qsc::TradeIntent> ring_events_until(Done done) {
    ShmSource ring(ring_, ipc::WaitStrategy::kSpinThenSleep);
    std::vector<qsc::TradeIntent> events;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = ring.range(0, std::nullopt, 0);
      if (r) events = r->events;
      if (done(events)) return events;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return events;
  }
  std::filesystem::path dir_;
  std::string ring_;
};

TEST_F(MirrorTest, RedisToRingSurvivesARedisRestartExactlyOnce) {
  RedisServer::Options o;
  o.persistent = true;
  RedisServer redis(o);
  if (!redis.start()) GTEST_SKIP() << redis.error();
  {
    RawRedis w(redis.port());
    for (int i = 0; i < 100; ++i) {
      ASSERT_EQ(w.xadd(kMirrorStream, sid(kCutoverMs + i), test::fields_inline(i)), "");
    }
  }
  MirrorProcess mirror(dir_, write_config(redis), {});
  auto first = ring_events(100);
  ASSERT_EQ(first.size(), 100u) << mirror.output();

  redis.kill9();
  // Restart once the mirror has seen Redis go (its stats line, every second, says so).
  ASSERT_TRUE(mirror.wait_for_output("[REDIS DOWN]")) << mirror.output();
  ASSERT_TRUE(redis.restart()) << redis.error();
  {
    RawRedis w(redis.port());
    for (int i = 100; i < 200; ++i) {
      ASSERT_EQ(w.xadd(kMirrorStream, sid(kCutoverMs + i), test::fields_inline(i)), "");
    }
  }
  // A marker after the 200: the mirror copies in stream order, so once the marker is in the
  // ring, any repeat of the 200 would be there too. No fixed wait for "nothing more".
  {
    RawRedis w(redis.port());
    ASSERT_EQ(w.xadd(kMirrorStream, sid(kCutoverMs + 200), test::fields_legacy(0)), "");
  }
  auto all = ring_events_through("ETHUSDT");
  ASSERT_EQ(all.size(), 201u) << mirror.output();
  EXPECT_EQ(all.back().symbol, "ETHUSDT");
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(all[i].time_ms, static_cast<std::uint64_t>(kCutoverMs + i)) << i;
  }
  EXPECT_EQ(mirror.terminate(), 0);
  const auto out = mirror.output();
  EXPECT_NE(out.find("SIGTERM received, stopping"), std::string::npos) << out;
  EXPECT_NE(out.find("mirror: redis->ring 201 "), std::string::npos) << out;
  EXPECT_NE(out.find("Redis is back"), std::string::npos) << out;
}

TEST_F(MirrorTest, RingToRedisWithoutEcho) {
  RedisServer redis;
  if (!redis.start()) GTEST_SKIP() << redis.error();
  MirrorProcess mirror(dir_, write_config(redis), {"--to-redis", "--maxlen", "1000"});
  // The mirror creates the ring; publish into it like an engine once it exists.
  std::optional<ipc::RingProducer> producer;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!producer && std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists("/dev/shm/" + ring_)) {
      ipc::ProducerOptions po;
      po.name = ring_;
      auto p = ipc::RingProducer::open(po);
      if (p) producer.emplace(std::move(p).value());
    }
    if (!producer) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(producer.has_value()) << mirror.output();
  // The mirror's ring -> Redis consumer starts at the ring's tail (kLatest): publish only once it
  // has attached. The mirror attaches twice: once to find where the ring's history ends, then
  // that consumer.
  while (producer->header().consumer_attaches.load() < 2 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GE(producer->header().consumer_attaches.load(), 2u) << mirror.output();
  for (int i = 0; i < 5; ++i) {
    auto e = qsc::parse_entry({sid(kCutoverMs + i), test::fields_inline(i)});
    ASSERT_TRUE(producer->publish(std::get<qsc::TradeIntent>(e)).ok());
  }
  RawRedis r(redis.port());
  long long len = 0;
  while (len < 5 && std::chrono::steady_clock::now() < deadline) {
    len = r.integer({"XLEN", kMirrorStream});
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(len, 5) << mirror.output();
  // A marker written to Redis by someone else comes into the ring after anything the mirror
  // would echo back of its own five (it reads the stream in order), so once the marker is
  // there, the ring holds every echo there will be: none.
  ASSERT_EQ(r.xadd(kMirrorStream, "*", test::fields_legacy(0)), "");
  const auto in_ring = ring_events_through("ETHUSDT");
  ASSERT_EQ(in_ring.size(), 6u) << "what the mirror wrote must not come back\n" << mirror.output();
  EXPECT_EQ(in_ring.back().symbol, "ETHUSDT");
  EXPECT_EQ(r.integer({"XLEN", kMirrorStream}), 6) << "the marker must not go back to Redis";
  EXPECT_EQ(mirror.terminate(), 0);
  EXPECT_NE(mirror.output().find("ring->redis 5 "), std::string::npos) << mirror.output();
}

// The ring's producer side parses each Redis entry before it writes the ring: an entry a
// million levels deep is counted as rejected there, and the events around it reach the ring.
TEST_F(MirrorTest, AMillionLevelsDeepEntryIsRejectedBeforeTheRing) {
  RedisServer redis;
  if (!redis.start()) GTEST_SKIP() << redis.error();
  {
    RawRedis w(redis.port());
    ASSERT_EQ(w.xadd(kMirrorStream, sid(kCutoverMs), test::fields_inline(0)), "");
    ASSERT_EQ(w.xadd(kMirrorStream, sid(kCutoverMs + 1),
                     {{"event_type", "trade.intent"}, {"payload", std::string(1'000'000, '[')}}),
              "");
    ASSERT_EQ(w.xadd(kMirrorStream, sid(kCutoverMs + 2), test::fields_inline(2)), "");
  }
  MirrorProcess mirror(dir_, write_config(redis), {});
  const auto events = ring_events(2);
  ASSERT_EQ(events.size(), 2u) << mirror.output();
  EXPECT_EQ(events[1].time_ms, static_cast<std::uint64_t>(kCutoverMs + 2));
  EXPECT_EQ(mirror.terminate(), 0) << mirror.output();
  EXPECT_NE(mirror.output().find("mirror: redis->ring 2 (skipped 0, rejected 1,"),
            std::string::npos)
      << mirror.output();
}

}  // namespace
}  // namespace qsc::agent
