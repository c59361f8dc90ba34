// JSONL replay and tail. The tail keeps its byte offset and the last delivered ID: the offset
// makes following cheap, the ID makes a truncated or rotated file safe to re-read.
#include "telemetry/jsonl_source.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "telemetry/jsonl.hpp"

namespace qsc::agent {
namespace {

constexpr std::chrono::milliseconds kTailPollInterval{20};

Error open_error(const std::string& path) {
  if (errno == ENOENT) {
    return Error{"telemetry file " + path +
                 " does not exist: record one with qsc telemetry --record FILE, or fix "
                 "telemetry.file"};
  }
  return Error{"cannot read telemetry file " + path + ": " + std::strerror(errno)};
}

qsc::Rejection line_rejection(std::uint64_t line_number, const std::string& path,
                              qsc::RejectReason reason, const std::string& why) {
  const std::string where = "line " + std::to_string(line_number);
  return qsc::Rejection{reason, where, "line", path + " " + where + ": " + why};
}

}  // namespace

std::optional<qsc::Rejection> JsonlSource::StreamOrder::check(const StreamId& id,
                                                              std::uint64_t number,
                                                              const std::string& path) {
  if (newest_ && id <= *newest_) {
    return line_rejection(number, path, qsc::RejectReason::kBadStreamId,
                          "stream ID " + id.str() + " is not after line " +
                              std::to_string(newest_line_) + "'s " + newest_->str() +
                              ": the file repeats or reorders entries, and each entry is read "
                              "once, in stream-ID order. Sort it by ID and drop repeated lines");
  }
  newest_ = id;
  newest_line_ = number;
  return std::nullopt;
}

JsonlSource::JsonlSource(std::string path) : path_(std::move(path)) {}

JsonlSource::~JsonlSource() {
  if (tail_file_ != nullptr) std::fclose(tail_file_);
}

std::string JsonlSource::describe() const {
  return "file " + path_;
}

template <typename OnLine>
Status JsonlSource::scan(OnLine&& on_line) {
  std::FILE* f = std::fopen(path_.c_str(), "re");
  if (f == nullptr) return open_error(path_);
  char* buffer = nullptr;
  std::size_t capacity = 0;
  std::uint64_t number = 0;
  ssize_t n;
  while ((n = ::getline(&buffer, &capacity, f)) >= 0) {
    ++number;
    std::string_view line(buffer, static_cast<std::size_t>(n));
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    on_line(number, line);
  }
  const bool failed = std::ferror(f) != 0;
  std::free(buffer);
  std::fclose(f);
  if (failed) return Error{"error reading telemetry file " + path_};
  return ok_status();
}

Result<SourceSummary> JsonlSource::summary(std::optional<EpochMs> after) {
  SourceSummary out;
  out.source = "file";
  out.location = path_;
  BatchBuilder scan_builder(1);
  const auto from = after ? static_cast<std::uint64_t>(std::max<EpochMs>(*after, 0)) : 0;
  StreamOrder order;
  auto status = scan([&](std::uint64_t number, std::string_view line) {
    ++out.total_events;
    auto reason = qsc::RejectReason::kMalformedJson;
    auto entry = parse_jsonl_entry(line, &reason);
    if (!entry) {
      record_line(line);  // verbatim: a replay rejects it again
      scan_builder.add_rejection(line_rejection(number, path_, reason, entry.error().message));
      return;
    }
    auto id = StreamId::parse(entry->id);
    if (id) {
      if (!out.newest_event_ms || static_cast<EpochMs>(id->ms) > *out.newest_event_ms) {
        out.newest_event_ms = static_cast<EpochMs>(id->ms);
      }
      if (id->ms < from) return;
      if (auto repeated = order.check(*id, number, path_)) {
        record_line(line);  // verbatim: a replay finds it out of order too
        scan_builder.add_rejection(std::move(*repeated));
        return;
      }
    }
    record_line(line);
    scan_builder.add(*entry);  // an unreadable ID is rejected (and counted) by parse_entry
  });
  if (!status) return std::move(status).error();
  out.add_scan(std::move(scan_builder).finish(), after.has_value());
  return out;
}

Result<TelemetryBatch> JsonlSource::range(EpochMs from_ms, std::optional<EpochMs> to_ms,
                                          std::size_t max_events) {
  BatchBuilder builder(max_events);
  StreamOrder order;
  auto status = scan([&](std::uint64_t number, std::string_view line) {
    auto reason = qsc::RejectReason::kMalformedJson;
    auto entry = parse_jsonl_entry(line, &reason);
    if (!entry) {
      builder.add_rejection(line_rejection(number, path_, reason, entry.error().message));
      return;
    }
    if (auto id = StreamId::parse(entry->id)) {
      const auto ms = static_cast<EpochMs>(id->ms);
      if (ms < from_ms || (to_ms && ms >= *to_ms)) return;
      if (auto repeated = order.check(*id, number, path_)) {
        builder.add_rejection(std::move(*repeated));
        return;
      }
    }
    builder.add(*entry);
  });
  if (!status) return std::move(status).error();
  return std::move(builder).finish();
}

Status JsonlSource::start_tail(EpochMs from_ms) {
  tailing_ = true;
  tail_from_ = StreamId{static_cast<std::uint64_t>(std::max<EpochMs>(from_ms, 0)), 0};
  delivered_ = {};
  rereading_ = false;
  if (tail_file_ != nullptr) std::fclose(tail_file_);
  tail_file_ = nullptr;
  return open_tail();
}

Status JsonlSource::open_tail() {
  tail_file_ = std::fopen(path_.c_str(), "re");
  if (tail_file_ == nullptr) return open_error(path_);
  struct stat st {};
  if (::fstat(fileno(tail_file_), &st) == 0) tail_inode_ = st.st_ino;
  tail_offset_ = 0;
  tail_line_ = 0;
  partial_.clear();
  return ok_status();
}

void JsonlSource::take_line(std::string_view line, BatchBuilder& builder) {
  ++tail_line_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return;
  auto reason = qsc::RejectReason::kMalformedJson;
  auto entry = parse_jsonl_entry(line, &reason);
  if (!entry) {
    builder.add_rejection(line_rejection(tail_line_, path_, reason, entry.error().message));
    return;
  }
  if (auto id = StreamId::parse(entry->id)) {
    if (*id < tail_from_) return;
    // Counted as unreadable, as range() counts it; not while a replaced file is read again.
    if (auto repeated = delivered_.check(*id, tail_line_, path_)) {
      if (!rereading_) builder.add_rejection(std::move(*repeated));
      return;
    }
    rereading_ = false;
  }
  builder.add(*entry);
}

Result<bool> JsonlSource::read_appended(BatchBuilder& builder) {
  // A rotated (new inode) or truncated file starts over; delivered_ keeps it exactly-once.
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return open_error(path_);
  if (static_cast<std::uint64_t>(st.st_ino) != tail_inode_ ||
      static_cast<std::uint64_t>(st.st_size) < tail_offset_) {
    std::fclose(tail_file_);
    tail_file_ = nullptr;
    rereading_ = delivered_.any();
    if (auto s = open_tail(); !s) return std::move(s).error();
  }
  std::clearerr(tail_file_);
  if (std::fseek(tail_file_, static_cast<long>(tail_offset_ + partial_.size()), SEEK_SET) != 0) {
    return Error{"cannot seek in telemetry file " + path_ + ": " + std::strerror(errno)};
  }
  bool any = false;
  char chunk[65536];
  std::size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, tail_file_)) > 0) {
    any = true;
    partial_.append(chunk, n);
  }
  if (std::ferror(tail_file_)) return Error{"error reading telemetry file " + path_};
  std::size_t start = 0;
  for (std::size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
    take_line(std::string_view(partial_).substr(start, nl - start), builder);
  }
  tail_offset_ += start;
  partial_.erase(0, start);
  return any;
}

Result<TelemetryBatch> JsonlSource::poll(std::chrono::microseconds timeout) {
  if (!tailing_) return Error{"internal: poll() before start_tail() on " + describe()};
  if (tail_file_ == nullptr) {
    if (auto s = open_tail(); !s) return std::move(s).error();
  }
  BatchBuilder builder;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto read = read_appended(builder);
    if (!read) return std::move(read).error();
    const auto counts = builder.counts();
    if (counts.accepted + counts.skipped + counts.rejected_total() > 0) break;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(kTailPollInterval, deadline - now));
  }
  return std::move(builder).finish();
}

}  // namespace qsc::agent
