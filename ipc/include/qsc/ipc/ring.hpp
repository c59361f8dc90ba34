// The shared-memory event ring: a lock-free, multi-producer broadcast ring of TradeIntents.
//
// Producers claim a sequence number with one fetch_add and never wait for anyone; each consumer
// keeps its own cursor, copies a record and then validates the slot's sequence, and counts
// exactly how many events it lost when it was lapped or when a producer died mid-write.
// Segment layout: qsc/ipc/layout.hpp. Usage: ipc/README.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <sys/types.h>

#include "qsc/event.hpp"
#include "qsc/ipc/layout.hpp"
#include "qsc/parse.hpp"
#include "qsc/result.hpp"

namespace qsc::ipc {

class Segment;  // internal: one mapping of one segment, shared by everything in a process

/// How a consumer waits in `next()` when no event is ready.
enum class WaitStrategy : std::uint8_t {
  kSpin,           ///< busy-poll: lowest latency, burns a core
  kSpinThenSleep,  ///< spin briefly, then yield, then sleep up to 1 ms (default)
  kBlock,          ///< sleep in the kernel (futex) until a producer publishes or the timeout
};

/// "spin", "spin-then-sleep", "block".
std::string_view wait_strategy_name(WaitStrategy strategy) noexcept;
/// Parses the names above; nullopt for anything else.
std::optional<WaitStrategy> parse_wait_strategy(std::string_view text) noexcept;

/// Where a new consumer starts reading.
enum class StartPosition : std::uint8_t {
  /// History first (the default): the oldest event still in the ring, or, when the ring is
  /// full, the oldest an eighth of a ring past it, which a running producer does not overwrite
  /// before the consumer's first reads (starting at the very oldest would be lapped at once
  /// and count a quarter ring lost). What it passes over is history, not loss: it is not
  /// counted, just as kLatest does not count the history it passes over.
  kOldest,
  kLatest,  ///< only events published after the consumer attached
};

/// How many of a full ring's records a kOldest consumer passes over when it starts: the
/// producers' next writes (an eighth of the ring).
constexpr std::uint64_t start_headroom_records(std::uint64_t capacity_records) noexcept {
  return capacity_records / 8;
}
/// The most history a kOldest consumer can read from a full ring of this capacity.
constexpr std::uint64_t readable_history_records(std::uint64_t capacity_records) noexcept {
  return capacity_records - start_headroom_records(capacity_records);
}

/// The most records a consumer may ask to sleep through (RingConsumer::next_record's
/// wake_after_records): a sixteenth of the ring, so that producers are a ring's fifteen
/// sixteenths away from lapping a consumer that sleeps until they are reached.
constexpr std::uint64_t max_wake_after_records(std::uint64_t capacity_records) noexcept {
  return capacity_records / 16 > 0 ? capacity_records / 16 : 1;
}

/// What a producer needs to attach to (or create) a ring.
struct ProducerOptions {
  std::string name;  ///< shared-memory object name, e.g. "qsc_trade_intent" (no '/')
  /// Power of two; must equal the segment's if it already exists.
  std::uint64_t capacity_records = kDefaultCapacityRecords;
  /// Stored in every record; 0 means this process's pid.
  std::uint32_t producer_id = 0;
  /// How long to wait for a segment another process is still creating.
  std::chrono::milliseconds init_timeout{1000};
  /// Tests only: called between claiming a slot and committing it (half the record written),
  /// so a test can stop or kill a producer mid-write deterministically.
  void (*test_hook_mid_write)() = nullptr;
  /// Tests only: wake consumers as a producer built before the wake watermark (session 14)
  /// does, at every commit while any consumer sleeps, never reading the watermark's words: the
  /// old binary an engine may still link.
  bool test_legacy_wake = false;
};

/// What a consumer needs to attach to (or create) a ring.
struct ConsumerOptions {
  std::string name;  ///< shared-memory object name (no '/')
  /// Power of two; must equal the segment's if it already exists.
  std::uint64_t capacity_records = kDefaultCapacityRecords;
  WaitStrategy wait = WaitStrategy::kSpinThenSleep;
  StartPosition start = StartPosition::kOldest;
  /// Create the segment when no producer has yet (so a consumer may start first).
  bool create_if_missing = true;
  /// A user besides this process's own (effective) uid that may own the segment
  /// (telemetry.shm_owner: the engine's user). Any other owner is refused: /dev/shm is
  /// world-writable, so anyone can create the name first and feed forged events.
  std::optional<uid_t> trusted_owner_uid;
  /// A claimed but uncommitted slot is skipped (and counted lost) after this long: its producer
  /// is presumed dead. Generous, because a live producer preempted between claim and commit
  /// on a loaded host must not be mistaken for a dead one.
  std::chrono::milliseconds abandon_timeout{1000};
  /// When idle this long, check whether the segment was removed and recreated (a producer
  /// restarted with a fresh segment) and re-attach to the new one.
  std::chrono::milliseconds replacement_check_interval{500};
  /// How long to wait for a segment another process is still creating.
  std::chrono::milliseconds init_timeout{1000};
  /// Tests only: attach and sleep as a consumer built before the wake watermark does (counted
  /// in `sleepers` only, every commit wanted, wake_after_records ignored).
  bool test_legacy_wake = false;
};

/// Per-consumer counters. Every sequence number the consumer passed over was delivered, lost,
/// a hole, or history: a kOldest consumer's records from before it started, which are never
/// counted lost, whether passed over at the start or overwritten before it read them. So
/// delivered + lost + holes is exact from the tail at the start on, and delivered + lost +
/// holes + history_passed from the consumer's first position on.
struct ConsumerStats {
  std::uint64_t delivered = 0;  ///< records returned
  std::uint64_t lost = 0;       ///< events skipped (lapped + abandoned)
  /// History (records from before the consumer started) overwritten before it was read.
  std::uint64_t history_passed = 0;
  std::uint64_t holes = 0;       ///< sequence numbers that never carried an event (layout.hpp)
  std::uint64_t lapped = 0;      ///< times the producers overtook this consumer
  std::uint64_t abandoned = 0;   ///< slots skipped because their producer never committed
  std::uint64_t reattached = 0;  ///< times the segment was replaced and re-attached
};

/// Publishes events into a ring. One object per thread (it caches interned names); any number
/// of producers, in any number of processes, may publish into the same ring at once.
class RingProducer {
 public:
  /// Attaches to the ring `options.name`, creating it (O_EXCL, mode 0660 whatever the umask)
  /// if it does not exist. Fails with a message naming the mismatch when the segment's magic,
  /// layout version, record size or capacity differ from this build's and the options', when
  /// its header breaks the layout's limits (a corrupt segment), and when it exists but is
  /// owned by another user or writable by others (it was not created by us).
  static Result<RingProducer> open(const ProducerOptions& options);

  RingProducer(RingProducer&&) noexcept;
  RingProducer& operator=(RingProducer&&) noexcept;
  ~RingProducer();

  /// Encodes and publishes one event, stamping publish_ns with CLOCK_MONOTONIC. Never waits
  /// for consumers. When the event does not fit the layout (no predictions, more than
  /// kMaxPredictions, a model name over kModelNameMaxBytes, a symbol over kSymbolBytes, or a
  /// full model table) it publishes a rejected-entry record in its place (consumers count it
  /// as a rejected entry, never as nothing) and fails with the reason.
  Status publish(const TradeIntent& event);
  /// The same with the caller's stamp (CLOCK_MONOTONIC ns by convention, see monotonic_ns):
  /// an engine that already read the clock for the event saves a read per publish, which costs
  /// more than the publish itself (docs/PERFORMANCE.md, "Figures behind choices in the code").
  Status publish(const TradeIntent& event, std::uint64_t publish_ns);

  /// Encodes an event into a record (interning its model names) without publishing it. A
  /// caller that then publishes records itself publishes rejected_record(...) for a refusal.
  Result<Record> encode(const TradeIntent& event);

  /// Publishes a rejected-entry record (layout.hpp, kRecordRejected) for entry
  /// `time_ms`-`seq`, which could not be published as an event: its payload was rejected by
  /// the parser (`reason`, `field`), so consumers count it exactly as a rejected Redis entry.
  Status publish_rejected(std::uint64_t time_ms, std::uint64_t seq, RejectReason reason,
                          std::string_view field);
  /// Publishes the rejected-entry record for `event`, which the last encode() refused (its
  /// reason and field), stamped `publish_ns`: what publish() does on a refusal.
  Status publish_refusal(const TradeIntent& event, std::uint64_t publish_ns);

  /// Publishes a ready-made record as is (publish_ns included). Fails only when this producer
  /// stalled for a whole lap of other producers between claiming and committing (the event
  /// is dropped and consumers count it lost), or when slots poisoned by dead producers keep
  /// it from claiming one.
  Status publish_record(const Record& record) noexcept;

  /// Publishes ready-made records in order, claiming their sequence numbers with one
  /// fetch_add (per quarter ring) instead of one per record, and checking for blocked
  /// consumers once: for engines that publish bursts. Consumers see the records exactly as if
  /// published one by one. Fails like publish_record; the error says how many records were
  /// dropped (the others were published).
  Status publish_records(std::span<const Record> records) noexcept;

  /// The ring's shared header (counters are atomics).
  const SegmentHeader& header() const noexcept;
  /// The name this producer is attached to.
  const std::string& name() const noexcept;

 private:
  struct Impl;
  explicit RingProducer(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

/// Reads every event of a ring in order, with its own cursor. One object per thread.
class RingConsumer {
 public:
  /// Attaches to the ring `options.name` (creating it if allowed and missing). Fails with a
  /// message naming the mismatch like RingProducer::open.
  static Result<RingConsumer> open(const ConsumerOptions& options);

  RingConsumer(RingConsumer&&) noexcept;
  RingConsumer& operator=(RingConsumer&&) noexcept;
  ~RingConsumer();

  /// Returns the next event if one is ready, nullopt if not; never waits. An error means a
  /// record could not be decoded (or the replaced segment could not be re-attached).
  Result<std::optional<TradeIntent>> poll();

  /// Waits up to `timeout` (with the configured strategy) for the next event; nullopt when
  /// the timeout passed without one.
  Result<std::optional<TradeIntent>> next(std::chrono::milliseconds timeout);

  /// Raw form of poll(): copies the next record into `out`; false when none is ready.
  bool poll_record(Record& out) noexcept;
  /// Raw form of next().
  bool next_record(Record& out, std::chrono::nanoseconds timeout) noexcept;
  /// next_record() for a caller that needs no record before `wake_after_records` are ready
  /// (the monitor, whose detectors' verdicts cannot change before): when it has to sleep
  /// (WaitStrategy::kBlock; the other strategies do not sleep in the kernel and ignore it), it
  /// asks producers to wake it only once the record that many past its position is ready,
  /// rather than at every commit. It returns the next record as soon as it wakes for any
  /// reason: that watermark, a record that must not wait (a rejected entry, a prediction of
  /// the watched model, watch_model, whose confidence is a violation or that is inactive:
  /// always woken for), the timeout, or a wake
  /// meant for a consumer beside it. A producer of a build before the watermark, or a consumer
  /// of one beside it, wakes it at every commit as before. 0 and 1 mean every record;
  /// larger counts are capped at max_wake_after_records(capacity), so that a sleeping
  /// consumer is never lapped. Docs: docs/design.md, "The ring's wake protocol".
  bool next_record(Record& out, std::chrono::nanoseconds timeout,
                   std::uint64_t wake_after_records) noexcept;
  /// Names the model (the canary) whose predictions with a confidence violation or inactive
  /// must wake this consumer at once while it sleeps for a watermark; without it any model's
  /// do (a shadow model's inactive predictions in every event would then wake it at each).
  /// Until the model has been interned in the ring (its first prediction), the consumer takes
  /// no watermark.
  void watch_model(std::string_view model);

  /// Reads a record the way the Redis parser reads an entry: the event, or a Rejection for a
  /// rejected-entry record (the producer's reason), a record with no predictions
  /// (missing_field, as an empty model_breakdown), and a record whose fields break the layout
  /// or whose values disagree with their status (wrong_type). A prediction whose status says
  /// OK but whose confidence is NaN, infinite or negative is read as that violation, as the
  /// parser reads the number: it never reaches the statistics as a healthy value.
  ParseOutcome read(const Record& record);
  /// read() into `event`, written over (every member; its strings and prediction vector keep
  /// their storage, so a caller that reads each record into a spent event allocates nothing
  /// per event once the sizes have been seen): nullopt when `event` now holds the record's
  /// event, else the Rejection read() would return, `event` then holding no usable values.
  std::optional<Rejection> read_into(const Record& record, TradeIntent& event);

  /// read() for callers that want the event only: a Rejection becomes an error (its message).
  Result<TradeIntent> decode(const Record& record);

  /// Counters since open (lost is what the agent treats as missing telemetry).
  const ConsumerStats& stats() const noexcept;
  /// Shorthand for stats().lost.
  std::uint64_t lost() const noexcept;
  /// The sequence number this consumer reads next.
  std::uint64_t position() const noexcept;
  /// Sequence numbers claimed by producers so far (the ring's tail).
  std::uint64_t tail() const noexcept;
  /// The ring's shared header.
  const SegmentHeader& header() const noexcept;
  /// The error of the last failed re-attachment, if the segment was replaced by an
  /// incompatible one (the consumer keeps reading nothing until it is fixed).
  const std::optional<Error>& attach_error() const noexcept;

 private:
  struct Impl;
  explicit RingConsumer(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

/// A rejected-entry record (layout.hpp, kRecordRejected) for entry `time_ms`-`seq`; `field`
/// is kept as a prefix of kSymbolBytes. publish_ns is left 0 for the caller to stamp.
Record rejected_record(std::uint64_t time_ms, std::uint64_t seq, RejectReason reason,
                       std::string_view field) noexcept;

/// Removes the ring's shared-memory object (mapped rings stay usable until closed). Succeeds
/// when it did not exist.
Status remove_ring(std::string_view name);

/// CLOCK_MONOTONIC in nanoseconds (the clock of Record::publish_ns).
std::uint64_t monotonic_ns() noexcept;

}  // namespace qsc::ipc
