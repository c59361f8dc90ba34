// Redis Streams reads. Entries are parsed straight from hiredis's reply tree; the tail's
// position moves only past entries whose whole reply arrived, which is what makes a reconnect
// resume exactly where it stopped.
#include "telemetry/redis_source.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <thread>

#include "telemetry/jsonl.hpp"

namespace qsc::agent {
namespace {

constexpr std::uint64_t kMaxSeq = std::numeric_limits<std::uint64_t>::max();

std::string_view as_view(const redisReply* r) {
  return std::string_view(r->str, r->len);
}

// Calls `on_entry` for each [id, [field, value, ...]] of an XRANGE/XREAD entry list. Returns
// false when the reply does not have that shape (a server that is not a stream source).
template <typename OnEntry>
bool for_each_entry(const redisReply* list, OnEntry&& on_entry) {
  if (list->type != REDIS_REPLY_ARRAY) return false;
  qsc::StreamEntry entry;
  for (std::size_t i = 0; i < list->elements; ++i) {
    const redisReply* item = list->element[i];
    if (item->type != REDIS_REPLY_ARRAY || item->elements != 2 ||
        item->element[0]->type != REDIS_REPLY_STRING) {
      return false;
    }
    entry.id.assign(item->element[0]->str, item->element[0]->len);
    const redisReply* fields = item->element[1];
    // A nil field list (an entry deleted under a consumer group) leaves the entry without
    // fields, so parse_entry rejects it as missing its event_type: counted, never silent.
    std::size_t kept = 0;
    if (fields->type == REDIS_REPLY_ARRAY) {
      for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
        const redisReply* k = fields->element[f];
        const redisReply* v = fields->element[f + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        // Assigning into the previous entry's strings reuses their buffers: no allocation
        // per field once the first entry has sized them.
        if (kept == entry.fields.size()) entry.fields.emplace_back();
        entry.fields[kept].first.assign(as_view(k));
        entry.fields[kept].second.assign(as_view(v));
        ++kept;
      }
    }
    entry.fields.resize(kept);
    on_entry(entry);
  }
  return true;
}

Error unexpected(const RedisOptions& o, std::string_view command) {
  return Error{"Redis at " + o.address() + " answered " + std::string(command) +
               " with an unexpected reply: check that telemetry.redis_url points at Redis 5 or "
               "newer"};
}

}  // namespace

std::string StreamId::str() const {
  return std::to_string(ms) + "-" + std::to_string(seq);
}

std::optional<StreamId> StreamId::prev() const noexcept {
  if (seq > 0) return StreamId{ms, seq - 1};
  if (ms > 0) return StreamId{ms - 1, kMaxSeq};
  return std::nullopt;
}

std::optional<StreamId> StreamId::next() const noexcept {
  if (seq < kMaxSeq) return StreamId{ms, seq + 1};
  if (ms < kMaxSeq) return StreamId{ms + 1, 0};
  return std::nullopt;
}

std::optional<StreamId> StreamId::parse(std::string_view text) noexcept {
  StreamId id;
  if (!qsc::parse_stream_id(text, id.ms, id.seq)) return std::nullopt;
  return id;
}

RedisSource::RedisSource(RedisOptions options, std::string stream, RedisSourceOptions tuning)
    : client_(std::move(options)), stream_(std::move(stream)), tuning_(std::move(tuning)) {
  if (tuning_.page_entries == 0) tuning_.page_entries = 1000;
}

std::string RedisSource::describe() const {
  const auto& o = client_.options();
  return "redis " + o.address() + (o.db != 0 ? " db " + std::to_string(o.db) : std::string()) +
         " stream " + stream_;
}

Status RedisSource::check_stream_type() {
  auto type = client_.key_type(stream_);
  if (!type) return std::move(type).error();
  if (*type == "stream" || *type == "none") return ok_status();
  return Error{"Redis key " + stream_ + " at " + client_.options().address() + " is a " + *type +
               ", not a stream: point telemetry.stream at the trade.intent stream (or remove the "
               "stray key with redis-cli DEL)"};
}

bool RedisSource::add_entries(const redisReply* list, BatchBuilder& builder, StreamId& last,
                              std::size_t* entries, bool record) {
  std::size_t n = 0;
  const bool shaped = for_each_entry(list, [&](const qsc::StreamEntry& e) {
    ++n;
    if (record) record_line(format_jsonl_entry(e));
    if (auto id = StreamId::parse(e.id)) last = *id;
    if (tuning_.skip_field) {
      for (const auto& [k, v] : e.fields) {
        if (k == tuning_.skip_field->first && v == tuning_.skip_field->second) {
          builder.add(qsc::ParseOutcome{qsc::Skipped{"(written by this mirror)"}});
          return;
        }
      }
    }
    builder.add(e);
  });
  if (entries != nullptr) *entries = n;
  return shaped;
}

Result<RedisSource::Page> RedisSource::read_page(const std::vector<std::string_view>& args,
                                                 BatchBuilder& builder, bool record) {
  auto reply = client_.command(args);
  if (!reply) return std::move(reply).error();
  Page page;
  StreamId last;
  if (!add_entries(reply.value().get(), builder, last, &page.entries, record)) {
    return unexpected(client_.options(), args.front());
  }
  if (page.entries > 0) page.last = last;
  return page;
}

Result<SourceSummary> RedisSource::summary(std::optional<EpochMs> after) {
  if (auto s = check_stream_type(); !s) return std::move(s).error();
  SourceSummary out;
  out.source = "redis";
  out.location = stream_;

  auto len = client_.command({"XLEN", stream_});
  if (!len) return std::move(len).error();
  if (len.value()->type != REDIS_REPLY_INTEGER) return unexpected(client_.options(), "XLEN");
  out.total_events = static_cast<std::uint64_t>(len.value()->integer);

  auto newest = client_.command({"XREVRANGE", stream_, "+", "-", "COUNT", "1"});
  if (!newest) return std::move(newest).error();
  const bool shaped = for_each_entry(newest.value().get(), [&](const qsc::StreamEntry& e) {
    if (auto id = StreamId::parse(e.id)) out.newest_event_ms = static_cast<EpochMs>(id->ms);
  });
  if (!shaped) return unexpected(client_.options(), "XREVRANGE");

  // Counting needs a scan (streams have no range count); parsing it also yields the rejections.
  BatchBuilder scan(1);
  std::string start =
      after ? StreamId{static_cast<std::uint64_t>(std::max<EpochMs>(*after, 0)), 0}.str()
            : std::string("-");
  const auto count = std::to_string(tuning_.page_entries);
  for (;;) {
    auto page = read_page({"XRANGE", stream_, start, "+", "COUNT", count}, scan, recording());
    if (!page) return std::move(page).error();
    if (page->entries < tuning_.page_entries || !page->last) break;
    auto next = page->last->next();
    if (!next) break;
    start = next->str();
  }
  out.add_scan(std::move(scan).finish(), after.has_value());
  return out;
}

Result<TelemetryBatch> RedisSource::range(EpochMs from_ms, std::optional<EpochMs> to_ms,
                                          std::size_t max_events) {
  if (auto s = check_stream_type(); !s) return std::move(s).error();
  BatchBuilder builder;
  const StreamId lower{static_cast<std::uint64_t>(std::max<EpochMs>(from_ms, 0)), 0};
  std::optional<StreamId> upper;
  if (to_ms) {
    if (*to_ms <= from_ms || *to_ms <= 0) return std::move(builder).finish();
    upper = StreamId{static_cast<std::uint64_t>(*to_ms), 0}.prev();
  }
  std::string end = upper ? upper->str() : std::string("+");
  const std::string start = lower.str();
  for (;;) {
    // Exactly as many entries as events still wanted, so the scan stops at the oldest kept
    // event and the counts describe the window and nothing older.
    std::size_t want = tuning_.page_entries;
    if (max_events != 0) want = std::min(want, max_events - builder.size());
    auto page =
        read_page({"XREVRANGE", stream_, end, start, "COUNT", std::to_string(want)}, builder);
    if (!page) return std::move(page).error();
    if (page->entries < want || !page->last) break;
    if (max_events != 0 && builder.size() >= max_events) break;
    auto prev = page->last->prev();
    if (!prev || *prev < lower) break;
    end = prev->str();
  }
  return std::move(builder).finish(/*newest_first_input=*/true);
}

Status RedisSource::start_tail(EpochMs from_ms) {
  tailing_ = true;
  const StreamId first{static_cast<std::uint64_t>(std::max<EpochMs>(from_ms, 0)), 0};
  // XREAD returns entries strictly after the given ID; 0-0 is never a valid entry ID.
  last_ = first.prev().value_or(StreamId{0, 0});
  auto connected = client_.connect();
  if (!connected) {
    schedule_reconnect(connected.error());
    return connected;
  }
  if (auto s = check_stream_type(); !s) {
    schedule_reconnect(s.error());
    return s;
  }
  failures_ = 0;
  backoff_ = std::chrono::milliseconds{0};
  return ok_status();
}

void RedisSource::schedule_reconnect(const Error& error) {
  client_.disconnect();
  ++failures_;
  backoff_ =
      backoff_.count() == 0 ? tuning_.min_backoff : std::min(backoff_ * 2, tuning_.max_backoff);
  next_attempt_ = std::chrono::steady_clock::now() + backoff_;
  last_error_ = error;
}

Status RedisSource::reconnect_if_due(std::chrono::milliseconds timeout) {
  if (client_.connected()) return ok_status();
  const auto now = std::chrono::steady_clock::now();
  if (now < next_attempt_) {
    // Wait out the backoff, but never longer than the caller allowed.
    const auto wait = std::min<std::chrono::steady_clock::duration>(next_attempt_ - now, timeout);
    std::this_thread::sleep_for(wait);
    if (std::chrono::steady_clock::now() < next_attempt_) {
      return Error{last_error_ ? last_error_->message : "Redis is unreachable"};
    }
  }
  auto connected = client_.connect();
  if (connected) connected = check_stream_type();
  if (!connected) {
    schedule_reconnect(connected.error());
    return Error{connected.error().message + " (retrying in " + std::to_string(backoff_.count()) +
                 " ms)"};
  }
  failures_ = 0;
  backoff_ = std::chrono::milliseconds{0};
  last_error_.reset();
  return ok_status();
}

Result<TelemetryBatch> RedisSource::poll(std::chrono::microseconds timeout_us) {
  // XREAD BLOCK counts whole milliseconds: never shorter than asked.
  const auto timeout = std::chrono::ceil<std::chrono::milliseconds>(timeout_us);
  if (!tailing_) return Error{"internal: poll() before start_tail() on " + describe()};
  if (auto s = reconnect_if_due(timeout); !s) return std::move(s).error();

  const auto count = std::to_string(tuning_.page_entries);
  const auto position = last_.str();
  Result<RedisReplyPtr> reply = Error{};
  if (timeout.count() <= 0) {
    reply = client_.command({"XREAD", "COUNT", count, "STREAMS", stream_, position});
  } else {
    // BLOCK 0 would wait forever; the socket timeout must outlast the block.
    const auto block = std::to_string(timeout.count());
    reply = client_.command({"XREAD", "COUNT", count, "BLOCK", block, "STREAMS", stream_, position},
                            timeout + client_.options().command_timeout);
  }
  if (!reply) {
    auto error = std::move(reply).error();
    if (client_.connected()) {
      // An error reply (the key replaced by a non-stream, a password now required, ...):
      // name it precisely when the key is the cause.
      if (auto s = check_stream_type(); !s) error = std::move(s).error();
    }
    // Every failure backs off, so a caller that keeps polling never hammers Redis.
    schedule_reconnect(error);
    return error;
  }
  BatchBuilder builder;
  const redisReply* r = reply.value().get();
  if (r->type == REDIS_REPLY_NIL) return std::move(builder).finish();  // timed out: nothing new
  if (r->type != REDIS_REPLY_ARRAY) return unexpected(client_.options(), "XREAD");
  for (std::size_t s = 0; s < r->elements; ++s) {
    const redisReply* stream = r->element[s];
    if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2) {
      return unexpected(client_.options(), "XREAD");
    }
    StreamId last = last_;
    if (!add_entries(stream->element[1], builder, last)) {
      return unexpected(client_.options(), "XREAD");
    }
    last_ = last;
  }
  return std::move(builder).finish();
}

}  // namespace qsc::agent
