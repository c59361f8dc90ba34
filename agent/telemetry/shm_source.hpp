// The shared-memory ring as a telemetry source: reads the events the ring still retains
// (oldest first) for counts and windows, and tails new ones with the configured wait strategy.
// Ring loss (the consumer lapped, or a producer died mid-write) is reported in events_lost.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "qsc/ipc/ring.hpp"
#include "telemetry/source.hpp"

namespace qsc::agent {

/// Parses telemetry.shm_wait ("spin", "spin_then_sleep" or "block"; '-' works like '_').
Result<ipc::WaitStrategy> parse_shm_wait(std::string_view text);

/// Reads one ring. Never creates the segment: a missing ring is an error that says who
/// creates it, and a tail started before the producer keeps retrying until it appears.
class ShmSource final : public TelemetrySource {
 public:
  /// `capacity_records` must match the segment's (the ring's default unless configured).
  ShmSource(std::string name, ipc::WaitStrategy wait,
            std::uint64_t capacity_records = ipc::kDefaultCapacityRecords);
  /// As above, with telemetry.shm_wait's text.
  static Result<std::unique_ptr<ShmSource>> open(std::string name, std::string_view wait);

  std::string describe() const override;
  /// total_events is the number of records the ring retains (what one pass read).
  Result<SourceSummary> summary(std::optional<EpochMs> after) override;
  Result<TelemetryBatch> range(EpochMs from_ms, std::optional<EpochMs> to_ms,
                               std::size_t max_events) override;
  /// Starts at the oldest retained event, skipping those older than from_ms.
  Status start_tail(EpochMs from_ms) override;
  Result<TelemetryBatch> poll(std::chrono::milliseconds timeout) override;

  /// The tail's consumer counters (delivered, lost, ...), when attached.
  std::optional<ipc::ConsumerStats> tail_stats() const;

 private:
  Result<ipc::RingConsumer> attach() const;
  // Reads what the ring holds now (up to the tail at the start) into `on_event`.
  template <typename OnRecord>
  Status drain(ipc::RingConsumer& consumer, OnRecord&& on_record);
  void take(ipc::RingConsumer& consumer, const ipc::Record& record, BatchBuilder& builder,
            std::optional<EpochMs> from_ms, std::optional<EpochMs> to_ms);

  std::string name_;
  ipc::WaitStrategy wait_;
  std::uint64_t capacity_records_;
  std::optional<ipc::RingConsumer> tail_;
  EpochMs tail_from_ms_ = 0;
  bool tailing_ = false;
  std::uint64_t tail_lost_seen_ = 0;
};

}  // namespace qsc::agent
