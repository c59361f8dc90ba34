// Where trade.intent events come from: one interface over Redis Streams, the shared-memory ring
// and a recorded JSONL file, so the gate, the monitor and `qsc telemetry` never care which.
//
// Fail closed: a source that cannot be read returns an error naming the address and the fix;
// it never returns an empty batch in place of an error, so a gap can never look healthy.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/timestamp.hpp"
#include "qsc/event.hpp"
#include "qsc/parse.hpp"
#include "qsc/result.hpp"

namespace qsc::agent {

/// Rejections kept with their messages per read (the counts stay exact beyond this).
inline constexpr std::size_t kMaxKeptRejections = 20;

/// What one read returned.
struct TelemetryBatch {
  std::vector<qsc::TradeIntent> events;    ///< accepted, oldest first
  qsc::ParseCounts counts;                 ///< accepted/skipped/rejected by reason
  std::vector<qsc::Rejection> rejections;  ///< the first kMaxKeptRejections, for reports
  std::uint64_t events_lost = 0;           ///< ring loss during this read
  /// Ring loss that preceded a record older than the read's window (history overwritten
  /// while it was read, e.g. a consumer starting on a full, busy ring): not missing telemetry,
  /// so not in events_lost; reported for diagnosis.
  std::uint64_t skipped_before_window = 0;
};

/// What `qsc telemetry` prints about a source.
struct SourceSummary {
  std::string source;    ///< "redis", "shm" or "file"
  std::string location;  ///< the stream, the segment or the file
  /// Entries the source holds: XLEN, the ring's retained records, the file's entry lines.
  std::uint64_t total_events = 0;
  /// Accepted trade.intent events at or after `after`, when `after` was given.
  std::optional<std::uint64_t> events_after;
  std::optional<EpochMs> newest_event_ms;  ///< the newest entry's time; nullopt when empty
  std::uint64_t events_lost = 0;           ///< ring loss while scanning (shm only)
  /// Ring loss of history older than `after` while scanning (shm only; not in events_lost).
  std::uint64_t skipped_before_window = 0;
  /// Over what was scanned: every entry at or after `after`, or the whole source without it.
  qsc::ParseCounts counts;
  std::vector<qsc::Rejection> rejections;  ///< the first kMaxKeptRejections

  /// Takes a scan's counts and rejections; with `counted_after`, its accepted events are
  /// events_after.
  void add_scan(TelemetryBatch&& scan, bool counted_after);
};

/// One source of trade.intent events. Not thread-safe: one object per thread.
class TelemetrySource {
 public:
  virtual ~TelemetrySource() = default;

  /// E.g. "redis 127.0.0.1:6379 stream quantum:stream:trade.intent" (never a password).
  virtual std::string describe() const = 0;

  /// Counts, newest event and rejections, for `qsc telemetry`.
  virtual Result<SourceSummary> summary(std::optional<EpochMs> after) = 0;

  /// Events with time >= from_ms and < to_ms (to_ms = nullopt: no upper bound); when more than
  /// max_events match, the NEWEST max_events are kept. Counts cover the entries scanned.
  virtual Result<TelemetryBatch> range(EpochMs from_ms, std::optional<EpochMs> to_ms,
                                       std::size_t max_events) = 0;

  /// Positions the tail after everything older than from_ms (events at from_ms included).
  virtual Status start_tail(EpochMs from_ms) = 0;

  /// Returns what arrived (possibly nothing) within `timeout`. Reconnects with backoff inside
  /// and never skips or repeats an event across a reconnect; an error means the source is
  /// unreachable right now (the caller keeps polling; time without data counts as stale).
  /// In microseconds so that a caller can wait to an exact moment (the monitor's owed
  /// evaluation); a source that can only wait whole milliseconds (Redis's BLOCK) rounds up.
  virtual Result<TelemetryBatch> poll(std::chrono::microseconds timeout) = 0;

  /// A hint for the next poll()s: the caller needs no event before `events` more have
  /// arrived (the monitor, within its detectors' verdict horizons), so a source that sleeps
  /// until events arrive may sleep through the first events - 1 of them and return them in
  /// one batch, saving a wake-up per event. A source that honours it must still return at
  /// once an entry that may end a horizon (a rejected entry, a prediction of the canary whose
  /// confidence is a violation or that is inactive), report loss and failure no later than without
  /// it, and never wait past poll()'s timeout. 0 and 1 (the default) mean every event. Only the
  /// shared-memory ring under shm_wait: block honours it (ShmSource); Redis (XREAD BLOCK
  /// returns a read per arrival, one round trip) and file sources ignore it.
  /// `canary`: the model whose predictions may end a horizon (its confidence violations and
  /// inactive predictions).
  virtual void set_wake_after_events(std::uint64_t events, const std::string& canary) {
    (void)events;
    (void)canary;
  }

  /// Hands back a batch poll() returned, once its events have been taken (the monitor's step
  /// swaps them with the events it has released, whose strings and prediction vectors keep
  /// their storage). A source that decodes into events may read the next poll()'s into these
  /// rather than into new ones: no allocation per event in the steady state. Only ShmSource
  /// does; the others drop it.
  virtual void recycle(TelemetryBatch&& spent) { (void)spent; }

  /// Receives one line of the JSONL recording form (telemetry/jsonl.hpp, no newline).
  using LineRecorder = std::function<void(std::string_view line)>;
  /// While set, summary() also hands every entry it counts to `recorder`, oldest first and
  /// whatever its outcome (skipped and rejected entries too, so a replay of the recording
  /// counts the same): `qsc telemetry --record`. An empty function stops recording.
  virtual void set_recorder(LineRecorder recorder) { recorder_ = std::move(recorder); }

 protected:
  bool recording() const noexcept { return static_cast<bool>(recorder_); }
  void record_line(std::string_view line) const {
    if (recorder_) recorder_(line);
  }

 private:
  LineRecorder recorder_;
};

/// Opens the source named by config.telemetry.source ("redis", "shm" or "file"). Opening does
/// not connect yet: the first read reports an unreachable source. Whatever the kind, every
/// batch its range() and poll() return has passed reject_future_events with
/// telemetry.max_clock_skew, so all sources refuse a future-stamped event alike.
Result<std::unique_ptr<TelemetrySource>> open_source(const Config& config);

/// Moves every event stamped later than `latest_ms` (the reader's clock plus the allowed skew)
/// out of the batch's events into its rejections (reason future_timestamp, counted). An event
/// from the future would otherwise hold a "newest event" time no real event can pass, and it
/// is no reading of the present. Events in the past (a recording) are left alone.
void reject_future_events(TelemetryBatch& batch, EpochMs latest_ms,
                          std::chrono::milliseconds max_clock_skew);

/// Accumulates parsed entries into a batch: counts every outcome, keeps the first rejections
/// with their messages, and (when bounded) only the newest `max_events` accepted events.
class BatchBuilder {
 public:
  /// `max_events` = 0 means unbounded.
  explicit BatchBuilder(std::size_t max_events = 0) : max_events_(max_events) {}
  /// Unbounded, its batch's events built in `storage` (cleared: only its capacity is kept).
  explicit BatchBuilder(std::vector<qsc::TradeIntent>&& storage) : max_events_(0) {
    storage.clear();
    batch_.events = std::move(storage);
  }

  /// Parses and records one entry.
  void add(const qsc::StreamEntry& entry);
  /// Records an outcome parsed elsewhere.
  void add(qsc::ParseOutcome outcome);
  /// Records an event that needs no parsing (the ring's records are already decoded).
  void add_event(qsc::TradeIntent event);
  /// Records a refused entry that never reached parse_entry (e.g. an unreadable JSONL line).
  void add_rejection(qsc::Rejection rejection);
  /// Accepted events currently held.
  std::size_t size() const noexcept;
  /// The finished batch, events oldest first. `newest_first_input` says the entries were added
  /// newest first (a reverse scan), so they are put back in time order.
  TelemetryBatch finish(bool newest_first_input = false) &&;
  /// The counts so far.
  const qsc::ParseCounts& counts() const noexcept { return batch_.counts; }

 private:
  std::size_t max_events_;
  std::size_t head_ = 0;  // index of the oldest kept event when the buffer has wrapped
  bool wrapped_ = false;
  TelemetryBatch batch_;
};

/// Adds `from`'s counts into `into`.
void merge_counts(qsc::ParseCounts& into, const qsc::ParseCounts& from) noexcept;

}  // namespace qsc::agent
