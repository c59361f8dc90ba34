// Ring reads. One pass reads from the oldest retained record up to the tail seen when the
// pass began, so a busy producer cannot keep a summary or a range from finishing.
#include "telemetry/shm_source.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <thread>
#include <vector>

#include "telemetry/jsonl.hpp"

namespace qsc::agent {
namespace {

// Events one poll() returns at most, so a long backlog comes in bounded batches.
constexpr std::size_t kMaxPollEvents = 4096;

// A spent event's predictions are asked for this many events before read_into writes over
// them, the event itself (its vector's pointer and size) twice as many (prefetch_spare_*). They
// were last touched when the window evicted the event, a wake-up or more ago, and at 1,000 events/s
// the first load of each (its model name's length) missed the cache: 87% of read_into's samples,
// 5-6% of the worker (perf, session 17). A record is decoded in well under a microsecond, a miss
// costs ~0.1 us: a few events ahead is enough.
constexpr std::size_t kPrefetchAheadEvents = 4;
constexpr std::size_t kCacheLineBytes = 64;

std::string shm_path(const std::string& name) {
  return "/dev/shm/" + name;
}

}  // namespace

void LossLedger::on_record(std::uint64_t consumer_lost, EpochMs record_ms,
                           std::uint64_t accepted_before) {
  const std::uint64_t delta = consumer_lost - classified_;
  classified_ = consumer_lost;
  if (!in_window_ && from_ms_ && record_ms < *from_ms_) {
    skipped_ += delta;
    return;
  }
  if (delta > 0) window_losses_.push_back({accepted_before, delta});
  if (!from_ms_ || record_ms >= *from_ms_) in_window_ = true;
}

void LossLedger::settle(std::uint64_t consumer_lost, std::uint64_t accepted_before) {
  const std::uint64_t delta = consumer_lost - classified_;
  classified_ = consumer_lost;
  if (delta > 0) window_losses_.push_back({accepted_before, delta});
}

void LossLedger::flush_into(TelemetryBatch& batch, std::size_t max_events,
                            std::uint64_t accepted) noexcept {
  for (const auto& loss : window_losses_) {
    // Before the oldest of the newest max_events accepted events: had these been read, the
    // bounded window would have dropped them as too old, so the window is complete without.
    const bool evicted =
        max_events > 0 && accepted >= max_events && loss.accepted_before <= accepted - max_events;
    (evicted ? batch.skipped_before_window : batch.events_lost) += loss.events;
  }
  batch.skipped_before_window += skipped_;
  window_losses_.clear();
  skipped_ = 0;
}

Result<ipc::WaitStrategy> parse_shm_wait(std::string_view text) {
  std::string normalized(text);
  std::replace(normalized.begin(), normalized.end(), '_', '-');
  if (auto w = ipc::parse_wait_strategy(normalized)) return *w;
  return Error{"telemetry.shm_wait \"" + std::string(text) +
               "\" is unknown: use spin, spin_then_sleep or block"};
}

Result<std::optional<uid_t>> parse_shm_owner(std::string_view text) {
  if (text.empty()) return std::optional<uid_t>{};
  const std::string owner(text);
  if (std::all_of(owner.begin(), owner.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (owner.size() > 10 || std::stoull(owner) > std::numeric_limits<uid_t>::max() - 1) {
      return Error{"telemetry.shm_owner \"" + owner + "\" is not a valid uid"};
    }
    return std::optional<uid_t>(static_cast<uid_t>(std::stoull(owner)));
  }
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  const int rc = ::getpwnam_r(owner.c_str(), &entry, buf.data(), buf.size(), &found);
  if (rc != 0 || found == nullptr) {
    return Error{"telemetry.shm_owner \"" + owner +
                 "\" is not a user on this host: set it to the user name or uid the AI "
                 "engine's ring producer runs as, or leave it empty to trust only " +
                 std::to_string(::geteuid())};
  }
  return std::optional<uid_t>(found->pw_uid);
}

ShmSource::ShmSource(std::string name, ipc::WaitStrategy wait, std::uint64_t capacity_records,
                     std::optional<uid_t> trusted_owner_uid)
    : name_(std::move(name)),
      wait_(wait),
      capacity_records_(capacity_records),
      trusted_owner_uid_(trusted_owner_uid) {}

Result<std::unique_ptr<ShmSource>> ShmSource::open(std::string name, std::string_view wait,
                                                   std::string_view owner) {
  auto strategy = parse_shm_wait(wait);
  if (!strategy) return std::move(strategy).error();
  auto trusted = parse_shm_owner(owner);
  if (!trusted) return std::move(trusted).error();
  return std::make_unique<ShmSource>(std::move(name), *strategy, ipc::kDefaultCapacityRecords,
                                     *trusted);
}

std::string ShmSource::describe() const {
  return "shm ring " + name_ + " (" + shm_path(name_) + ")";
}

Result<ipc::RingConsumer> ShmSource::attach() const {
  std::error_code ec;
  if (!std::filesystem::exists(shm_path(name_), ec)) {
    return Error{"shared-memory ring " + name_ + " does not exist (" + shm_path(name_) +
                 "): start the AI engine's ring producer, or qsc mirror to copy Redis into it, "
                 "or set telemetry.source to redis"};
  }
  ipc::ConsumerOptions options;
  options.name = name_;
  options.capacity_records = capacity_records_;
  options.wait = wait_;
  options.start = ipc::StartPosition::kOldest;
  options.create_if_missing = false;
  options.trusted_owner_uid = trusted_owner_uid_;
  auto consumer = ipc::RingConsumer::open(options);
  if (!consumer) {
    return Error{"cannot read shared-memory ring " + name_ + ": " + consumer.error().message};
  }
  return consumer;
}

const qsc::TradeIntent* ShmSource::spare(std::size_t from_back) const noexcept {
  if (spare_events_.size() <= from_back) return nullptr;
  return &spare_events_[spare_events_.size() - 1 - from_back];
}

void ShmSource::prefetch_spare_event(std::size_t from_back) const noexcept {
  const auto* event = reinterpret_cast<const char*>(spare(from_back));
  if (event == nullptr) return;
  for (std::size_t offset = 0; offset < sizeof(qsc::TradeIntent); offset += kCacheLineBytes) {
    __builtin_prefetch(event + offset, /*write=*/1);
  }
}

void ShmSource::prefetch_spare_predictions(std::size_t from_back) const noexcept {
  const auto* event = spare(from_back);
  if (event == nullptr) return;
  const auto* bytes = reinterpret_cast<const char*>(event->predictions.data());
  const std::size_t size = event->predictions.size() * sizeof(qsc::Prediction);
  for (std::size_t offset = 0; offset < size; offset += kCacheLineBytes) {
    __builtin_prefetch(bytes + offset, /*write=*/1);
  }
}

void ShmSource::take(ipc::RingConsumer& consumer, const ipc::Record& record, BatchBuilder& builder,
                     std::optional<EpochMs> from_ms, std::optional<EpochMs> to_ms) {
  const auto ms = static_cast<EpochMs>(record.time_ms);
  if ((from_ms && ms < *from_ms) || (to_ms && ms >= *to_ms)) return;
  // A rejected-entry record, a record without predictions or one that does not decode is
  // unreadable telemetry: counted with its reason, as a rejected Redis entry is.
  qsc::TradeIntent event;
  if (!spare_events_.empty()) {  // a spent event: read over, its storage kept
    prefetch_spare_event(2 * kPrefetchAheadEvents);
    prefetch_spare_predictions(kPrefetchAheadEvents);
    event = std::move(spare_events_.back());
    spare_events_.pop_back();
  }
  if (auto rejection = consumer.read_into(record, event)) {
    builder.add_rejection(std::move(*rejection));
    spare_events_.push_back(std::move(event));
    return;
  }
  builder.add_event(std::move(event));
}

void ShmSource::recycle(TelemetryBatch&& spent) {
  for (auto& event : spent.events) {
    // Bounded: what one poll() reads at most. A larger batch (read_ahead's) leaves the rest
    // to be freed with it.
    if (spare_events_.size() >= kMaxPollEvents) break;
    spare_events_.push_back(std::move(event));
  }
  spent.events.clear();
  if (spent.events.capacity() > spare_batch_events_.capacity()) {
    spare_batch_events_ = std::move(spent.events);
  }
}

void ShmSource::record_ring_record(ipc::RingConsumer& consumer, const ipc::Record& record) {
  const auto id = std::to_string(record.time_ms) + "-" + std::to_string(record.seq);
  auto event = consumer.decode(record);
  if (!event) {
    // Kept as an entry a replay rejects too (as malformed), so it is never recorded away.
    record_line(format_jsonl_entry(
        {id, {{"event_type", "trade.intent"}, {"payload", "<undecodable ring record>"}}}));
    return;
  }
  record_line(format_jsonl_entry({id, fields_for_event(*event)}));
}

template <typename OnRecord>
Status ShmSource::drain(ipc::RingConsumer& consumer, LossLedger& ledger,
                        const BatchBuilder& builder, OnRecord&& on_record) {
  const auto end = consumer.tail();
  // Every stuck slot is skipped after the ring's abandon timeout, so this only guards against
  // a consumer that cannot make progress at all.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  ipc::Record record;
  while (consumer.position() < end) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Error{"shared-memory ring " + name_ + " made no progress for 5 s at sequence " +
                   std::to_string(consumer.position()) + ": a producer may be stuck mid-write"};
    }
    if (!consumer.poll_record(record)) {
      if (consumer.attach_error()) return *consumer.attach_error();
      // A claimed but unfinished slot: next_record waits it out (then counts it lost).
      if (!consumer.next_record(record, std::chrono::milliseconds(200))) {
        if (consumer.attach_error()) return *consumer.attach_error();
        if (consumer.position() < end) continue;
        break;
      }
    }
    ledger.on_record(consumer.lost(), static_cast<EpochMs>(record.time_ms),
                     builder.counts().accepted);
    on_record(record);
  }
  ledger.settle(consumer.lost(), builder.counts().accepted);
  return ok_status();
}

Result<SourceSummary> ShmSource::summary(std::optional<EpochMs> after) {
  auto consumer = attach();
  if (!consumer) return std::move(consumer).error();
  SourceSummary out;
  out.source = "shm";
  out.location = name_;
  BatchBuilder scan(1);
  LossLedger ledger(after);
  auto status = drain(consumer.value(), ledger, scan, [&](const ipc::Record& record) {
    ++out.total_events;
    const auto ms = static_cast<EpochMs>(record.time_ms);
    out.newest_event_ms = std::max(out.newest_event_ms.value_or(ms), ms);
    if (recording() && !(after && ms < *after)) record_ring_record(consumer.value(), record);
    take(consumer.value(), record, scan, after, std::nullopt);
  });
  if (!status) return std::move(status).error();
  auto batch = std::move(scan).finish();
  ledger.flush_into(batch);
  out.add_scan(std::move(batch), after.has_value());
  return out;
}

Result<TelemetryBatch> ShmSource::range(EpochMs from_ms, std::optional<EpochMs> to_ms,
                                        std::size_t max_events) {
  auto consumer = attach();
  if (!consumer) return std::move(consumer).error();
  BatchBuilder builder(max_events);
  LossLedger ledger(from_ms);
  auto status = drain(consumer.value(), ledger, builder, [&](const ipc::Record& record) {
    take(consumer.value(), record, builder, from_ms, to_ms);
  });
  if (!status) return std::move(status).error();
  const auto accepted = builder.counts().accepted;
  auto batch = std::move(builder).finish();
  ledger.flush_into(batch, max_events, accepted);
  return batch;
}

Status ShmSource::start_tail(EpochMs from_ms) {
  tailing_ = true;
  tail_from_ms_ = from_ms;
  tail_.reset();
  tail_ledger_ = LossLedger(from_ms);
  auto consumer = attach();
  if (!consumer) return std::move(consumer).error();
  tail_.emplace(std::move(consumer).value());
  tail_watches_ = false;
  read_ahead();
  return ok_status();
}

void ShmSource::read_ahead() {
  // The ring starts a tail on a full ring only an eighth of a ring ahead of the producers'
  // overwrites (ipc::StartPosition::kOldest). Read what the ring holds at once (up to a
  // ring's worth), microseconds after attaching, rather than from the first poll() on, which
  // may come later than a busy producer takes to use up that headroom.
  // Spelled out: clang 14 cannot default-construct a nested aggregate with member initialisers
  // inside its enclosing class (the fuzz build, tests/fuzz/build, compiles this file).
  pending_.emplace(Pending{BatchBuilder{}, 0});
  ipc::Record record;
  while (pending_->records < capacity_records_ && tail_->poll_record(record)) {
    tail_ledger_.on_record(tail_->lost(), static_cast<EpochMs>(record.time_ms));
    take(*tail_, record, pending_->builder, tail_from_ms_, std::nullopt);
    ++pending_->records;
  }
}

Result<TelemetryBatch> ShmSource::poll(std::chrono::microseconds timeout) {
  if (!tailing_) return Error{"internal: poll() before start_tail() on " + describe()};
  if (!tail_) {
    // Started before the producer: attach once the segment appears.
    auto consumer = attach();
    if (!consumer) {
      std::this_thread::sleep_for(
          std::min<std::chrono::microseconds>(timeout, std::chrono::milliseconds(100)));
      return std::move(consumer).error();
    }
    tail_.emplace(std::move(consumer).value());
    tail_watches_ = false;
    read_ahead();
  }
  BatchBuilder builder(std::move(spare_batch_events_));
  spare_batch_events_ = {};
  bool any = false;
  if (pending_) {  // what read_ahead() read when the tail attached
    builder = std::move(pending_->builder);
    any = pending_->records > 0;
    pending_.reset();
  }
  ipc::Record record;
  const auto take_one = [&] {
    tail_ledger_.on_record(tail_->lost(), static_cast<EpochMs>(record.time_ms));
    take(*tail_, record, builder, tail_from_ms_, std::nullopt);
  };
  std::size_t n = 0;
  if (!any) {
    // Before its first watermark the tail learns the canary, whose abnormal predictions must
    // wake it at once (without one, any model's would: a shadow model's at every event).
    if (!tail_watches_ && !canary_.empty()) {
      tail_->watch_model(canary_);
      tail_watches_ = true;
    }
    // Records, not accepted events: waking after that many records is never later.
    if (tail_->next_record(record, timeout, wake_after_events_)) {
      // Awake (the wait is over): the first events read over are asked for here, each later
      // one by take().
      for (std::size_t k = 0; k < 2 * kPrefetchAheadEvents; ++k) prefetch_spare_event(k);
      for (std::size_t k = 0; k < kPrefetchAheadEvents; ++k) prefetch_spare_predictions(k);
      take_one();
      n = 1;
    } else if (tail_->attach_error()) {
      return *tail_->attach_error();
    }
  }
  while ((any || n > 0) && n < kMaxPollEvents && tail_->poll_record(record)) {
    take_one();
    ++n;
  }
  // Loss no record followed yet is reported now: it may be the window's (fail closed).
  tail_ledger_.settle(tail_->lost());
  auto batch = std::move(builder).finish();
  tail_ledger_.flush_into(batch);
  return batch;
}

void ShmSource::set_wake_after_events(std::uint64_t events, const std::string& canary) {
  wake_after_events_ = events;
  if (canary != canary_) {
    canary_ = canary;
    tail_watches_ = false;
  }
}

std::optional<ipc::ConsumerStats> ShmSource::tail_stats() const {
  if (!tail_) return std::nullopt;
  return tail_->stats();
}

}  // namespace qsc::agent
