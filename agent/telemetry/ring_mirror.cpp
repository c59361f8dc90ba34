// The Redis <-> ring bridge of `qsc mirror`.
#include "telemetry/ring_mirror.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <deque>
#include <iostream>
#include <sstream>
#include <variant>

#include "core/host_name.hpp"
#include "telemetry/jsonl.hpp"
#include "telemetry/shm_source.hpp"

namespace qsc::agent {
namespace {

/// Marks what this host's mirror wrote into Redis, so it is not mirrored back into the ring.
constexpr const char* kOriginField = "qsc_origin";
constexpr std::chrono::milliseconds kPollTimeout{200};
/// Events waiting for Redis while it is down; beyond this the oldest are dropped and counted.
constexpr std::size_t kMaxPendingToRedis = 100'000;

/// (ms, seq) of an event, for the resume point.
StreamId id_of(const qsc::TradeIntent& e) {
  return StreamId{e.time_ms, e.seq};
}

RedisSourceOptions skipping_own_copies(const std::string& origin) {
  RedisSourceOptions tuning;
  tuning.skip_field = std::make_pair(std::string(kOriginField), origin);
  return tuning;
}

// Every entry Redis held that the parser rejected goes into the ring as a rejected-entry
// record, so ring readers count it as they would reading Redis (the rejected share): dropped
// here, the 1% rule could never fire on the ring. The batch keeps the first rejections with
// their IDs and counts the rest by reason; those are stamped with the poll's tail position,
// the newest entry it read, so they still fall in the window they came from.
void publish_rejections(const TelemetryBatch& batch, const StreamId& tail,
                        const std::optional<StreamId>& resume, ipc::RingProducer& producer,
                        RingMirrorCounters& counters) {
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

}  // namespace

RingMirror::RingMirror(RingMirrorOptions options, ipc::RingProducer producer, std::string origin,
                       std::optional<StreamId> resume)
    : options_(std::move(options)),
      producer_(std::move(producer)),
      origin_(std::move(origin)),
      resume_(resume),
      source_(options_.redis, options_.stream, skipping_own_copies(origin_)) {}

RingMirror::~RingMirror() {
  stop();
}

Result<std::unique_ptr<RingMirror>> RingMirror::open(RingMirrorOptions options) {
  ipc::ProducerOptions producer_options;
  producer_options.name = options.shm_name;
  auto producer = ipc::RingProducer::open(producer_options);
  if (!producer) return producer.error();
  std::string origin = host_name() + "/" + options.shm_name;

  // Resume after the newest event already in the ring (a restarted mirror must not copy it
  // twice); with an empty ring, backfill so the gate has history to read.
  std::optional<StreamId> resume;
  {
    ShmSource ring(options.shm_name, ipc::WaitStrategy::kSpinThenSleep);
    auto held = ring.range(0, std::nullopt, 1);
    if (held && !held->events.empty()) resume = id_of(held->events.back());
  }
  std::unique_ptr<RingMirror> mirror(
      new RingMirror(std::move(options), std::move(producer).value(), std::move(origin), resume));
  const auto& o = mirror->options_;
  std::cout << "qsc mirror: " << mirror->source_.describe() << " -> shm ring " << o.shm_name
            << (o.to_redis ? " (and ring -> Redis, MAXLEN ~ " + std::to_string(o.maxlen) + ")"
                           : std::string())
            << std::endl;

  EpochMs start_ms = 0;
  if (resume) {
    start_ms = static_cast<EpochMs>(resume->ms);
    std::cout << "  resuming after the ring's newest event " << resume->str() << std::endl;
  } else if (o.since) {
    start_ms = *o.since;
  } else {
    // Newest backfill_events; if Redis is down now, start from now (the tail retries).
    auto newest = mirror->source_.range(0, std::nullopt, o.backfill_events);
    if (newest && !newest->events.empty()) {
      start_ms = static_cast<EpochMs>(newest->events.front().time_ms);
    } else {
      start_ms = now_ms();
      if (!newest) std::cerr << "qsc mirror: " << newest.error().message << "\n";
    }
  }
  if (auto s = mirror->source_.start_tail(start_ms); !s) {
    std::cerr << "qsc mirror: " << s.error().message << " (retrying)\n";
  }
  return mirror;
}

void RingMirror::start() {
  to_ring_ = std::thread([this] { redis_to_ring(); });
  if (options_.to_redis) to_redis_ = std::thread([this] { ring_to_redis(); });
}

void RingMirror::stop() {
  stop_ = true;
  if (to_ring_.joinable()) to_ring_.join();
  if (to_redis_.joinable()) to_redis_.join();
}

std::string RingMirror::counters_line() const {
  const auto& c = counters_;
  const auto newest = c.newest_event_ms.load();
  std::ostringstream line;
  line << "mirror: redis->ring " << c.to_ring << " (skipped " << c.to_ring_skipped << ", rejected "
       << c.to_ring_rejected << ", refused by ring " << c.to_ring_refused << "), ring->redis "
       << c.to_redis << " (dropped " << c.to_redis_dropped << "), ring lost " << c.ring_lost
       << ", redis errors " << c.redis_errors << (c.redis_down ? " [REDIS DOWN]" : "")
       << ", newest event " << (newest > 0 ? format_iso(newest) : std::string("none"));
  return line.str();
}

// Redis -> ring: the tail resumes from the last entry seen after any outage; events at or
// before the resume point are already in the ring.
void RingMirror::redis_to_ring() {
  std::string last_error;
  while (!stop_) {
    auto batch = source_.poll(kPollTimeout);
    if (!batch) {
      ++counters_.redis_errors;
      counters_.redis_down = true;
      // Say it once per distinct problem, not every retry.
      if (batch.error().message != last_error) {
        last_error = batch.error().message;
        std::cerr << "qsc mirror: " << last_error << std::endl;
      }
      continue;
    }
    if (counters_.redis_down.exchange(false)) {
      std::cerr << "qsc mirror: Redis is back; resumed after " << source_.tail_position().str()
                << std::endl;
      last_error.clear();
    }
    counters_.to_ring_skipped += batch->counts.skipped;
    counters_.to_ring_rejected += batch->counts.rejected_total();
    for (const auto& r : batch->rejections) std::cerr << "qsc mirror: " << r.message << "\n";
    publish_rejections(*batch, source_.tail_position(), resume_, producer_, counters_);
    for (const auto& event : batch->events) {
      if (resume_ && id_of(event) <= *resume_) continue;
      if (auto s = producer_.publish(event); !s) {
        ++counters_.to_ring_refused;
        std::cerr << "qsc mirror: ring refused " << event.time_ms << "-" << event.seq << ": "
                  << s.error().message << "\n";
        continue;
      }
      ++counters_.to_ring;
      counters_.newest_event_ms = static_cast<std::int64_t>(event.time_ms);
    }
  }
}

// Ring -> Redis: events published by others into the ring (not this mirror's own copies),
// XADDed with our origin mark; held and retried while Redis is down.
void RingMirror::ring_to_redis() {
  ipc::ConsumerOptions co;
  co.name = options_.shm_name;
  co.start = ipc::StartPosition::kLatest;  // history is already wherever it came from
  co.create_if_missing = false;
  auto consumer = ipc::RingConsumer::open(co);
  if (!consumer) {
    std::cerr << "qsc mirror: ring -> Redis disabled: " << consumer.error().message << "\n";
    return;
  }
  const auto own_id = static_cast<std::uint32_t>(::getpid());
  RedisClient client(options_.redis);
  std::deque<std::vector<std::pair<std::string, std::string>>> pending;
  auto backoff = std::chrono::milliseconds(0);
  const auto maxlen = std::to_string(options_.maxlen);
  std::uint64_t lost_seen = 0;
  while (!stop_) {
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
        fields.emplace_back(kOriginField, origin_);
        pending.push_back(std::move(fields));
        if (pending.size() > kMaxPendingToRedis) {
          pending.pop_front();
          ++counters_.to_redis_dropped;
        }
      } while (pending.size() < 1000 && consumer->poll_record(record));
    }
    counters_.ring_lost += consumer->lost() - lost_seen;
    lost_seen = consumer->lost();
    while (!pending.empty() && !stop_) {
      std::vector<std::string_view> args{"XADD", options_.stream, "MAXLEN", "~", maxlen, "*"};
      for (const auto& [k, v] : pending.front()) {
        args.push_back(k);
        args.push_back(v);
      }
      auto reply = client.command(args);
      if (!reply) {
        ++counters_.redis_errors;
        backoff = std::min(std::max(backoff * 2, std::chrono::milliseconds(100)),
                           std::chrono::milliseconds(5000));
        std::this_thread::sleep_for(backoff);
        break;
      }
      backoff = std::chrono::milliseconds(0);
      pending.pop_front();
      ++counters_.to_redis;
    }
  }
}

}  // namespace qsc::agent
