// The shared-memory ring as a telemetry source: reads the events the ring still retains
// (oldest first) for counts and windows, and tails new ones with the configured wait strategy.
// Ring loss (the consumer lapped, or a producer died mid-write) is reported in events_lost,
// except loss of history older than the read's window (see LossLedger).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qsc/ipc/ring.hpp"
#include "telemetry/source.hpp"

namespace qsc::agent {

/// Parses telemetry.shm_wait ("spin", "spin_then_sleep" or "block"; '-' works like '_').
Result<ipc::WaitStrategy> parse_shm_wait(std::string_view text);

/// Resolves telemetry.shm_owner: "" (nullopt: only this process's own uid owns a trusted
/// ring), a user name, or a numeric uid.
Result<std::optional<uid_t>> parse_shm_owner(std::string_view text);

/// Splits a consumer's ring loss into missing telemetry and history skipped before a window.
///
/// A consumer reading a busy ring's history can be lapped before it reaches the window (the
/// ring gives a consumer starting on a full ring an eighth of a ring of headroom, which a slow
/// start or a long history scan can use up) and skips ahead; those events are older than the
/// window when the record it lands on is. Records come in sequence order and each producer's
/// time is monotone, so loss that precedes a delivered record older than `from_ms` (before any
/// record at or past it was seen) is history, not missing telemetry. So is, for a read bounded
/// to the newest max_events, loss before the oldest event it keeps: had those events been
/// read, the window would have dropped them as too old. Anything else is counted lost: loss
/// inside the window, and loss not followed by any record (fail closed: nothing shows that it
/// was old).
class LossLedger {
 public:
  /// `from_ms` = nullopt: no window bound, every loss counts.
  explicit LossLedger(std::optional<EpochMs> from_ms = std::nullopt) : from_ms_(from_ms) {}

  /// Classifies the loss since the last call, given the consumer's running lost() count, the
  /// time of the record it just delivered and how many events were accepted before it.
  void on_record(std::uint64_t consumer_lost, EpochMs record_ms, std::uint64_t accepted_before = 0);
  /// Takes the loss no record followed (the end of a read): it counts.
  void settle(std::uint64_t consumer_lost, std::uint64_t accepted_before = 0);
  /// Moves the loss classified so far into `batch` and starts counting afresh. A read that
  /// kept only the newest `max_events` (0: unbounded) of its `accepted` events passes both.
  void flush_into(TelemetryBatch& batch, std::size_t max_events = 0,
                  std::uint64_t accepted = 0) noexcept;

 private:
  struct WindowLoss {
    std::uint64_t accepted_before;  // accepted events delivered before the loss
    std::uint64_t events;
  };
  std::optional<EpochMs> from_ms_;
  bool in_window_ = false;                 // a record at or past from_ms was delivered
  std::uint64_t classified_ = 0;           // the consumer's lost() already classified
  std::vector<WindowLoss> window_losses_;  // a handful: one per lap
  std::uint64_t skipped_ = 0;
};

/// Reads one ring. Never creates the segment: a missing ring is an error that says who
/// creates it, and a tail started before the producer keeps retrying until it appears.
class ShmSource final : public TelemetrySource {
 public:
  /// `capacity_records` must match the segment's (the ring's default unless configured).
  /// `trusted_owner_uid`: a user besides this process's own that may own the segment.
  ShmSource(std::string name, ipc::WaitStrategy wait,
            std::uint64_t capacity_records = ipc::kDefaultCapacityRecords,
            std::optional<uid_t> trusted_owner_uid = std::nullopt);
  /// As above, with telemetry.shm_wait's and telemetry.shm_owner's text.
  static Result<std::unique_ptr<ShmSource>> open(std::string name, std::string_view wait,
                                                 std::string_view owner = {});

  std::string describe() const override;
  /// total_events is the number of records the ring retains (what one pass read).
  Result<SourceSummary> summary(std::optional<EpochMs> after) override;
  Result<TelemetryBatch> range(EpochMs from_ms, std::optional<EpochMs> to_ms,
                               std::size_t max_events) override;
  /// Starts at the oldest retained event the ring gives a new consumer (an eighth of a ring in
  /// when it is full), skipping those older than from_ms (and not counting
  /// history overwritten before the tail reached it as lost: LossLedger). Reads a batch
  /// at once, so a busy producer does not overwrite the oldest records before the first poll().
  Status start_tail(EpochMs from_ms) override;
  Result<TelemetryBatch> poll(std::chrono::microseconds timeout) override;
  /// Honoured under shm_wait: block (RingConsumer::next_record's wake_after_records, capped so
  /// that a sleeping tail is never lapped); the spinning strategies never sleep in the kernel.
  void set_wake_after_events(std::uint64_t events, const std::string& canary) override;
  /// Keeps the spent events (up to kMaxPollEvents) and the batch's vector: poll() reads the
  /// next records into them (RingConsumer::read_into) and builds its batch in that vector.
  void recycle(TelemetryBatch&& spent) override;

  /// The tail's consumer counters (delivered, lost, ...), when attached.
  std::optional<ipc::ConsumerStats> tail_stats() const;

 private:
  Result<ipc::RingConsumer> attach() const;
  // Reads what the ring holds now (up to the tail at the start) into `on_event`.
  // Calls on_record for every record read, after the ledger classified the loss before it.
  // `builder` tells the ledger how many events were accepted before each loss.
  template <typename OnRecord>
  Status drain(ipc::RingConsumer& consumer, LossLedger& ledger, const BatchBuilder& builder,
               OnRecord&& on_record);
  void take(ipc::RingConsumer& consumer, const ipc::Record& record, BatchBuilder& builder,
            std::optional<EpochMs> from_ms, std::optional<EpochMs> to_ms);
  // Hands one record to the recorder in the JSONL form (the payload an engine would publish).
  void record_ring_record(ipc::RingConsumer& consumer, const ipc::Record& record);
  // The spare event `from_back` places from the next one take() reads over (nullptr: none).
  const qsc::TradeIntent* spare(std::size_t from_back) const noexcept;
  // Ask for that event's own lines, and for its predictions (which reads the event).
  void prefetch_spare_event(std::size_t from_back) const noexcept;
  void prefetch_spare_predictions(std::size_t from_back) const noexcept;

  std::string name_;
  ipc::WaitStrategy wait_;
  std::uint64_t capacity_records_;
  std::optional<uid_t> trusted_owner_uid_;
  std::optional<ipc::RingConsumer> tail_;
  EpochMs tail_from_ms_ = 0;
  bool tailing_ = false;
  std::uint64_t wake_after_events_ = 1;  // set_wake_after_events
  std::string canary_;                   // set_wake_after_events's (empty: none given)
  bool tail_watches_ = false;            // tail_ has been told canary_ (watch_model)
  LossLedger tail_ledger_;
  // What read_ahead() read right after attaching, delivered by the next poll().
  struct Pending {
    BatchBuilder builder;
    std::size_t records = 0;
  };
  std::optional<Pending> pending_;
  void read_ahead();
  // Events handed back by recycle(), read over by take(): their storage is kept, so a poll in
  // the steady state allocates nothing per event (perf, session 14: malloc and the record's
  // decode into a fresh event were about a fifth of the worker). The vector a spent batch
  // held its events in, emptied, becomes the next poll()'s batch's (no growth per poll).
  std::vector<qsc::TradeIntent> spare_events_;
  std::vector<qsc::TradeIntent> spare_batch_events_;
};

}  // namespace qsc::agent
