// The source factory and the batch bookkeeping every source shares.
#include "telemetry/source.hpp"

#include <algorithm>
#include <utility>
#include <variant>

#include "telemetry/jsonl_source.hpp"
#include "telemetry/redis_source.hpp"
#if QSC_TELEMETRY_HAVE_SHM
#include "telemetry/shm_source.hpp"
#endif

namespace qsc::agent {

void BatchBuilder::add(const qsc::StreamEntry& entry) {
  add(qsc::parse_entry(entry));
}

void BatchBuilder::add(qsc::ParseOutcome outcome) {
  if (auto* event = std::get_if<qsc::TradeIntent>(&outcome)) {
    add_event(std::move(*event));
  } else if (auto* rejection = std::get_if<qsc::Rejection>(&outcome)) {
    add_rejection(std::move(*rejection));
  } else {
    batch_.counts.add(outcome);
  }
}

void BatchBuilder::add_event(qsc::TradeIntent event) {
  ++batch_.counts.accepted;
  auto& events = batch_.events;
  if (max_events_ == 0 || events.size() < max_events_) {
    events.push_back(std::move(event));
    return;
  }
  // Full: overwrite the oldest in place (a ring), so a long scan costs no shifting.
  events[head_] = std::move(event);
  head_ = (head_ + 1) % max_events_;
  wrapped_ = true;
}

void BatchBuilder::add_rejection(qsc::Rejection rejection) {
  ++batch_.counts.rejected[static_cast<std::size_t>(rejection.reason)];
  if (batch_.rejections.size() < kMaxKeptRejections) {
    batch_.rejections.push_back(std::move(rejection));
  }
}

std::size_t BatchBuilder::size() const noexcept {
  return batch_.events.size();
}

TelemetryBatch BatchBuilder::finish(bool newest_first_input) && {
  auto& events = batch_.events;
  if (wrapped_) {
    std::rotate(events.begin(), events.begin() + static_cast<std::ptrdiff_t>(head_), events.end());
  }
  if (newest_first_input) std::reverse(events.begin(), events.end());
  return std::move(batch_);
}

void merge_counts(qsc::ParseCounts& into, const qsc::ParseCounts& from) noexcept {
  into.accepted += from.accepted;
  into.skipped += from.skipped;
  for (std::size_t i = 0; i < into.rejected.size(); ++i) into.rejected[i] += from.rejected[i];
}

void SourceSummary::add_scan(TelemetryBatch&& scan, bool counted_after) {
  merge_counts(counts, scan.counts);
  for (auto& r : scan.rejections) {
    if (rejections.size() >= kMaxKeptRejections) break;
    rejections.push_back(std::move(r));
  }
  events_lost += scan.events_lost;
  skipped_before_window += scan.skipped_before_window;
  if (counted_after) events_after = events_after.value_or(0) + scan.counts.accepted;
}

Result<std::unique_ptr<TelemetrySource>> open_source(const Config& config) {
  const auto& t = config.telemetry;
  if (t.source == "redis") {
    auto options = RedisOptions::from_url(t.redis_url);
    if (!options) return options.error();
    return std::unique_ptr<TelemetrySource>(
        std::make_unique<RedisSource>(std::move(options).value(), t.stream));
  }
  if (t.source == "file") {
    if (t.file.empty()) {
      return Error{
          "telemetry.source is \"file\" but telemetry.file is empty: set it to a "
          "recorded JSONL stream (one {\"id\":...,\"fields\":{...}} a line)"};
    }
    return std::unique_ptr<TelemetrySource>(std::make_unique<JsonlSource>(t.file));
  }
  if (t.source == "shm") {
#if QSC_TELEMETRY_HAVE_SHM
    // A consumer starting on a full ring passes over its oldest records
    // (ipc::StartPosition::kOldest), so a window larger than the rest could never be filled
    // from the ring's history: refuse it rather than judge fewer events than configured.
    constexpr std::uint64_t kRingHistoryEvents =
        ipc::readable_history_records(ipc::kDefaultCapacityRecords);
    if (t.window_events > kRingHistoryEvents) {
      return Error{"telemetry.window_events " + std::to_string(t.window_events) +
                   " is more than the shared-memory ring keeps for a reader (" +
                   std::to_string(kRingHistoryEvents) + " of its " +
                   std::to_string(ipc::kDefaultCapacityRecords) +
                   " records): lower it, or read Redis (telemetry.source \"redis\")"};
    }
    auto source = ShmSource::open(t.shm_name, t.shm_wait, t.shm_owner);
    if (!source) return std::move(source).error();
    return std::unique_ptr<TelemetrySource>(std::move(source).value());
#else
    return Error{
        "telemetry.source \"shm\" is not available in this build (the ring library "
        "is missing): use redis or file"};
#endif
  }
  return Error{"telemetry.source \"" + t.source + "\" is unknown: use shm, redis or file"};
}

}  // namespace qsc::agent
