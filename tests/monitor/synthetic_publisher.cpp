// qsc_synthetic_publisher: a stand-in AI engine for the monitor's end-to-end tests and the
// benchmarks. Publishes SyntheticEngine trade intents at a fixed rate into a shared-memory ring
// or a Redis stream, following a schedule of canary behaviours, then stops.
//
//   qsc_synthetic_publisher --ring qsc_e2e_1 --backfill-ms 2000 --phase healthy:3s --phase flat:20s
//
// For latency measurements it prints, for every phase, the realtime (CLOCK_REALTIME)
// microsecond timestamp taken just before the phase's first event was published:
//
//   PHASE 1 flat start_us=1767000000123456 first_event_ms=1767000000123
//
// and at the end one line with the totals (events the sink confirmed):
//
//   DONE published=12345 failed=0
#include <hiredis/hiredis.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/duration.hpp"
#include "demo/synthetic_engine.hpp"
#include "qsc/ipc/ring.hpp"
#include "telemetry/redis_client.hpp"

namespace {

using qsc::agent::CanaryBehaviour;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage = R"(qsc_synthetic_publisher: publish synthetic trade.intent events

Usage:
  qsc_synthetic_publisher (--ring NAME | --redis-url URL [--stream NAME])
                          [--rate N] [--backfill-ms N] [--canary MODEL] [--seed N]
                          --phase BEHAVIOUR:DURATION [--phase ...]

Sinks (exactly one):
  --ring NAME         the shared-memory ring NAME (created with mode 0660 if missing; left in
                      place at exit so a consumer can still read it; remove it yourself)
  --redis-url URL     a Redis server (redis://[:password@]host:port/db); entries are XADDed
                      with explicit IDs <time_ms>-<n> and the fields event_type=trade.intent and
                      payload=<docs/design.md payload JSON> (NaN/Infinity as Python's bare tokens)
  --stream NAME       the stream key (default quantum:stream:trade.intent)
                      (one XADD round trip per event: a Redis that fsyncs every write, e.g.
                      appendfsync always, caps the rate below --rate)

Schedule:
  --phase B:D         publish behaviour B for duration D (e.g. healthy:3s, flat:20s, 500ms);
                      repeatable, run in order; the program exits after the last phase.
                      D may be @PATH: the phase lasts until the file PATH exists (at most
                      10 minutes), so a test can switch phases when its monitor is ready.
                      B is one of: healthy, hold_collapse, action_collapse, dead_zone, flat,
                      narrow, constant, agreement_high, hard_disagree, logit, nan_confidence,
                      fallback, canary_silent (events without the canary's prediction).
                      `silence:D` publishes nothing for D.
                      `future_event:D` publishes one healthy event stamped 24 hours ahead of
                      the wall clock, then nothing for D (a producer with a broken clock).
                      `unreadable_event:D` (Redis only) XADDs one entry whose payload is not
                      JSON, then nothing for D. `B/N:D` (Redis only) publishes B with every
                      Nth entry's payload replaced by one that is not JSON.
  --rate N            events per second (default 2000); each event is stamped with the
                      wall-clock time of its publish
  --backfill-ms N     first publish N ms of healthy history stamped in the past, one event
                      every 1000/rate ms ending just before now (default 0)
  --canary MODEL      the canary model among xgb, lgbm, nhits, patchtst (default patchtst)
  --seed N            the engine's random seed (default 20260110)
  --max-catch-up N    after a stall (the publisher lost its core), publish at most N of the
                      events that fell due meanwhile, then restart the schedule at now (default:
                      those of the last 200 ms). A test whose consumer must never be lapped
                      sets it low, so the producer holds back instead of racing the consumer
                      with a burst

Output (stdout, one line each, flushed):
  BACKFILL events=N from_ms=T0 to_ms=T1
  PHASE <index> <behaviour> start_us=<CLOCK_REALTIME us before the phase's first publish>
        first_event_ms=<its event time>          (printed as one line)
  PHASE_END <index> <behaviour> events=N
  DONE published=N failed=M

Exit: 0 when every event was published, 1 when some failed (ring refused, Redis unreachable
for longer than --redis-retry-ms), 2 on bad arguments. SIGTERM/SIGINT stop at once (DONE is
still printed). With Redis, a failed XADD is retried with the same ID after reconnecting, so a
Redis restart neither loses nor duplicates an event (an entry already stored is recognised).
  --redis-retry-ms N  how long one event is retried before it counts as failed (default 10000)
)";

std::atomic<bool> g_stop{false};

void on_signal(int) {
  g_stop.store(true);
}

constexpr std::uint64_t kFutureStampMs = 24ULL * 3'600'000;
constexpr const char* kUnreadablePayload = "{\"symbol\":";

struct Phase {
  std::string name;
  std::optional<CanaryBehaviour> behaviour;  // nullopt: silence (after the one event, if any)
  bool future_event = false;                 // first one event stamped kFutureStampMs ahead
  bool unreadable_event = false;             // first one entry that is not JSON
  std::uint64_t unreadable_every = 0;        // with a behaviour: every Nth entry not JSON
  std::chrono::milliseconds duration{0};
  std::string until_file;  // non-empty: the phase ends when this file exists
};

bool phase_over(const Phase& phase, Clock::time_point now, Clock::time_point end) {
  if (now >= end) return true;
  if (phase.until_file.empty()) return false;
  std::error_code ec;
  return std::filesystem::exists(phase.until_file, ec);
}

std::int64_t realtime_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::uint64_t realtime_ms() {
  return static_cast<std::uint64_t>(realtime_us() / 1000);
}

// A JSON number the way Python's json.dumps writes it: NaN and infinities as bare tokens.
std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// docs/design.md's payload for one event.
std::string payload_json(const qsc::TradeIntent& e) {
  std::string out = "{\"symbol\":" + json_string(e.symbol);
  if (e.side) out += ",\"side\":" + json_string(qsc::vote_name(*e.side));
  out += ",\"confidence\":" + number(e.confidence) + ",\"model_breakdown\":{";
  bool first = true;
  for (const auto& p : e.predictions) {
    if (!first) out += ",";
    first = false;
    out += json_string(p.model) + ":{\"action\":" + json_string(qsc::vote_name(p.action)) +
           ",\"confidence\":" + number(p.raw_confidence) +
           ",\"model\":" + json_string(p.model_string);
    if (p.inactive == qsc::InactiveReason::kShadow) out += ",\"shadow\":true";
    if (p.inactive == qsc::InactiveReason::kInactive) out += ",\"inactive\":true";
    out += "}";
  }
  return out + "}}";
}

/// Where events go.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual bool publish(const qsc::TradeIntent& e) = 0;
  /// Publishes an entry that no reader can parse, stamped `time_ms` (Redis only).
  virtual bool publish_unreadable(std::uint64_t time_ms) = 0;
};

class RingSink final : public Sink {
 public:
  explicit RingSink(qsc::ipc::RingProducer producer) : producer_(std::move(producer)) {}
  bool publish(const qsc::TradeIntent& e) override {
    auto s = producer_.publish(e);
    if (!s && !reported_) {
      std::cerr << "qsc_synthetic_publisher: ring publish failed: " << s.error().message << "\n";
      reported_ = true;
    }
    return static_cast<bool>(s);
  }
  bool publish_unreadable(std::uint64_t) override { return false; }  // refused at parse time

 private:
  qsc::ipc::RingProducer producer_;
  bool reported_ = false;
};

class RedisSink final : public Sink {
 public:
  RedisSink(qsc::agent::RedisOptions options, std::string stream,
            std::chrono::milliseconds retry_for)
      : client_(std::move(options)), stream_(std::move(stream)), retry_for_(retry_for) {}

  bool publish(const qsc::TradeIntent& e) override { return xadd(e.time_ms, payload_json(e)); }
  bool publish_unreadable(std::uint64_t time_ms) override {
    return xadd(time_ms, kUnreadablePayload);
  }

 private:
  bool xadd(std::uint64_t time_ms, const std::string& payload) {
    // Stream IDs must grow: an event stamped in the same millisecond as the last gets the next
    // sequence number.
    std::uint64_t ms = time_ms;
    std::uint64_t seq = 0;
    if (ms < last_ms_ || (ms == last_ms_ && have_last_)) {
      ms = last_ms_;
      seq = last_seq_ + 1;
    }
    const std::string id = std::to_string(ms) + "-" + std::to_string(seq);
    const auto deadline = Clock::now() + retry_for_;
    bool retried = false;
    for (;;) {
      std::string error;
      if (auto c = client_.connect(); !c) {
        error = c.error().message;
      } else {
        auto reply = client_.command(
            {"XADD", stream_, id, "event_type", "trade.intent", "payload", payload});
        if (reply) {
          remember(ms, seq);
          return true;
        }
        error = reply.error().message;
        // A retry of an XADD whose reply was lost: the entry is there already (ID not above
        // the top). Anything else that says so is a real error.
        if (retried && error.find("equal or smaller") != std::string::npos) {
          remember(ms, seq);
          return true;
        }
      }
      retried = true;
      if (g_stop.load() || Clock::now() >= deadline) {
        std::cerr << "qsc_synthetic_publisher: XADD " << id << " failed: " << error << "\n";
        return false;
      }
      client_.disconnect();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  void remember(std::uint64_t ms, std::uint64_t seq) {
    last_ms_ = ms;
    last_seq_ = seq;
    have_last_ = true;
  }

  qsc::agent::RedisClient client_;
  std::string stream_;
  std::chrono::milliseconds retry_for_;
  std::uint64_t last_ms_ = 0;
  std::uint64_t last_seq_ = 0;
  bool have_last_ = false;
};

int usage_error(const std::string& message) {
  std::cerr << "qsc_synthetic_publisher: " << message << "\n(see --help)\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string ring;
  std::string redis_url;
  std::string stream = "quantum:stream:trade.intent";
  std::string canary = "patchtst";
  double rate = 2000.0;
  std::uint64_t seed = 20260110;
  std::int64_t backfill_ms = 0;
  std::int64_t redis_retry_ms = 10000;
  std::optional<std::uint64_t> max_catch_up_events;
  std::vector<Phase> phases;

  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (i + 1 >= argc) return usage_error(arg + " needs a value");
    const std::string value = argv[++i];
    try {
      if (arg == "--ring") {
        ring = value;
      } else if (arg == "--redis-url") {
        redis_url = value;
      } else if (arg == "--stream") {
        stream = value;
      } else if (arg == "--canary") {
        canary = value;
      } else if (arg == "--rate") {
        rate = std::stod(value);
        if (!(rate > 0 && rate <= 1e6)) return usage_error("--rate must be in (0, 1000000]");
      } else if (arg == "--seed") {
        seed = std::stoull(value);
      } else if (arg == "--backfill-ms") {
        backfill_ms = std::stoll(value);
        if (backfill_ms < 0) return usage_error("--backfill-ms must be >= 0");
      } else if (arg == "--max-catch-up") {
        max_catch_up_events = std::stoull(value);
      } else if (arg == "--redis-retry-ms") {
        redis_retry_ms = std::stoll(value);
      } else if (arg == "--phase") {
        const auto colon = value.find(':');
        if (colon == std::string::npos) return usage_error("--phase wants BEHAVIOUR:DURATION");
        Phase p;
        p.name = value.substr(0, colon);
        std::string behaviour = p.name;
        if (const auto slash = behaviour.find('/'); slash != std::string::npos) {
          p.unreadable_every = std::stoull(behaviour.substr(slash + 1));
          if (p.unreadable_every == 0) return usage_error("--phase " + value + ": N must be > 0");
          behaviour = behaviour.substr(0, slash);
        }
        if (behaviour == "future_event") {
          p.future_event = true;
        } else if (behaviour == "unreadable_event") {
          p.unreadable_event = true;
        } else if (behaviour != "silence") {
          p.behaviour = qsc::agent::parse_behaviour(behaviour);
          if (!p.behaviour) return usage_error("unknown behaviour \"" + behaviour + "\"");
        }
        if (!p.behaviour && p.unreadable_every > 0)
          return usage_error("--phase " + value + ": /N needs a behaviour");
        const std::string length = value.substr(colon + 1);
        if (!length.empty() && length.front() == '@') {
          p.until_file = length.substr(1);
          if (p.until_file.empty()) return usage_error("--phase " + value + ": empty path");
          p.duration = std::chrono::minutes(10);
        } else {
          auto d = qsc::agent::parse_duration(length);
          if (!d) return usage_error("--phase " + value + ": " + d.error().message);
          p.duration = *d;
        }
        phases.push_back(std::move(p));
      } else {
        return usage_error("unknown option " + arg);
      }
    } catch (const std::exception&) {
      return usage_error("bad value for " + arg + ": " + value);
    }
  }
  if (ring.empty() == redis_url.empty())
    return usage_error("give exactly one of --ring and --redis-url");
  if (phases.empty() && backfill_ms == 0) return usage_error("nothing to publish: give --phase");
  for (const auto& p : phases) {
    // A ring record is binary and always decodes: unreadable entries exist only on Redis.
    if (!ring.empty() && (p.unreadable_event || p.unreadable_every > 0))
      return usage_error("--phase " + p.name + ": unreadable entries need --redis-url");
  }

  std::unique_ptr<Sink> sink;
  if (!ring.empty()) {
    auto producer = qsc::ipc::RingProducer::open({.name = ring});
    if (!producer) {
      std::cerr << "qsc_synthetic_publisher: cannot open ring " << ring << ": "
                << producer.error().message << "\n";
      return 1;
    }
    sink = std::make_unique<RingSink>(std::move(producer).value());
  } else {
    auto options = qsc::agent::RedisOptions::from_url(redis_url);
    if (!options) return usage_error(options.error().message);
    sink = std::make_unique<RedisSink>(std::move(options).value(), stream,
                                       std::chrono::milliseconds(redis_retry_ms));
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  qsc::agent::SyntheticEngine engine(canary, seed);
  std::uint64_t published = 0;
  std::uint64_t failed = 0;
  auto send = [&](const qsc::TradeIntent& e) {
    if (sink->publish(e)) {
      ++published;
    } else {
      ++failed;
    }
  };

  const double spacing_ms = 1000.0 / rate;
  if (backfill_ms > 0) {
    const auto now = realtime_ms();
    const auto n = static_cast<std::uint64_t>(static_cast<double>(backfill_ms) / spacing_ms);
    const std::uint64_t from = now - static_cast<std::uint64_t>(backfill_ms);
    std::uint64_t last = from;
    for (std::uint64_t k = 0; k < n && !g_stop.load(); ++k) {
      last = from + static_cast<std::uint64_t>(static_cast<double>(k) * spacing_ms);
      send(engine.next(last, CanaryBehaviour::kHealthy));
    }
    std::cout << "BACKFILL events=" << n << " from_ms=" << from << " to_ms=" << last << std::endl;
  }

  for (std::size_t index = 0; index < phases.size() && !g_stop.load(); ++index) {
    const auto& phase = phases[index];
    const auto start = Clock::now();
    const auto end = start + phase.duration;
    std::uint64_t events = 0;
    if (!phase.behaviour) {
      std::uint64_t first_event_ms = 0;
      if (phase.future_event) {
        first_event_ms = realtime_ms() + kFutureStampMs;
        send(engine.next(first_event_ms, CanaryBehaviour::kHealthy));
        ++events;
      } else if (phase.unreadable_event) {
        first_event_ms = realtime_ms();
        if (sink->publish_unreadable(first_event_ms)) {
          ++published;
        } else {
          ++failed;
        }
        ++events;
      }
      std::cout << "PHASE " << index << " " << phase.name << " start_us=" << realtime_us()
                << " first_event_ms=" << first_event_ms << std::endl;
      while (!g_stop.load() && !phase_over(phase, Clock::now(), end)) {
        std::this_thread::sleep_for(
            std::min<Clock::duration>(end - Clock::now(), std::chrono::milliseconds(20)));
      }
    } else {
      // Event k is due at start + k * spacing; everything due is published, then we sleep until
      // the next is due. A sink that stalled (Redis restarting) does not cause a burst after.
      auto base = start;
      auto last_file_check = start - std::chrono::seconds(1);
      std::uint64_t k = 0;
      const auto spacing = std::chrono::duration<double, std::milli>(spacing_ms);
      while (!g_stop.load()) {
        const auto now = Clock::now();
        // The file is looked at every 10 ms, not on every publish.
        if (now >= end) break;
        if (now - last_file_check >= std::chrono::milliseconds(10)) {
          last_file_check = now;
          if (phase_over(phase, now, end)) break;
        }
        const auto due = base + std::chrono::duration_cast<Clock::duration>(spacing * k);
        if (due > now) {
          std::this_thread::sleep_until(std::min({due, end, now + std::chrono::milliseconds(10)}));
          continue;
        }
        const bool too_far_behind = max_catch_up_events
                                        ? std::chrono::duration<double, std::milli>(now - due) >
                                              spacing * static_cast<double>(*max_catch_up_events)
                                        : now - due > std::chrono::milliseconds(200);
        if (too_far_behind) {
          base = now;
          k = 0;
        }
        const auto us = realtime_us();
        auto e = engine.next(static_cast<std::uint64_t>(us / 1000), *phase.behaviour);
        if (events == 0) {
          std::cout << "PHASE " << index << " " << phase.name << " start_us=" << us
                    << " first_event_ms=" << e.time_ms << std::endl;
        }
        if (phase.unreadable_every > 0 && (events + 1) % phase.unreadable_every == 0) {
          if (sink->publish_unreadable(e.time_ms)) {
            ++published;
          } else {
            ++failed;
          }
        } else {
          send(e);
        }
        ++events;
        ++k;
      }
      if (events == 0) {
        std::cout << "PHASE " << index << " " << phase.name << " start_us=" << realtime_us()
                  << " first_event_ms=0" << std::endl;
      }
    }
    std::cout << "PHASE_END " << index << " " << phase.name << " events=" << events << std::endl;
  }
  std::cout << "DONE published=" << published << " failed=" << failed << std::endl;
  return failed == 0 ? 0 : 1;
}
