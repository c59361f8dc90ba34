// The bridge between the Redis stream and the local shared-memory ring that `qsc mirror` runs:
// one thread keeps the ring fed from Redis (engines that only publish to Redis still reach the
// fast path), and optionally a second copies the ring's events into Redis (engines that publish
// to the ring stay visible to other hosts). Survives Redis restarts without skipping or
// repeating an event. Progress and problems are printed as "qsc mirror: ..." lines.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "core/timestamp.hpp"
#include "qsc/ipc/ring.hpp"
#include "telemetry/redis_client.hpp"
#include "telemetry/redis_source.hpp"

namespace qsc::agent {

/// What the bridge copies, and from where it starts.
struct RingMirrorOptions {
  RedisOptions redis;
  std::string stream;    ///< telemetry.stream
  std::string shm_name;  ///< telemetry.shm_name
  /// With an empty ring: copy from this time on; without it the newest `backfill_events`.
  std::optional<EpochMs> since;
  std::size_t backfill_events = 2000;
  bool to_redis = false;           ///< also copy the ring's events into Redis
  std::uint64_t maxlen = 100'000;  ///< XADD MAXLEN ~ N for the copies into Redis
};

/// What the bridge has done so far, updated by its threads.
struct RingMirrorCounters {
  std::atomic<std::uint64_t> to_ring{0};
  std::atomic<std::uint64_t> to_ring_skipped{0};
  std::atomic<std::uint64_t> to_ring_rejected{0};
  std::atomic<std::uint64_t> to_ring_refused{0};  ///< events the ring's layout cannot hold
  std::atomic<std::uint64_t> to_redis{0};
  std::atomic<std::uint64_t> to_redis_dropped{0};
  std::atomic<std::uint64_t> ring_lost{0};
  std::atomic<std::uint64_t> redis_errors{0};
  std::atomic<std::int64_t> newest_event_ms{0};
  std::atomic<bool> redis_down{false};
};

/// The running bridge; its threads stop when it is destroyed.
class RingMirror {
 public:
  /// Opens the ring as its producer, resumes after the ring's newest event (a restarted mirror
  /// must not copy it twice) or, with an empty ring, backfills so the gate has history to read,
  /// and starts the Redis tail (retried while Redis is down). Error when the ring cannot be
  /// opened or the options are unusable.
  static Result<std::unique_ptr<RingMirror>> open(RingMirrorOptions options);
  ~RingMirror();
  RingMirror(const RingMirror&) = delete;
  RingMirror& operator=(const RingMirror&) = delete;

  /// Starts the copying threads (block the process's stop signals first: they must not see them).
  void start();
  /// Stops the threads and waits for them.
  void stop();
  /// The counters as one progress line ("mirror: redis->ring N (skipped ...) ...").
  std::string counters_line() const;

 private:
  RingMirror(RingMirrorOptions options, ipc::RingProducer producer, std::string origin,
             std::optional<StreamId> resume);
  void redis_to_ring();
  void ring_to_redis();

  RingMirrorOptions options_;
  ipc::RingProducer producer_;
  std::string origin_;  ///< this host's mark on what it wrote into Redis
  std::optional<StreamId> resume_;
  RedisSource source_;
  RingMirrorCounters counters_;
  std::atomic<bool> stop_{false};
  std::thread to_ring_;
  std::thread to_redis_;
};

}  // namespace qsc::agent
