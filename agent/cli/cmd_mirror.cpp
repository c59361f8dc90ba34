// `qsc mirror`: keeps the local ring fed from Redis (engines that only publish to Redis still
// reach the fast path) and, with --to-redis, copies the ring's events into Redis (engines that
// publish to the ring stay visible to other hosts). Runs until SIGINT/SIGTERM; survives Redis
// restarts without skipping or repeating an event.
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>
#include <variant>

#include "cli/command.hpp"
#include "core/duration.hpp"
#include "core/timestamp.hpp"
#include "telemetry/jsonl.hpp"
#include "telemetry/redis_source.hpp"
#include "telemetry/shm_source.hpp"

namespace qsc::agent {
namespace {

/// Marks what this host's mirror wrote into Redis, so it is not mirrored back into the ring.
constexpr const char* kOriginField = "qsc_origin";
constexpr std::chrono::milliseconds kPollTimeout{200};
/// Events waiting for Redis while it is down; beyond this the oldest are dropped and counted.
constexpr std::size_t kMaxPendingToRedis = 100'000;

struct Counters {
  std::atomic<std::uint64_t> to_ring{0};
  std::atomic<std::uint64_t> to_ring_skipped{0};
  std::atomic<std::uint64_t> to_ring_rejected{0};
  std::atomic<std::uint64_t> to_ring_refused{0};  // events the ring's layout cannot hold
  std::atomic<std::uint64_t> to_redis{0};
  std::atomic<std::uint64_t> to_redis_dropped{0};
  std::atomic<std::uint64_t> ring_lost{0};
  std::atomic<std::uint64_t> redis_errors{0};
  std::atomic<std::int64_t> newest_event_ms{0};
  std::atomic<bool> redis_down{false};
};

/// (ms, seq) of an event, for the resume point.
StreamId id_of(const qsc::TradeIntent& e) {
  return StreamId{e.time_ms, e.seq};
}

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown-host";
  return buf;
}

class MirrorCommand final : public Command {
 public:
  std::string name() const override { return "mirror"; }
  std::string summary() const override {
    return "mirror the Redis stream into the local ring (and, with --to-redis, the ring into "
           "Redis) until stopped";
  }
  void setup(CLI::App& app) override {
    app.add_flag("--to-redis", to_redis_,
                 "also copy events published into the ring to the Redis stream");
    app.add_option("--maxlen", maxlen_,
                   "with --to-redis: trim the stream to about N entries (XADD MAXLEN ~ N)")
        ->check(CLI::PositiveNumber);
    app.add_option("--since", since_text_,
                   "with an empty ring, copy events from TS on (default: the newest "
                   "telemetry.window_events): " +
                       std::string(kTimestampForms));
    app.add_option("--stats-interval", stats_text_, "how often to print the counters (10s)");
    app.footer(
        "Stops cleanly on SIGINT/SIGTERM (exit 0). Redis outages are retried with backoff and "
        "resumed from the last entry copied. Exit 2 when the ring cannot be opened or an option "
        "is wrong.");
  }

  int run(CommandContext& context) override {
    const auto& t = context.config.telemetry;
    auto interval = parse_duration(stats_text_);
    if (!interval) {
      std::cerr << "qsc mirror: --stats-interval: " << interval.error().message << "\n";
      return exit_code::kError;
    }
    auto redis_options = RedisOptions::from_url(t.redis_url);
    if (!redis_options) return fail(redis_options.error());
    ipc::ProducerOptions producer_options;
    producer_options.name = t.shm_name;
    auto producer = ipc::RingProducer::open(producer_options);
    if (!producer) return fail(producer.error());
    const std::string origin = hostname() + "/" + t.shm_name;

    // Resume after the newest event already in the ring (a restarted mirror must not copy
    // it twice); with an empty ring, backfill so the gate has history to read.
    std::optional<StreamId> resume;
    {
      ShmSource ring(t.shm_name, ipc::WaitStrategy::kSpinThenSleep);
      auto held = ring.range(0, std::nullopt, 1);
      if (held && !held->events.empty()) resume = id_of(held->events.back());
    }
    RedisSourceOptions tuning;
    tuning.skip_field = std::make_pair(std::string(kOriginField), origin);
    RedisSource source(redis_options.value(), t.stream, tuning);
    std::cout << "qsc mirror: " << source.describe() << " -> shm ring " << t.shm_name
              << (to_redis_ ? " (and ring -> Redis, MAXLEN ~ " + std::to_string(maxlen_) + ")"
                            : std::string())
              << std::endl;

    EpochMs start_ms = 0;
    if (resume) {
      start_ms = static_cast<EpochMs>(resume->ms);
      std::cout << "  resuming after the ring's newest event " << resume->str() << std::endl;
    } else if (!since_text_.empty()) {
      auto since = parse_timestamp(since_text_);
      if (!since) {
        std::cerr << "qsc mirror: --since: " << since.error().message << "\n";
        return exit_code::kError;
      }
      start_ms = *since;
    } else {
      // Newest window_events; if Redis is down now, start from now (the tail retries).
      auto newest = source.range(0, std::nullopt, t.window_events);
      if (newest && !newest->events.empty()) {
        start_ms = static_cast<EpochMs>(newest->events.front().time_ms);
      } else {
        start_ms = now_ms();
        if (!newest) std::cerr << "qsc mirror: " << newest.error().message << "\n";
      }
    }
    if (auto s = source.start_tail(start_ms); !s) {
      std::cerr << "qsc mirror: " << s.error().message << " (retrying)\n";
    }

    // Signals are taken synchronously by the main thread; the workers never see them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    std::atomic<bool> stop{false};
    Counters counters;
    std::thread to_ring([&] { redis_to_ring(source, producer.value(), resume, stop, counters); });
    std::thread to_redis;
    if (to_redis_) {
      to_redis = std::thread([&] {
        ring_to_redis(redis_options.value(), t.stream, t.shm_name, origin, stop, counters);
      });
    }

    const auto stats_every = std::chrono::duration_cast<std::chrono::seconds>(*interval);
    for (;;) {
      timespec ts{std::max<long>(1, static_cast<long>(stats_every.count())), 0};
      const int sig = sigtimedwait(&stop_signals, nullptr, &ts);
      if (sig == SIGINT || sig == SIGTERM) {
        std::cout << "qsc mirror: " << (sig == SIGINT ? "SIGINT" : "SIGTERM")
                  << " received, stopping" << std::endl;
        break;
      }
      print_counters(counters);
    }
    stop = true;
    to_ring.join();
    if (to_redis.joinable()) to_redis.join();
    print_counters(counters);
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
    return exit_code::kOk;
  }

 private:
  static int fail(const Error& error) {
    std::cerr << "qsc mirror: " << error.message << "\n";
    return exit_code::kError;
  }

  static void print_counters(const Counters& c) {
    const auto newest = c.newest_event_ms.load();
    std::cout << "mirror: redis->ring " << c.to_ring << " (skipped " << c.to_ring_skipped
              << ", rejected " << c.to_ring_rejected << ", refused by ring " << c.to_ring_refused
              << "), ring->redis " << c.to_redis << " (dropped " << c.to_redis_dropped
              << "), ring lost " << c.ring_lost << ", redis errors " << c.redis_errors
              << (c.redis_down ? " [REDIS DOWN]" : "") << ", newest event "
              << (newest > 0 ? format_iso(newest) : std::string("none")) << std::endl;
  }

  // Redis -> ring: the tail resumes from the last entry seen after any outage; events at or
  // before `resume` are already in the ring.
  static void redis_to_ring(RedisSource& source, ipc::RingProducer& producer,
                            std::optional<StreamId> resume, std::atomic<bool>& stop,
                            Counters& counters) {
    std::string last_error;
    while (!stop) {
      auto batch = source.poll(kPollTimeout);
      if (!batch) {
        ++counters.redis_errors;
        counters.redis_down = true;
        // Say it once per distinct problem, not every retry.
        if (batch.error().message != last_error) {
          last_error = batch.error().message;
          std::cerr << "qsc mirror: " << last_error << std::endl;
        }
        continue;
      }
      if (counters.redis_down.exchange(false)) {
        std::cerr << "qsc mirror: Redis is back; resumed after " << source.tail_position().str()
                  << std::endl;
        last_error.clear();
      }
      counters.to_ring_skipped += batch->counts.skipped;
      counters.to_ring_rejected += batch->counts.rejected_total();
      for (const auto& r : batch->rejections) std::cerr << "qsc mirror: " << r.message << "\n";
      publish_rejections(*batch, source.tail_position(), resume, producer, counters);
      for (const auto& event : batch->events) {
        if (resume && id_of(event) <= *resume) continue;
        if (auto s = producer.publish(event); !s) {
          ++counters.to_ring_refused;
          std::cerr << "qsc mirror: ring refused " << event.time_ms << "-" << event.seq << ": "
                    << s.error().message << "\n";
          continue;
        }
        ++counters.to_ring;
        counters.newest_event_ms = static_cast<std::int64_t>(event.time_ms);
      }
    }
  }

  // Every entry Redis held that the parser rejected goes into the ring as a rejected-entry
  // record, so ring readers count it as they would reading Redis (the rejected share): dropped
  // here, the 1% rule could never fire on the ring. The batch keeps the first rejections with
  // their IDs and counts the rest by reason; those are stamped with the poll's tail position,
  // the newest entry it read, so they still fall in the window they came from.
  static void publish_rejections(const TelemetryBatch& batch, const StreamId& tail,
                                 const std::optional<StreamId>& resume, ipc::RingProducer& producer,
                                 Counters& counters) {
    std::array<std::uint64_t, qsc::kRejectReasons> with_id{};
    const auto publish = [&](StreamId id, qsc::RejectReason reason, std::string_view field) {
      if (resume && id <= *resume) return;  // already in the ring
      if (auto s = producer.publish_rejected(id.ms, id.seq, reason, field); !s) {
        ++counters.to_ring_refused;
        std::cerr << "qsc mirror: rejected entry " << id.str()
                  << " could not be published: " << s.error().message << "\n";
      }
    };
    for (const auto& r : batch.rejections) {
      ++with_id[static_cast<std::size_t>(r.reason)];
      publish(StreamId::parse(r.entry_id).value_or(tail), r.reason, r.field);
    }
    for (std::size_t reason = 0; reason < qsc::kRejectReasons; ++reason) {
      for (std::uint64_t n = with_id[reason]; n < batch.counts.rejected[reason]; ++n) {
        publish(tail, static_cast<qsc::RejectReason>(reason), "");
      }
    }
  }

  // Ring -> Redis: events published by others into the ring (not this mirror's own copies),
  // XADDed with our origin mark; held and retried while Redis is down.
  void ring_to_redis(const RedisOptions& options, const std::string& stream,
                     const std::string& shm_name, const std::string& origin,
                     std::atomic<bool>& stop, Counters& counters) const {
    ipc::ConsumerOptions co;
    co.name = shm_name;
    co.start = ipc::StartPosition::kLatest;  // history is already wherever it came from
    co.create_if_missing = false;
    auto consumer = ipc::RingConsumer::open(co);
    if (!consumer) {
      std::cerr << "qsc mirror: ring -> Redis disabled: " << consumer.error().message << "\n";
      return;
    }
    const auto own_id = static_cast<std::uint32_t>(::getpid());
    RedisClient client(options);
    std::deque<std::vector<std::pair<std::string, std::string>>> pending;
    auto backoff = std::chrono::milliseconds(0);
    const auto maxlen = std::to_string(maxlen_);
    std::uint64_t lost_seen = 0;
    while (!stop) {
      ipc::Record record;
      if (consumer->next_record(record,
                                pending.empty() ? kPollTimeout : std::chrono::milliseconds(0))) {
        do {
          if (record.producer_id == own_id) continue;  // our own copy of a Redis entry
          auto outcome = consumer->read(record);
          std::vector<std::pair<std::string, std::string>> fields;
          if (const auto* rejection = std::get_if<qsc::Rejection>(&outcome)) {
            // Unreadable on the ring stays unreadable in Redis (a payload no parser accepts),
            // so Redis readers count it among the rejected entries instead of never seeing it.
            std::cerr << "qsc mirror: " << rejection->message << "\n";
            fields = {{"event_type", "trade.intent"},
                      {"payload", "<rejected on the ring: " +
                                      std::string(qsc::reject_reason_name(rejection->reason)) +
                                      ", field " + rejection->field + ">"}};
          } else {
            fields = fields_for_event(std::get<qsc::TradeIntent>(outcome));
          }
          fields.emplace_back(kOriginField, origin);
          pending.push_back(std::move(fields));
          if (pending.size() > kMaxPendingToRedis) {
            pending.pop_front();
            ++counters.to_redis_dropped;
          }
        } while (pending.size() < 1000 && consumer->poll_record(record));
      }
      counters.ring_lost += consumer->lost() - lost_seen;
      lost_seen = consumer->lost();
      while (!pending.empty() && !stop) {
        std::vector<std::string_view> args{"XADD", stream, "MAXLEN", "~", maxlen, "*"};
        for (const auto& [k, v] : pending.front()) {
          args.push_back(k);
          args.push_back(v);
        }
        auto reply = client.command(args);
        if (!reply) {
          ++counters.redis_errors;
          backoff = std::min(std::max(backoff * 2, std::chrono::milliseconds(100)),
                             std::chrono::milliseconds(5000));
          std::this_thread::sleep_for(backoff);
          break;
        }
        backoff = std::chrono::milliseconds(0);
        pending.pop_front();
        ++counters.to_redis;
      }
    }
  }

  bool to_redis_ = false;
  std::uint64_t maxlen_ = 100'000;
  std::string since_text_;
  std::string stats_text_ = "10s";
};

QSC_REGISTER_COMMAND(MirrorCommand);

}  // namespace
}  // namespace qsc::agent
