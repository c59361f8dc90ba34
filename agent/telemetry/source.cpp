// The source factory and the batch bookkeeping every source shares.
#include "telemetry/source.hpp"

#include <algorithm>
#include <utility>
#include <variant>

#include "core/duration.hpp"
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

void reject_future_events(TelemetryBatch& batch, EpochMs latest_ms,
                          std::chrono::milliseconds max_clock_skew) {
  auto& events = batch.events;
  const auto from_future = [latest_ms](const qsc::TradeIntent& e) {
    return static_cast<EpochMs>(e.time_ms) > latest_ms;
  };
  if (std::none_of(events.begin(), events.end(), from_future)) return;
  const EpochMs now = latest_ms - max_clock_skew.count();
  for (const auto& e : events) {
    if (!from_future(e)) continue;
    --batch.counts.accepted;
    ++batch.counts.rejected[static_cast<std::size_t>(qsc::RejectReason::kFutureTimestamp)];
    if (batch.rejections.size() >= kMaxKeptRejections) continue;
    const std::string id = std::to_string(e.time_ms) + "-" + std::to_string(e.seq);
    batch.rejections.push_back(
        {qsc::RejectReason::kFutureTimestamp, id, "id",
         "entry " + id + " is stamped " + format_iso(static_cast<EpochMs>(e.time_ms)) + ", " +
             format_duration(std::chrono::milliseconds(static_cast<EpochMs>(e.time_ms) - now)) +
             " ahead of this agent's clock (more than telemetry.max_clock_skew " +
             format_duration(max_clock_skew) +
             "): fix the producer's clock (NTP) or the ID it stamps"});
  }
  events.erase(std::remove_if(events.begin(), events.end(), from_future), events.end());
}

namespace {

// Every source seen through one door: batches are checked against the agent's clock here, so
// no source can forget it and all count it alike.
class ClockCheckedSource final : public TelemetrySource {
 public:
  ClockCheckedSource(std::unique_ptr<TelemetrySource> inner, std::chrono::milliseconds skew)
      : inner_(std::move(inner)), skew_(skew) {}

  std::string describe() const override { return inner_->describe(); }
  Result<SourceSummary> summary(std::optional<EpochMs> after) override {
    return inner_->summary(after);
  }
  Result<TelemetryBatch> range(EpochMs from_ms, std::optional<EpochMs> to_ms,
                               std::size_t max_events) override {
    return checked(inner_->range(from_ms, to_ms, max_events));
  }
  Status start_tail(EpochMs from_ms) override { return inner_->start_tail(from_ms); }
  Result<TelemetryBatch> poll(std::chrono::microseconds timeout) override {
    return checked(inner_->poll(timeout));
  }
  void set_recorder(LineRecorder recorder) override { inner_->set_recorder(std::move(recorder)); }
  void recycle(TelemetryBatch&& spent) override { inner_->recycle(std::move(spent)); }
  void set_wake_after_events(std::uint64_t events, const std::string& canary) override {
    inner_->set_wake_after_events(events, canary);
  }

 private:
  Result<TelemetryBatch> checked(Result<TelemetryBatch> batch) const {
    // The clock is read after the read returned, so an event stamped during a long read is
    // never judged against a clock older than itself.
    if (batch) reject_future_events(*batch, now_ms() + skew_.count(), skew_);
    return batch;
  }

  std::unique_ptr<TelemetrySource> inner_;
  std::chrono::milliseconds skew_;
};

Result<std::unique_ptr<TelemetrySource>> open_source_kind(const Config& config) {
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

}  // namespace

Result<std::unique_ptr<TelemetrySource>> open_source(const Config& config) {
  auto source = open_source_kind(config);
  if (!source) return source;
  return std::unique_ptr<TelemetrySource>(std::make_unique<ClockCheckedSource>(
      std::move(source).value(), config.telemetry.max_clock_skew));
}

}  // namespace qsc::agent
