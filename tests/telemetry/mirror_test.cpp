// `qsc mirror` as a process: Redis -> ring with a kill -9 and restart of redis-server in the
// middle (every event exactly once in the ring), ring -> Redis without echo, clean SIGTERM.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

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

constexpr const char* kStream = "quantum:stream:trade.intent";

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
  /// Sends SIGTERM and returns the exit code (-1 when it did not exit within 5 s).
  int terminate() {
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 500; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
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
  // Waits until the ring holds `n` events (or 15 s pass); returns them.
  std::vector<qsc::TradeIntent> ring_events(std::size_t n) {
    ShmSource ring(ring_, ipc::WaitStrategy::kSpinThenSleep);
    std::vector<qsc::TradeIntent> events;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = ring.range(0, std::nullopt, 0);
      if (r && r->events.size() >= n) return r->events;
      if (r) events = r->events;
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
      ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs + i), test::fields_inline(i)), "");
    }
  }
  MirrorProcess mirror(dir_, write_config(redis), {});
  auto first = ring_events(100);
  ASSERT_EQ(first.size(), 100u) << mirror.output();

  redis.kill9();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(redis.restart()) << redis.error();
  {
    RawRedis w(redis.port());
    for (int i = 100; i < 200; ++i) {
      ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs + i), test::fields_inline(i)), "");
    }
  }
  auto all = ring_events(200);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // nothing extra may follow
  all = ring_events(200);
  ASSERT_EQ(all.size(), 200u) << mirror.output();
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(all[i].time_ms, static_cast<std::uint64_t>(kCutoverMs + i)) << i;
  }
  EXPECT_EQ(mirror.terminate(), 0);
  const auto out = mirror.output();
  EXPECT_NE(out.find("SIGTERM received, stopping"), std::string::npos) << out;
  EXPECT_NE(out.find("mirror: redis->ring 200 "), std::string::npos) << out;
  EXPECT_NE(out.find("Redis is back"), std::string::npos) << out;
}

TEST_F(MirrorTest, RingToRedisWithoutEcho) {
  RedisServer redis;
  if (!redis.start()) GTEST_SKIP() << redis.error();
  MirrorProcess mirror(dir_, write_config(redis), {"--to-redis", "--maxlen", "1000"});
  // The mirror creates the ring; publish into it like an engine once it exists.
  std::optional<ipc::RingProducer> producer;
  for (int i = 0; i < 500 && !producer; ++i) {
    if (std::filesystem::exists("/dev/shm/" + ring_)) {
      ipc::ProducerOptions po;
      po.name = ring_;
      auto p = ipc::RingProducer::open(po);
      if (p) producer.emplace(std::move(p).value());
    }
    if (!producer) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(producer.has_value()) << mirror.output();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the ring consumer attaches
  for (int i = 0; i < 5; ++i) {
    auto e = qsc::parse_entry({sid(kCutoverMs + i), test::fields_inline(i)});
    ASSERT_TRUE(producer->publish(std::get<qsc::TradeIntent>(e)).ok());
  }
  RawRedis r(redis.port());
  long long len = 0;
  for (int i = 0; i < 500 && len < 5; ++i) {
    len = r.integer({"XLEN", kStream});
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(len, 5) << mirror.output();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(ring_events(5).size(), 5u) << "what the mirror wrote must not come back";
  EXPECT_EQ(r.integer({"XLEN", kStream}), 5);
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
    ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs), test::fields_inline(0)), "");
    ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs + 1),
                     {{"event_type", "trade.intent"}, {"payload", std::string(1'000'000, '[')}}),
              "");
    ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs + 2), test::fields_inline(2)), "");
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
