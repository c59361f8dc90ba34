// The Redis Streams source: XLEN / XREVRANGE / XRANGE for counts and windows, XREAD BLOCK for
// tailing, with reconnects that resume from the last entry seen so nothing is skipped or
// delivered twice across a Redis restart.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "telemetry/redis_client.hpp"

struct redisReply;
#include "telemetry/source.hpp"

namespace qsc::agent {

/// A stream entry ID, ordered as Redis orders them.
struct StreamId {
  std::uint64_t ms = 0;
  std::uint64_t seq = 0;

  /// "<ms>-<seq>".
  std::string str() const;
  /// The largest ID below this one; nullopt for 0-0.
  std::optional<StreamId> prev() const noexcept;
  /// The smallest ID above this one; nullopt at the very end.
  std::optional<StreamId> next() const noexcept;
  /// Parses "<ms>-<seq>" or "<ms>".
  static std::optional<StreamId> parse(std::string_view text) noexcept;
  friend auto operator<=>(const StreamId&, const StreamId&) = default;
};

/// Tuning that the defaults cover; tests shorten the backoff.
struct RedisSourceOptions {
  std::size_t page_entries = 1000;  ///< COUNT per XRANGE/XREVRANGE/XREAD round trip
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  /// Entries carrying this field with this value are consumed but not delivered (counted as
  /// skipped): `qsc mirror` uses it so what it wrote into Redis does not come back around.
  std::optional<std::pair<std::string, std::string>> skip_field;
};

/// Reads one stream of one Redis server.
class RedisSource final : public TelemetrySource {
 public:
  RedisSource(RedisOptions options, std::string stream, RedisSourceOptions tuning = {});

  std::string describe() const override;
  Result<SourceSummary> summary(std::optional<EpochMs> after) override;
  /// Pages backwards (XREVRANGE) from to_ms so only the window is read, however long the
  /// stream; the counts cover exactly the entries from the oldest kept event to to_ms.
  /// max_events = 0 means no limit.
  Result<TelemetryBatch> range(EpochMs from_ms, std::optional<EpochMs> to_ms,
                               std::size_t max_events) override;
  /// Positions the tail even when Redis is unreachable (the error says so; poll retries).
  Status start_tail(EpochMs from_ms) override;
  Result<TelemetryBatch> poll(std::chrono::microseconds timeout) override;

  /// The last entry the tail has consumed (delivered, skipped or rejected).
  StreamId tail_position() const noexcept { return last_; }
  /// Consecutive failed reconnects so far (0 while connected).
  std::uint64_t failed_reconnects() const noexcept { return failures_; }

 private:
  struct Page {
    std::size_t entries = 0;       // entries the reply held (whatever their outcome)
    std::optional<StreamId> last;  // the last entry's ID
  };
  Status check_stream_type();
  // Parses an entry list into the builder (honouring skip_field); false for a malformed reply.
  // `record`: also hand each entry to the recorder (summary's scan).
  bool add_entries(const redisReply* list, BatchBuilder& builder, StreamId& last,
                   std::size_t* entries = nullptr, bool record = false);
  // Runs an XRANGE/XREVRANGE and adds its entries.
  Result<Page> read_page(const std::vector<std::string_view>& args, BatchBuilder& builder,
                         bool record = false);
  Status reconnect_if_due(std::chrono::milliseconds timeout);
  void schedule_reconnect(const Error& error);

  RedisClient client_;
  std::string stream_;
  RedisSourceOptions tuning_;
  bool tailing_ = false;
  StreamId last_;
  std::uint64_t failures_ = 0;
  std::chrono::milliseconds backoff_{0};
  std::chrono::steady_clock::time_point next_attempt_{};
  std::optional<Error> last_error_;
};

}  // namespace qsc::agent
