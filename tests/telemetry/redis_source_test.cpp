// The Redis source against a real redis-server: counts, cutover ranges, paging, payload forms,
// rejections, tailing, exactly-once delivery across a kill -9 and restart, and the error
// messages for every misconfiguration a user can make.
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <set>
#include <thread>

#include "telemetry/redis_source.hpp"
#include "telemetry_test_util.hpp"

namespace qsc::agent {
namespace {

using qsc::test::kCutoverMs;
using qsc::test::RawRedis;
using qsc::test::RedisServer;
using qsc::test::sid;

constexpr const char* kStream = "quantum:stream:trade.intent";

RedisOptions options_for(const RedisServer& redis) {
  auto o = RedisOptions::from_url(redis.url(), nullptr);
  EXPECT_TRUE(o.ok());
  o->connect_timeout = std::chrono::milliseconds(500);
  o->command_timeout = std::chrono::milliseconds(1000);
  return o.value();
}

RedisSourceOptions fast_backoff(std::size_t page = 1000) {
  RedisSourceOptions t;
  t.page_entries = page;
  t.min_backoff = std::chrono::milliseconds(20);
  t.max_backoff = std::chrono::milliseconds(200);
  return t;
}

class RedisSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!redis_.start()) GTEST_SKIP() << redis_.error();
  }
  RedisServer redis_;
};

TEST_F(RedisSourceTest, CountsEntriesAndFindsTheNewest) {
  RawRedis w(redis_.port());
  for (int i = 0; i < 250; ++i) {
    ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs + i * 1000), test::fields_inline(i)), "");
  }
  RedisSource source(options_for(redis_), kStream);
  auto s = source.summary(std::nullopt);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->source, "redis");
  EXPECT_EQ(s->location, kStream);
  EXPECT_EQ(s->total_events, 250u);
  EXPECT_EQ(s->counts.accepted, 250u);
  EXPECT_FALSE(s->events_after.has_value());
  ASSERT_TRUE(s->newest_event_ms.has_value());
  EXPECT_EQ(*s->newest_event_ms, kCutoverMs + 249 * 1000);
}

TEST_F(RedisSourceTest, MissingStreamIsEmptyNotAnError) {
  RedisSource source(options_for(redis_), kStream);
  auto s = source.summary(kCutoverMs);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->total_events, 0u);
  EXPECT_EQ(s->events_after.value_or(99), 0u);
  EXPECT_FALSE(s->newest_event_ms.has_value());
  auto r = source.range(0, std::nullopt, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->events.empty());
}

TEST_F(RedisSourceTest, RangeAroundTheCutoverIncludesTheCutoverMillisecond) {
  RawRedis w(redis_.port());
  ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs - 2), test::fields_inline(0)), "");
  ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs - 1, 5), test::fields_inline(1)), "");
  ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs, 0), test::fields_inline(2)), "");
  ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs, 1), test::fields_inline(3)), "");
  ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs + 1), test::fields_inline(4)), "");
  RedisSource source(options_for(redis_), kStream, fast_backoff(2));

  auto after = source.range(kCutoverMs, std::nullopt, 100);
  ASSERT_TRUE(after.ok()) << after.error().message;
  ASSERT_EQ(after->events.size(), 3u);
  EXPECT_EQ(after->events[0].time_ms, static_cast<std::uint64_t>(kCutoverMs));
  EXPECT_EQ(after->events[0].seq, 0u);
  EXPECT_EQ(after->events[1].seq, 1u);
  EXPECT_EQ(after->events[2].time_ms, static_cast<std::uint64_t>(kCutoverMs + 1));
  EXPECT_EQ(after->counts.accepted, 3u);

  auto before = source.range(0, kCutoverMs, 100);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->events.size(), 2u);
  EXPECT_EQ(before->events[1].time_ms, static_cast<std::uint64_t>(kCutoverMs - 1));
  EXPECT_EQ(before->events[1].seq, 5u);

  auto exactly = source.range(kCutoverMs, kCutoverMs + 1, 100);
  ASSERT_TRUE(exactly.ok());
  EXPECT_EQ(exactly->events.size(), 2u);
  auto empty = source.range(kCutoverMs, kCutoverMs, 100);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->events.empty());

  auto s = source.summary(kCutoverMs);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->events_after.value_or(0), 3u);
  EXPECT_EQ(s->total_events, 5u);
}

TEST_F(RedisSourceTest, PagingPastTheWindowKeepsTheNewest) {
  RawRedis w(redis_.port());
  // Pairs of entries share a millisecond so page boundaries fall between sequence numbers.
  for (int i = 0; i < 2500; ++i) {
    ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs + i / 2, i % 2), test::fields_inline(i)), "");
  }
  for (std::size_t page : {1000u, 7u}) {
    RedisSource source(options_for(redis_), kStream, fast_backoff(page));
    auto r = source.range(kCutoverMs, std::nullopt, 2000);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(r->events.size(), 2000u);
    EXPECT_EQ(r->counts.accepted, 2000u) << "the scan stops at the oldest kept event";
    // The newest 2000 of 2500: entries 500..2499, oldest first, none missing.
    for (int k = 0; k < 2000; ++k) {
      const int i = 500 + k;
      ASSERT_EQ(r->events[k].time_ms, static_cast<std::uint64_t>(kCutoverMs + i / 2)) << k;
      ASSERT_EQ(r->events[k].seq, static_cast<std::uint64_t>(i % 2)) << k;
    }
  }
  RedisSource source(options_for(redis_), kStream, fast_backoff(100));
  auto all = source.range(0, std::nullopt, 0);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->events.size(), 2500u);
  auto s = source.summary(kCutoverMs + 1000);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->events_after.value_or(0), 500u);
}

TEST_F(RedisSourceTest, BothPayloadFormsAreRead) {
  RawRedis w(redis_.port());
  ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs), test::fields_inline(0)), "");
  ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs + 1), test::fields_legacy(1)), "");
  RedisSource source(options_for(redis_), kStream);
  auto r = source.range(kCutoverMs, std::nullopt, 10);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->events.size(), 2u);
  EXPECT_EQ(r->counts.rejected_total(), 0u);
  EXPECT_EQ(r->events[0].symbol, "BTCUSDT");
  ASSERT_EQ(r->events[0].predictions.size(), 2u);
  EXPECT_EQ(r->events[1].symbol, "ETHUSDT");
  ASSERT_EQ(r->events[1].predictions.size(), 2u);
  bool found = false;
  for (const auto& p : r->events[1].predictions) {
    if (p.model != "xgb") continue;
    found = true;
    EXPECT_EQ(p.action, qsc::Vote::kSell);
    EXPECT_DOUBLE_EQ(p.confidence, 0.55);
  }
  EXPECT_TRUE(found);
}

TEST_F(RedisSourceTest, RejectedEntriesAreCountedByReason) {
  RawRedis w(redis_.port());
  ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs), test::fields_inline(0)), "");
  ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs + 1),
                   {{"event_type", "trade.intent"}, {"payload", "{not json"}}),
            "");
  ASSERT_EQ(
      w.xadd(kStream, sid(kCutoverMs + 2),
             {{"event_type", "trade.intent"}, {"payload", "{\"x\":1,\"model_breakdown\":[1]"}}),
      "");
  ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs + 3),
                   {{"event_type", "trade.intent"},
                    {"payload",
                     "{\"model_breakdown\":{\"xgb\":{\"action\":\"BUYY\","
                     "\"confidence\":0.5}}}"}}),
            "");
  ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs + 4), {{"payload", "{}"}}), "");
  ASSERT_EQ(
      w.xadd(kStream, sid(kCutoverMs + 5), {{"event_type", "trade.executed"}, {"payload", "{}"}}),
      "");
  // Python's NaN is a number (a confidence violation), not a malformed payload.
  ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs + 6),
                   {{"event_type", "trade.intent"},
                    {"payload",
                     "{\"model_breakdown\":{\"xgb\":{\"action\":\"BUY\","
                     "\"confidence\":NaN}}}"}}),
            "");
  RedisSource source(options_for(redis_), kStream);
  auto r = source.range(kCutoverMs, std::nullopt, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->counts.accepted, 2u);
  EXPECT_EQ(r->counts.skipped, 1u);
  using R = qsc::RejectReason;
  EXPECT_EQ(r->counts.rejected[static_cast<int>(R::kMalformedJson)], 2u);
  EXPECT_EQ(r->counts.rejected[static_cast<int>(R::kUnknownAction)], 1u);
  EXPECT_EQ(r->counts.rejected[static_cast<int>(R::kMissingField)], 1u);
  EXPECT_EQ(r->counts.rejected_total(), 4u);
  ASSERT_EQ(r->rejections.size(), 4u);
  bool named = false;
  for (const auto& rej : r->rejections) {
    named = named ||
            (rej.entry_id == sid(kCutoverMs + 3) && rej.message.find("BUYY") != std::string::npos);
  }
  EXPECT_TRUE(named);
  ASSERT_EQ(r->events.size(), 2u);
  EXPECT_EQ(r->events[1].predictions[0].confidence_status, qsc::ConfidenceStatus::kNaN);

  auto s = source.summary(std::nullopt);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->counts.rejected_total(), 4u);
  EXPECT_EQ(s->rejections.size(), 4u);
}

// A million levels in each place a Redis entry carries JSON: the payload, a breakdown inside
// it, and the breakdown sent as a field of its own. None may cost stack; each is counted.
TEST_F(RedisSourceTest, AMillionLevelsDeepEntryOfEachFormIsRejectedAsTooDeep) {
  constexpr std::size_t kLevels = 1'000'000;  // under the 1 MiB payload limit: depth decides
  const std::string deep(kLevels, '[');
  RawRedis w(redis_.port());
  ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs), test::fields_inline(0)), "");
  ASSERT_EQ(
      w.xadd(kStream, sid(kCutoverMs + 1), {{"event_type", "trade.intent"}, {"payload", deep}}),
      "");
  ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs + 2),
                   {{"event_type", "trade.intent"}, {"payload", "{\"model_breakdown\":" + deep}}),
            "");
  ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs + 3),
                   {{"event_type", "trade.intent"}, {"model_breakdown", deep}}),
            "");
  ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs + 4), test::fields_inline(4)), "");
  RedisSource source(options_for(redis_), kStream);
  auto r = source.range(kCutoverMs, std::nullopt, 100);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->counts.accepted, 2u);
  EXPECT_EQ(r->counts.rejected[static_cast<int>(qsc::RejectReason::kTooDeep)], 3u);
  EXPECT_EQ(r->counts.rejected_total(), 3u);
  for (const auto& rej : r->rejections) {
    EXPECT_NE(rej.message.find("nesting deeper than 32 levels"), std::string::npos) << rej.message;
  }
  auto s = source.summary(std::nullopt);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->counts.rejected[static_cast<int>(qsc::RejectReason::kTooDeep)], 3u);
}

TEST_F(RedisSourceTest, TailDeliversHistoryFromTheCutoverThenNewEntries) {
  RawRedis w(redis_.port());
  ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs - 1), test::fields_inline(0)), "");
  ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs), test::fields_inline(1)), "");
  RedisSource source(options_for(redis_), kStream, fast_backoff());
  ASSERT_TRUE(source.start_tail(kCutoverMs).ok());
  auto first = source.poll(std::chrono::milliseconds(100));
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(first->events.size(), 1u);
  EXPECT_EQ(first->events[0].time_ms, static_cast<std::uint64_t>(kCutoverMs));

  auto idle = source.poll(std::chrono::milliseconds(50));
  ASSERT_TRUE(idle.ok());
  EXPECT_TRUE(idle->events.empty());

  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    RawRedis w2(redis_.port());
    w2.xadd(kStream, sid(kCutoverMs + 10), test::fields_inline(2));
  });
  // A blocking poll returns the event written while it waits. It may also come back empty
  // when the writer lost its core for longer than the poll's timeout: poll again until the
  // event is there (a generous deadline), never racing the writer with a single timeout.
  auto blocked = source.poll(std::chrono::milliseconds(3000));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (blocked.ok() && blocked->events.empty() && std::chrono::steady_clock::now() < deadline) {
    blocked = source.poll(std::chrono::milliseconds(3000));
  }
  writer.join();
  ASSERT_TRUE(blocked.ok());
  ASSERT_EQ(blocked->events.size(), 1u);
  EXPECT_EQ(blocked->events[0].time_ms, static_cast<std::uint64_t>(kCutoverMs + 10));
}

// The acceptance test of the reconnect logic: a producer writes continuously (retrying its
// writes across the outage), redis-server is killed with SIGKILL mid-tail and restarted with
// its data, and the tail must see every event exactly once, in order.
TEST(RedisSourceRestart, EveryEventExactlyOnceAcrossKillAndRestart) {
  RedisServer::Options o;
  o.persistent = true;
  RedisServer redis(o);
  if (!redis.start()) GTEST_SKIP() << redis.error();
  constexpr int kEvents = 600;
  std::atomic<int> written{0};
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    std::unique_ptr<RawRedis> w;
    for (int i = 0; i < kEvents && !stop;) {
      if (!w || !w->ok()) {
        w = std::make_unique<RawRedis>(redis.port());
        if (!w->ok()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          continue;
        }
      }
      const auto err = w->xadd(kStream, sid(kCutoverMs + i), test::fields_inline(i));
      // "equal or smaller": the write landed before the connection broke; it is done.
      if (err.empty() || err.find("equal or smaller") != std::string::npos) {
        written = ++i;
        if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      } else {
        w.reset();
      }
    }
  });

  RedisSource source(options_for(redis), kStream, fast_backoff(64));
  ASSERT_TRUE(source.start_tail(kCutoverMs).ok());
  std::vector<std::uint64_t> seen;
  int errors = 0;
  bool killed = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (static_cast<int>(seen.size()) < kEvents && std::chrono::steady_clock::now() < deadline) {
    if (!killed && seen.size() >= 150) {
      redis.kill9();
      killed = true;
    }
    auto batch = source.poll(std::chrono::milliseconds(100));
    if (!batch) {
      ++errors;
      // Restarted once the source has reported the outage (not after a fixed pause).
      if (!redis.running()) {
        ASSERT_TRUE(redis.restart()) << redis.error();
      }
      continue;
    }
    for (const auto& e : batch->events) seen.push_back(e.time_ms);
  }
  stop = true;
  producer.join();
  EXPECT_TRUE(killed);
  EXPECT_GT(errors, 0) << "the outage must be reported, not hidden";
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kEvents)) << "written " << written;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_EQ(seen[i], static_cast<std::uint64_t>(kCutoverMs + i)) << "at " << i;
  }
}

TEST(RedisSourceErrors, RefusedNamesTheAddressAndTheFix) {
  const int port = RedisServer::free_port();
  RedisOptions o;
  o.port = port;
  RedisSource source(o, kStream);
  auto s = source.summary(std::nullopt);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message.rfind("Redis refused at 127.0.0.1:" + std::to_string(port) +
                                        ": start it with systemctl start redis",
                                    0),
            0u)
      << s.error().message;
  EXPECT_FALSE(source.start_tail(0).ok());
  auto p = source.poll(std::chrono::milliseconds(10));
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("Redis refused"), std::string::npos);
}

TEST(RedisSourceErrors, APortThatIsNotRedisTimesOutWithItsOwnMessage) {
  // A listening socket that never answers: connect succeeds, PING gets no reply.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  RedisOptions o;
  o.port = ntohs(addr.sin_port);
  o.command_timeout = std::chrono::milliseconds(200);
  RedisSource source(o, kStream);
  auto s = source.summary(std::nullopt);
  ::close(fd);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("did not answer PING within 200 ms"), std::string::npos)
      << s.error().message;
  EXPECT_NE(s.error().message.find("check that this port is Redis"), std::string::npos);
}

TEST(RedisSourceErrors, AReplyAnnouncingAHugeArrayIsRefusedBeforeItIsAllocated) {
  // A server that answers PING with an array header of 1,222,222,222 elements (and nothing
  // more): hiredis 0.14 would allocate 9.7 GB for it at once (found by tests/fuzz/redis_reply).
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::thread server([fd] {
    const int client = ::accept(fd, nullptr, nullptr);
    if (client < 0) return;
    char request[256];
    if (::recv(client, request, sizeof request, 0) > 0) {
      const char reply[] = "*1222222222\r\n";
      (void)::send(client, reply, sizeof reply - 1, MSG_NOSIGNAL);
    }
    // Held open until the client hangs up: the refusal must not wait for the elements.
    while (::recv(client, request, sizeof request, 0) > 0) {
    }
    ::close(client);
  });
  RedisOptions o;
  o.port = ntohs(addr.sin_port);
  o.command_timeout = std::chrono::milliseconds(2000);
  RedisClient client(o);
  auto s = client.connect();
  client.disconnect();
  server.join();
  ::close(fd);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("the reply announced an array of more than 1048576 elements"),
            std::string::npos)
      << s.error().message;
  EXPECT_NE(s.error().message.find("telemetry.redis_url"), std::string::npos);
}

TEST(RedisSourceErrors, PasswordProblemsEachHaveTheirOwnMessage) {
  RedisServer::Options so;
  so.requirepass = "correct horse";
  RedisServer redis(so);
  if (!redis.start()) GTEST_SKIP() << redis.error();
  const auto base = "127.0.0.1:" + std::to_string(redis.port());

  auto wrong = RedisOptions::from_url("redis://:wrong@" + base + "/0", nullptr);
  ASSERT_TRUE(wrong.ok());
  RedisSource wrong_source(wrong.value(), kStream);
  auto w = wrong_source.summary(std::nullopt);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("Redis at " + base + " rejected the password"),
            std::string::npos)
      << w.error().message;
  EXPECT_EQ(w.error().message.find("wrong"), std::string::npos) << "never echo the password";
  EXPECT_EQ(wrong_source.describe().find("wrong"), std::string::npos);

  auto none = RedisOptions::from_url("redis://" + base + "/0", nullptr);
  RedisSource none_source(none.value(), kStream);
  auto n = none_source.summary(std::nullopt);
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.error().message.find("Redis at " + base + " requires a password: set " +
                                   std::string(kRedisPasswordEnv)),
            std::string::npos)
      << n.error().message;

  // The password from the environment variable (percent-encoding in the URL is decoded too).
  auto env = RedisOptions::from_url("redis://" + base + "/0", "correct horse");
  RedisSource env_source(env.value(), kStream);
  EXPECT_TRUE(env_source.summary(std::nullopt).ok());
  auto encoded = RedisOptions::from_url("redis://:correct%20horse@" + base + "/0", nullptr);
  RedisSource encoded_source(encoded.value(), kStream);
  EXPECT_TRUE(encoded_source.summary(std::nullopt).ok());
}

TEST_F(RedisSourceTest, PasswordForAServerWithoutOneIsNamed) {
  auto o = RedisOptions::from_url("redis://:unneeded@127.0.0.1:" + std::to_string(redis_.port()),
                                  nullptr);
  RedisSource source(o.value(), kStream);
  auto s = source.summary(std::nullopt);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("has no password configured but one was given"),
            std::string::npos)
      << s.error().message;
}

TEST_F(RedisSourceTest, ANonStreamKeyWithTheStreamsNameIsNamed) {
  RawRedis w(redis_.port());
  ASSERT_EQ(w.run({"SET", kStream, "oops"}), "");
  RedisSource source(options_for(redis_), kStream, fast_backoff());
  const std::string expected = std::string("Redis key ") + kStream +
                               " at 127.0.0.1:" + std::to_string(redis_.port()) +
                               " is a string, not a stream";
  auto s = source.summary(std::nullopt);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message.rfind(expected, 0), 0u) << s.error().message;
  auto r = source.range(0, std::nullopt, 10);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind(expected, 0), 0u);
  auto t = source.start_tail(0);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().message.rfind(expected, 0), 0u);
}

TEST_F(RedisSourceTest, AMissingDatabaseIsNamed) {
  auto o = RedisOptions::from_url("redis://127.0.0.1:" + std::to_string(redis_.port()) + "/999",
                                  nullptr);
  RedisSource source(o.value(), kStream);
  auto s = source.summary(std::nullopt);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("has no database 999"), std::string::npos) << s.error().message;
}

TEST(RedisSourceUnix, ConnectsOverAUnixSocket) {
  RedisServer::Options so;
  so.unix_socket = true;
  RedisServer redis(so);
  if (!redis.start()) GTEST_SKIP() << redis.error();
  RawRedis w(redis.port());
  ASSERT_EQ(w.xadd(kStream, sid(kCutoverMs), test::fields_inline(0)), "");
  auto o = RedisOptions::from_url("unix://" + redis.unix_socket(), nullptr);
  ASSERT_TRUE(o.ok());
  RedisSource source(o.value(), kStream);
  EXPECT_EQ(source.describe(), "redis unix:" + redis.unix_socket() + " stream " + kStream);
  auto s = source.summary(std::nullopt);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->total_events, 1u);

  auto missing = RedisOptions::from_url("unix:///nonexistent/redis.sock", nullptr);
  RedisSource missing_source(missing.value(), kStream);
  auto m = missing_source.summary(std::nullopt);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("Redis socket /nonexistent/redis.sock does not exist"),
            std::string::npos)
      << m.error().message;
}

TEST(RedisUrl, ParsesTheDocumentedForms) {
  auto a = RedisOptions::from_url("redis://:p%40ss@10.0.0.5:6380/2", nullptr);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "10.0.0.5");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(a->db, 2);
  EXPECT_EQ(a->password, "p@ss");
  EXPECT_EQ(a->address(), "10.0.0.5:6380");

  auto b = RedisOptions::from_url("redis://localhost", "fromenv");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->port, 6379);
  EXPECT_EQ(b->db, 0);
  EXPECT_EQ(b->password, "fromenv");

  auto c = RedisOptions::from_url("redis://alice:pw@[::1]:7000/0", "ignored");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->username, "alice");
  EXPECT_EQ(c->password, "pw");
  EXPECT_EQ(c->address(), "[::1]:7000");

  auto d = RedisOptions::from_url("unix:///run/redis/redis.sock?db=3", nullptr);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->unix_path, "/run/redis/redis.sock");
  EXPECT_EQ(d->db, 3);

  for (const char* bad : {"http://x", "redis://h:0", "redis://h:99999", "redis://h:1/x",
                          "unix://relative", "rediss://h:1"}) {
    auto r = RedisOptions::from_url(bad, nullptr);
    EXPECT_FALSE(r.ok()) << bad;
  }
  auto secret = RedisOptions::from_url("http://:hunter2@h", nullptr);
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.error().message.find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace qsc::agent
