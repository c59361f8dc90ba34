// Replays a recorded stream from a JSONL file (see jsonl.hpp): offline analysis, the bundled
// sample, and tailing a file that another process appends to.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "telemetry/redis_source.hpp"  // StreamId
#include "telemetry/source.hpp"

namespace qsc::agent {

/// A JSONL recording as a source. Entries are read once, in ID order, as recorded; the time
/// filters use each entry's ID. A line that is not a recording entry is a rejection
/// (reason malformed_json, entry "line N"), counted like any unreadable stream entry, and so is
/// a line whose ID is not after the newest read before it (bad_stream_id: a repeated or
/// reordered entry is never one more event, nor passed over unseen).
class JsonlSource final : public TelemetrySource {
 public:
  explicit JsonlSource(std::string path);
  ~JsonlSource() override;
  JsonlSource(const JsonlSource&) = delete;
  JsonlSource& operator=(const JsonlSource&) = delete;

  std::string describe() const override;
  Result<SourceSummary> summary(std::optional<EpochMs> after) override;
  Result<TelemetryBatch> range(EpochMs from_ms, std::optional<EpochMs> to_ms,
                               std::size_t max_events) override;
  /// Replays the file from its start (delivering entries at or after from_ms), then follows
  /// appended lines. A truncated or replaced file is re-read, delivering only entries newer
  /// than the last one delivered.
  Status start_tail(EpochMs from_ms) override;
  Result<TelemetryBatch> poll(std::chrono::microseconds timeout) override;

 private:
  // Calls on_line(line_number, text) for every complete line of the whole file.
  template <typename OnLine>
  Status scan(OnLine&& on_line);
  Status open_tail();
  // Reads newly appended complete lines into the builder; true when any was read.
  Result<bool> read_appended(BatchBuilder& builder);
  void take_line(std::string_view line, BatchBuilder& builder);

  // Each entry is read once, in stream-ID order, as the tail delivers them. A line whose ID is
  // not after the newest one read before it repeats or reorders an entry: it is an unreadable
  // entry, never one more event (`cat rec.jsonl rec.jsonl` doubled every event toward
  // telemetry.min_events, and the gate passed on half of them), nor passed over unseen (a
  // reordered NaN confidence went unjudged while the period could still end clean).
  class StreamOrder {
   public:
    // The rejection (bad_stream_id) of line `number` of `path` with ID `id`, or nullopt when it
    // comes after the newest: then it is the newest.
    std::optional<qsc::Rejection> check(const StreamId& id, std::uint64_t number,
                                        const std::string& path);
    bool any() const noexcept { return newest_.has_value(); }

   private:
    std::optional<StreamId> newest_;
    std::uint64_t newest_line_ = 0;
  };

  std::string path_;
  std::FILE* tail_file_ = nullptr;
  std::uint64_t tail_inode_ = 0;
  std::uint64_t tail_offset_ = 0;  // bytes of complete lines consumed
  std::uint64_t tail_line_ = 0;
  std::string partial_;  // an appended line still missing its newline
  bool tailing_ = false;
  StreamId tail_from_;     // deliver entries at or after this ID
  StreamOrder delivered_;  // the newest entry delivered so far, and its line
  // A replaced or truncated file is being read again from its start: what was delivered before
  // is passed over until a line is newer than delivered_ (elsewhere such a line is rejected).
  bool rereading_ = false;
};

}  // namespace qsc::agent
