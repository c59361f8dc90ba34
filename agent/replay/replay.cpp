// `qsc replay`: the monitor's evaluation step on event time.
//
// The live worker evaluates when events arrive, when an interval check falls due and, while
// nothing arrives, often enough to see silence pass telemetry.stale_after. On event time the
// same three moments are: after every entry read, at each check's due time, and at the first
// millisecond a gap between accepted events exceeds stale_after. Between those moments nothing
// a detector sees changes (only the silence grows), so evaluating at them judges the recording
// exactly as a worker that evaluated continuously would have: the finding is the earliest event
// at which the policy acts, which a live worker reaches one poll later at most.
#include "replay/replay.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <limits>
#include <map>
#include <set>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/console_text.hpp"
#include "core/duration.hpp"
#include "lifecycle/services.hpp"
#include "metrics/detector_thresholds.hpp"
#include "metrics/metrics_publisher.hpp"
#include "monitor/evaluation_step.hpp"
#include "monitor/undecided_checks.hpp"
#include "telemetry/jsonl.hpp"
#include "telemetry/jsonl_plain.hpp"
#include "telemetry/redis_source.hpp"  // StreamId
#include "telemetry/source.hpp"

namespace qsc::agent {

const char* replay_cause_name(ReplayCause cause) noexcept {
  switch (cause) {
    case ReplayCause::kEvent:
      return "event";
    case ReplayCause::kIntervalCheck:
      return "interval_check";
    case ReplayCause::kSilence:
      return "silence";
    case ReplayCause::kPeriodEnd:
      return "period_end";
  }
  return "event";
}

namespace {

constexpr EpochMs kNever = std::numeric_limits<EpochMs>::max();
// The monitor's trigger for a rollback on a detector's violation (monitor.cpp roll_back()).
constexpr const char* kRollbackTrigger = "qsc_monitor_violation";

// CPU time, so the throughput figure does not depend on what else the machine runs.
double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

StepTime step_time(EpochMs ms) {
  return std::chrono::duration_cast<StepTime>(std::chrono::milliseconds(ms));
}

// A recording cut shorter while it is mapped (truncated in place) raises SIGBUS at the next read
// of a page past its new end. The reading cannot go on and no verdict may be given, so the
// replay ends as bad input (exit 2) naming the file and the fix, not by the signal's core dump.
// A bus error anywhere else (a plugin's own, replay runs them in-process) keeps the default
// action: the handler tells them apart by the faulting address.
class TruncationGuard {
 public:
  // Installs the handler for the mapping [begin, begin + bytes) of the recording `path`.
  static void watch(const char* begin, std::size_t bytes, const std::string& path) {
    const std::string text = "qsc replay: the recording " + path +
                             " was cut shorter while it was read (a bus error past its new end); "
                             "no verdict: replay a copy that nothing writes to (cp " +
                             path + " REC.copy.jsonl)\n";
    message_bytes_ = std::min(text.size(), sizeof message_);
    std::memcpy(message_, text.data(), message_bytes_);
    message_[message_bytes_ - 1] = '\n';  // a path too long for the buffer: cut, one line still
    bytes_ = bytes;
    begin_.store(begin, std::memory_order_release);  // the handler reads the range after this
    struct sigaction action {};
    action.sa_sigaction = &on_bus_error;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGBUS, &action, &previous_);
  }
  // Before the mapping goes: the previous disposition back.
  static void release() {
    if (begin_.exchange(nullptr, std::memory_order_acq_rel) == nullptr) return;
    ::sigaction(SIGBUS, &previous_, nullptr);
  }

 private:
  // Async-signal-safe only: write and _exit for the recording's fault; for any other, the
  // default action restored and the signal raised again (pending until the handler returns,
  // then fatal; a faulting access would fault again anyway).
  static void on_bus_error(int signal, siginfo_t* info, void*) {
    const auto* at = static_cast<const char*>(info->si_addr);
    const char* begin = begin_.load(std::memory_order_acquire);
    // si_code > 0: raised by the kernel for an access (a signal sent by kill or raise carries
    // the sender's pid where the address would be).
    if (info->si_code > 0 && begin != nullptr && at >= begin && at < begin + bytes_) {
      [[maybe_unused]] const auto written = ::write(STDERR_FILENO, message_, message_bytes_);
      ::_exit(2);
    }
    ::signal(signal, SIG_DFL);
    ::raise(signal);
  }

  static inline std::atomic<const char*> begin_{nullptr};
  static inline std::size_t bytes_ = 0;
  static inline char message_[1024] = {};
  static inline std::size_t message_bytes_ = 0;
  static inline struct sigaction previous_ {};
};

// Reads a recording line by line. A regular file is mapped and each line is a view into the
// mapping: read() copied every byte from the page cache (the kernel's share of a replay's
// samples 8.2-8.6% with it, 7.3-7.9% mapped: the faults take back part of the copy's 4%,
// session 16). A file cut shorter under the mapping ends the replay as bad input
// (TruncationGuard). Past the mapped bytes (a file appended to
// since it was opened), or where a file cannot be mapped (a pipe), it reads on a large block at
// a time, each line a view into the block (getline copied every line into its buffer, about 330
// instructions of a replayed line's, session 12). No line length limit of its own (a line
// longer than the block grows it); parse_entry bounds what a line may cost.
class LineReader {
 public:
  LineReader(std::FILE* file, const std::string& path) : file_(file) {
    map_file(path);
    if (mapped_ == nullptr) buffer_.resize(kBlockBytes);
  }
  ~LineReader() {
    unmap();
    if (file_ != nullptr) std::fclose(file_);
  }
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;
  // The next line without its newline; false at the end. A last line without a newline is a
  // line, as getline reads it.
  bool next(std::string_view& line) {
    if (mapped_ != nullptr && !next_mapped(line)) read_on_after_mapping();
    if (mapped_ == nullptr && !next_buffered(line)) return false;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return true;
  }
  bool failed() const { return seek_failed_ || std::ferror(file_) != 0; }

 private:
  static constexpr std::size_t kBlockBytes = 256 * 1024;
  // map_ahead()'s distances: one setting, measured but not tuned ("Session 17: replay's reader
  // and host (parse17)" in docs/PERFORMANCE.md).
  static constexpr std::size_t kPopulateBlockBytes = 1024 * 1024;
  static constexpr std::size_t kPopulateAheadBytes = 2 * kPopulateBlockBytes;
  static constexpr std::size_t kPrefetchBytes = 2048;

  void map_file(const std::string& path) {
    struct stat st {};
    const int fd = ::fileno(file_);
    if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) return;
    void* const at =
        ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (at == MAP_FAILED) return;  // read as a stream instead
    ::madvise(at, static_cast<std::size_t>(st.st_size), MADV_SEQUENTIAL);
    mapped_ = static_cast<const char*>(at);
    mapped_bytes_ = static_cast<std::size_t>(st.st_size);
    TruncationGuard::watch(mapped_, mapped_bytes_, path);
  }

  void unmap() {
    if (mapped_ == nullptr) return;
    TruncationGuard::release();
    ::munmap(const_cast<char*>(mapped_), mapped_bytes_);
    mapped_ = nullptr;
  }

  // The next line ended by a newline within the mapping; false when none is left there.
  bool next_mapped(std::string_view& line) {
    const char* const from = mapped_ + mapped_at_;
    const auto* newline =
        static_cast<const char*>(std::memchr(from, '\n', mapped_bytes_ - mapped_at_));
    if (newline == nullptr) return false;
    line = std::string_view(from, static_cast<std::size_t>(newline - from));
    mapped_at_ = static_cast<std::size_t>(newline - mapped_) + 1;
    map_ahead();
    return true;
  }

  // Keeps the bytes ahead of the next line mapped and on their way to the cache. The scan for a
  // line's end was the first touch of its bytes: it waited for the page's fault (the kernel
  // maps fault_around_bytes, 64 KiB, a fault) and for each cache line in turn, as the hardware
  // prefetcher stops at every 4 KiB page (memchr 2.3-7.8% of replay's samples on main d1cbb30,
  // for a scan of ~530 bytes a line; 1.2-2.4% with this). Both are asked for ahead instead: the
  // pages a block at a time (MADV_POPULATE_READ: no fault per 64 KiB; it fails without a signal on
  // a file cut shorter, and then is not asked again), the bytes kPrefetchBytes ahead (a prefetch to
  // a page not mapped yet is dropped, not faulted: hence both).
  void map_ahead() {
    // A line longer than a block passed the blocks it spans: neither is asked for behind it.
    populated_to_ = std::max(populated_to_, mapped_at_ / kPopulateBlockBytes * kPopulateBlockBytes);
    prefetched_to_ = std::max(prefetched_to_, mapped_at_);
    if (populate_ && mapped_at_ + kPopulateAheadBytes > populated_to_ &&
        populated_to_ < mapped_bytes_) {
      const std::size_t bytes = std::min(kPopulateBlockBytes, mapped_bytes_ - populated_to_);
      // populated_to_ is a multiple of the block from the mapping's page-aligned start.
      if (::madvise(const_cast<char*>(mapped_) + populated_to_, bytes, MADV_POPULATE_READ) != 0) {
        populate_ = false;  // an older kernel (EINVAL) or a file cut shorter (EFAULT)
      }
      populated_to_ += bytes;
    }
    constexpr std::size_t kLineBytes = 64;
    const std::size_t to = std::min(mapped_at_ + kPrefetchBytes, mapped_bytes_);
    for (; prefetched_to_ < to; prefetched_to_ += kLineBytes) {
      __builtin_prefetch(mapped_ + prefetched_to_, /*write=*/0);
      // GCC deletes a loop of prefetches alone as one without effect: this empty asm is one.
      __asm__ __volatile__("" : : "r"(mapped_ + prefetched_to_));
    }
  }

  // The mapping holds no further newline: its unfinished last line goes to the block, and the
  // file is read on from the mapping's end as an unmapped one is (the lines appended since it
  // was mapped, and the last line whole).
  void read_on_after_mapping() {
    const std::size_t kept = mapped_bytes_ - mapped_at_;
    buffer_.assign(mapped_ + mapped_at_, mapped_ + mapped_bytes_);
    buffer_.resize(std::max(kBlockBytes, 2 * kept));
    filled_ = scanned_ = kept;
    begin_ = 0;
    const auto offset = static_cast<off_t>(mapped_bytes_);
    unmap();
    // Never read as the end: the lines after the mapping would go unjudged (failed() says why).
    if (::fseeko(file_, offset, SEEK_SET) != 0) seek_failed_ = at_end_ = true;
  }

  bool next_buffered(std::string_view& line) {
    for (;;) {
      char* const data = buffer_.data();
      if (const auto* newline =
              static_cast<const char*>(std::memchr(data + scanned_, '\n', filled_ - scanned_))) {
        line = take_through(static_cast<std::size_t>(newline - data));
        line.remove_suffix(1);
        return true;
      }
      scanned_ = filled_;
      if (at_end_) {
        if (begin_ == filled_) return false;
        line = take_through(filled_ - 1);
        return true;
      }
      refill();
    }
  }

  // The bytes from the next line's start through `last`, the next line then starting after it.
  std::string_view take_through(std::size_t last) {
    const std::string_view taken(buffer_.data() + begin_, last + 1 - begin_);
    begin_ = last + 1;
    scanned_ = begin_;
    return taken;
  }

  // Moves the unfinished line to the block's start (growing the block when it fills it) and
  // reads on after it. Nothing read: the end of the file, or an error (failed()).
  void refill() {
    const std::size_t kept = filled_ - begin_;
    if (begin_ > 0) std::memmove(buffer_.data(), buffer_.data() + begin_, kept);
    scanned_ -= begin_;
    begin_ = 0;
    filled_ = kept;
    if (filled_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);
    const std::size_t read =
        std::fread(buffer_.data() + filled_, 1, buffer_.size() - filled_, file_);
    filled_ += read;
    if (read == 0) at_end_ = true;
  }

  std::FILE* file_;
  const char* mapped_ = nullptr;  // the file's bytes as they were when it was opened
  std::size_t mapped_bytes_ = 0;
  std::size_t mapped_at_ = 0;      // where the next mapped line starts
  bool populate_ = true;           // map_ahead() still asks for pages ahead
  std::size_t populated_to_ = 0;   // the mapped bytes before this were asked to be populated
  std::size_t prefetched_to_ = 0;  // the mapped bytes before this were prefetched
  std::vector<char> buffer_;
  std::size_t begin_ = 0;    // where the next line starts
  std::size_t scanned_ = 0;  // the bytes before this hold no newline past begin_
  std::size_t filled_ = 0;   // the bytes read into the block
  bool at_end_ = false;
  bool seek_failed_ = false;
};

// The stream ID of a recording line, "" when it has none. Only the ID is needed past the
// period's end, so the form --record writes ({"id":"<ms>-<seq>",...) is read without parsing
// the rest of a long recording; any other form is parsed whole.
std::string recorded_id(std::string_view line) {
  constexpr std::string_view kPlainStart = "{\"id\":\"";
  if (line.starts_with(kPlainStart)) {
    const auto end = line.find('"', kPlainStart.size());
    if (end != std::string_view::npos) {
      return std::string(line.substr(kPlainStart.size(), end - kPlainStart.size()));
    }
  }
  auto entry = parse_jsonl_entry(line, nullptr);
  return entry ? entry->id : std::string();
}

class Replayer {
 public:
  Replayer(const Config& config, PluginHost& host, const ReplayOptions& options)
      : cfg_(config), host_(host), opt_(options), step_(config, options.model, host) {
    // The recording is a file source; the plugins are the loaded set the replay judges with.
    publisher_.set_source("file");
    publisher_.set_plugins(host_.records());
    for (const auto& r : host_.records()) {
      if (r.loaded()) effective_configs_[r.name] = r.effective_config;
    }
  }

  Result<ReplayResult> run() {
    std::FILE* file = std::fopen(opt_.file.c_str(), "rb");
    if (file == nullptr) {
      return Error{"cannot open the recording " + opt_.file + ": " + std::strerror(errno) +
                   "; give the path of a file written by qsc telemetry --record FILE"};
    }
    LineReader reader(file, opt_.file);
    result_.file = opt_.file;
    result_.model = opt_.model;
    result_.interval = opt_.interval;
    result_.checks_total = static_cast<std::uint64_t>(opt_.duration / opt_.interval);
    if (opt_.activated_at_ms) start_period(*opt_.activated_at_ms);
    const EpochMs wall_latest_ms = now_ms() + cfg_.telemetry.max_clock_skew.count();
    std::string_view line;
    bool period_ended = false;
    while (reader.next(line)) {
      ++line_number_;
      // A blank line is skipped; a recorded one starts with its brace (checked first, at once).
      if (line.empty() || ((line[0] == ' ' || line[0] == '\t') &&
                           line.find_first_not_of(" \t") == std::string_view::npos)) {
        continue;
      }
      if (!period_ended) {
        ++result_.lines;
        period_ended = take_line(line, wall_latest_ms);
        continue;
      }
      // Entries stamped inside the period may still follow the first one past its end (a merged
      // or concatenated recording): read to the end for them, each one the period did not judge.
      const std::string id_text = recorded_id(line);
      const auto id = StreamId::parse(id_text);
      if (id && static_cast<EpochMs>(id->ms) >= result_.period_start_ms &&
          static_cast<EpochMs>(id->ms) < result_.period_end_ms) {
        note_out_of_order(id_text);
      }
    }
    if (reader.failed()) {
      return Error{"cannot read the recording " + opt_.file + " (line " +
                   std::to_string(line_number_ + 1) + "): " + std::strerror(errno)};
    }
    if (!started_) {
      return Error{"the recording " + opt_.file + " holds no entry" +
                   (result_.lines > 0 ? " with a readable stream ID" : std::string()) +
                   ": record one with qsc telemetry --record FILE (or give --activated-at TS)"};
    }
    if (period_ended) {
      run_due(result_.period_end_ms, true);
      evaluate(step_.check_stats(), ReplayCause::kPeriodEnd, result_.period_end_ms);
    } else {
      run_due(clock_ms_, true);
    }
    finish(period_ended);
    publish_metrics(period_ended ? result_.period_end_ms : clock_ms_);
    return std::move(result_);
  }

 private:
  void start_period(EpochMs start_ms) {
    started_ = true;
    result_.period_start_ms = start_ms;
    result_.period_end_ms = start_ms + opt_.duration.count();
    next_check_ms_ = start_ms + opt_.interval.count();
    clock_ms_ = start_ms;
    last_arrival_ms_ = start_ms;
    // As the worker does at a period's start: silence counts from here until the first event.
    step_.start_silence(step_time(start_ms));
  }

  // One recorded line; true once an entry at or past the period's end is read.
  bool take_line(std::string_view line, EpochMs wall_latest_ms) {
    // The usual recorded line is read straight to its event, into the line before's storage
    // (its strings and predictions keep their memory); any other is decoded first.
    if (!std::holds_alternative<qsc::TradeIntent>(line_outcome_)) {
      line_outcome_.emplace<qsc::TradeIntent>();
    }
    auto& event = std::get<qsc::TradeIntent>(line_outcome_);
    if (read_plain_jsonl_intent(line, line_id_, event, &payload_layout_)) {
      // Its ID was read with the event (the same reading StreamId::parse makes).
      const StreamId id{event.time_ms, event.seq};
      return take_entry(line_id_, id, line_outcome_, wall_latest_ms);
    }
    auto reason = qsc::RejectReason::kMalformedJson;
    auto entry = parse_jsonl_entry(line, &reason);
    if (!entry) {
      // An unreadable line sits between its neighbours: it counts at the current time.
      const std::string where = "line " + std::to_string(line_number_);
      take_untimed(qsc::Rejection{reason, where, "line",
                                  opt_.file + " " + where + ": " + entry.error().message});
      return false;
    }
    auto outcome = qsc::parse_entry(*entry);
    return take_entry(entry->id, StreamId::parse(entry->id), outcome, wall_latest_ms);
  }

  // One entry of the recording, read: its ID as written and as read (nullopt: unreadable), and
  // what parse_entry made of it (left as it is, moved from, or replaced: the caller's storage).
  bool take_entry(const std::string& entry_id, std::optional<StreamId> id,
                  qsc::ParseOutcome& outcome, EpochMs wall_latest_ms) {
    if (!id) {
      // parse_entry rejects it (bad_stream_id); it has no time of its own.
      take_untimed(std::move(outcome));
      return false;
    }
    const auto time_ms = static_cast<EpochMs>(id->ms);
    if (!started_) {
      start_period(time_ms);
      take_untimed_before_start();
    }
    if (time_ms < result_.period_start_ms) {
      ++result_.entries_before_period;
      return false;
    }
    // Replay judges a stream in ID order, as the file source delivers it. An entry older than
    // (or repeating) one before it cannot be put back where it happened, and passing it over in
    // silence left it unjudged under a clean verdict: it is counted, and the period cannot be
    // clean (finish()).
    if (delivered_ && *id <= *delivered_) {
      note_out_of_order(entry_id);
      return false;
    }
    delivered_ = *id;
    result_.last_entry_ms = time_ms;
    if (time_ms >= result_.period_end_ms) {
      ++result_.entries_after_period;
      return true;
    }
    // Events in the future even now are refused as every source refuses them. When a recorded
    // entry arrived is not in the recording, so one that was ahead only then cannot be told.
    if (auto* event = std::get_if<qsc::TradeIntent>(&outcome);
        event != nullptr && time_ms > wall_latest_ms) {
      TelemetryBatch batch;
      batch.events.push_back(std::move(*event));
      batch.counts.accepted = 1;
      reject_future_events(batch, wall_latest_ms, cfg_.telemetry.max_clock_skew);
      outcome = std::move(batch.rejections.front());
    }
    run_due(time_ms, false);
    clock_ms_ = time_ms;
    take(std::move(outcome), time_ms);
    run_due(time_ms, true);
    return false;
  }

  // A rejected line without a time of its own counts at the current time once the period has
  // started. Before the first entry with a stream ID (no --activated-at) the period has not,
  // yet such lines are the recording's as much as those after it, and the live file source
  // counts them wherever they are: they are kept and counted at the period's start. (Passed
  // over, ten unreadable lines heading a recording left replay "WOULD HAVE COMPLETED CLEAN"
  // where --activated-at at the first entry's time, the same period, rolled back.)
  void take_untimed(qsc::ParseOutcome outcome) {
    if (started_) {
      if (clock_ms_ >= result_.period_start_ms) take(outcome, clock_ms_);
      return;
    }
    if (untimed_before_start_.size() < kMaxKeptRejections) {
      untimed_before_start_.push_back(std::move(outcome));
    }
    ++untimed_before_start_count_;
  }

  // Counts the rejected lines read before the period started, at its start (the messages of the
  // first kMaxKeptRejections are kept; the rest count alike, with the last kept one's).
  void take_untimed_before_start() {
    for (std::uint64_t k = 0; k < untimed_before_start_count_; ++k) {
      take(untimed_before_start_[std::min<std::size_t>(k, untimed_before_start_.size() - 1)],
           clock_ms_);
    }
    untimed_before_start_.clear();
    untimed_before_start_count_ = 0;
  }

  // An entry of the period read out of stream order (line line_number_): not replayed.
  void note_out_of_order(const std::string& id) {
    if (result_.entries_out_of_order++ == 0) {
      first_out_of_order_line_ = line_number_;
      first_out_of_order_id_ = id;
    }
  }

  // Folds one entry of the period in at `at_ms` and evaluates as the worker does on arrival.
  // The kept rejections of before the period are shown (copied: one may be counted again).
  void take(const qsc::ParseOutcome& outcome, EpochMs at_ms) {
    merge_outcome(outcome);
    step_.take_entry(outcome, step_time(at_ms));
    after_take(outcome, at_ms);
  }
  // A line's own entry is handed over: its event is swapped into the step's held events, not
  // copied, and the line's storage (line_outcome_) gets an earlier event's, which the next
  // line is read over (read_plain_jsonl_intent writes over every member).
  void take(qsc::ParseOutcome&& outcome, EpochMs at_ms) {
    merge_outcome(outcome);
    // The window's order statistics find the bucket of this event's canary confidence and of
    // the oldest one it evicts in lines the replay last touched many events ago: asked for
    // together here, as the worker asks for a batch's (CanaryWindow::prefetch_adds), instead
    // of each waited for in turn (the bucket's load was half of insert's samples, session 16).
    if (const auto* event = std::get_if<qsc::TradeIntent>(&outcome)) {
      step_.window().prefetch_adds(std::span<const qsc::TradeIntent>(event, 1));
    }
    step_.take_entry(std::move(outcome), step_time(at_ms));
    prefetch_storage(outcome);
    after_take(outcome, at_ms);  // its alternative is kept
  }
  // The earlier event's storage the step gave back is the next line's, and was last touched
  // when that event was shown to the detectors, up to thousands of events ago: its predictions
  // are asked for now, while this event is evaluated. Waiting for them at the next line's first
  // model name was 43% of the payload reader's samples (session 16, perf annotate).
  static void prefetch_storage(const qsc::ParseOutcome& outcome) {
    const auto* event = std::get_if<qsc::TradeIntent>(&outcome);
    if (event == nullptr) return;
    constexpr std::size_t kLineBytes = 64;
    const auto* bytes = reinterpret_cast<const char*>(event->predictions.data());
    const std::size_t size = event->predictions.size() * sizeof(qsc::Prediction);
    for (std::size_t at = 0; at < size; at += kLineBytes) {
      // For reading: without -mprfchw (x86-64 baseline) a write hint compiles to nothing.
      __builtin_prefetch(bytes + at, /*write=*/0);
      // GCC deletes a loop of prefetches alone as one without effect: this empty asm is one.
      __asm__ __volatile__("" : : "r"(bytes + at));
    }
  }
  // The rest of take(): `outcome`'s alternative alone is read.
  void after_take(const qsc::ParseOutcome& outcome, EpochMs at_ms) {
    if (std::holds_alternative<qsc::Skipped>(outcome)) return;
    if (std::holds_alternative<qsc::TradeIntent>(outcome)) {
      ++accepted_;
      last_event_line_ = line_number_;
      last_arrival_ms_ = at_ms;
      silence_judged_ = false;
    }
    // The figures are computed only when a detector is called (most entries call none).
    ++result_.evaluations;
    const auto& evaluation = step_.evaluate_on_arrival(step_time(at_ms));
    if (evaluation.violated()) record(evaluation, ReplayCause::kEvent, at_ms);
  }

  void merge_outcome(const qsc::ParseOutcome& outcome) {
    result_.counts.add(outcome);
    if (const auto* r = std::get_if<qsc::Rejection>(&outcome)) {
      if (result_.rejections.size() < kMaxKeptRejections) result_.rejections.push_back(*r);
    }
  }

  // Runs, in time order, the interval checks and the silence evaluation due before `limit_ms`
  // (at it too when `inclusive`).
  void run_due(EpochMs limit_ms, bool inclusive) {
    const auto due = [&](EpochMs t) { return inclusive ? t <= limit_ms : t < limit_ms; };
    for (;;) {
      // The first millisecond at which the silence since the last arrival exceeds stale_after.
      const EpochMs stale_at =
          silence_judged_ ? kNever : last_arrival_ms_ + cfg_.telemetry.stale_after.count() + 1;
      const EpochMs check_at = checks_done_ < result_.checks_total ? next_check_ms_ : kNever;
      const EpochMs next = std::min(stale_at, check_at);
      if (next == kNever || !due(next) || next > result_.period_end_ms) return;
      if (stale_at <= check_at) {
        silence_judged_ = true;
        evaluate(step_.event_stats(), ReplayCause::kSilence, stale_at);
      } else {
        interval_check(check_at);
      }
    }
  }

  void interval_check(EpochMs at_ms) {
    const WindowStats stats = step_.check_stats();
    ReplayCheck check;
    check.number = ++checks_done_;
    check.at_ms = at_ms;
    check.after_rollback = result_.rollback.has_value();
    const auto& evaluation = evaluate(stats, ReplayCause::kIntervalCheck, at_ms);
    check.violations = evaluation.violations;
    check.figures = figures_of(evaluation.checks);
    publish_metrics(at_ms);
    check.status = "WAIT";
    {
      const auto scored = scoreboard_for(cfg_, host_, stats, step_.health(step_time(at_ms)),
                                         "replay of " + opt_.file, opt_.model);
      if (const auto* row = scored.find(opt_.model)) check.status = row->status;
    }
    if (!check.violations.empty()) check.status = "VIOLATION";
    result_.checks.push_back(std::move(check));
    next_check_ms_ += opt_.interval.count();
  }

  const Evaluation& evaluate(const WindowStats& stats, ReplayCause cause, EpochMs at_ms) {
    ++result_.evaluations;
    // Only the per-entry evaluation may skip a detector within its verdict horizon, as the
    // worker's per-read one does; checks, silence and the end call every detector.
    const auto& evaluation = step_.evaluate(
        stats, step_time(at_ms),
        cause == ReplayCause::kEvent ? EvaluationKind::kEventDriven : EvaluationKind::kFull);
    if (evaluation.violated()) record(evaluation, cause, at_ms);
    return evaluation;
  }

  void record(const Evaluation& evaluation, ReplayCause cause, EpochMs at_ms) {
    ReplayFinding finding;
    finding.cause = cause;
    finding.at_ms = at_ms;
    if (accepted_ > 0) {
      finding.event_id = step_.trigger_event_id();
      finding.event_ms = static_cast<EpochMs>(step_.trigger_event_ms());
      finding.event_index = accepted_ - 1;
      finding.line = last_event_line_;
    }
    for (const auto& c : evaluation.checks) {
      if (!c.acts()) continue;
      finding.detectors.push_back(c.detector);
      finding.messages.push_back(c.result.message);
      if (seen_.insert(c.detector).second) {
        ReplayFirstViolation first{c.detector, finding};
        first.finding.detectors = {c.detector};
        first.finding.messages = {c.result.message};
        result_.first_violations.push_back(std::move(first));
      }
    }
    if (!result_.rollback) {
      // The monitor publishes this evaluation and its rollback, then stops: what /metrics
      // would have shown from then on. The latency is on event time (trigger to detection).
      publish_metrics(at_ms);
      publisher_.add_rollback(
          kRollbackTrigger, false,
          accepted_ > 0
              ? std::optional<double>(static_cast<double>(at_ms - finding.event_ms) / 1000.0)
              : std::nullopt);
      publisher_.publish();
      result_.metrics.worker = publisher_.snapshot();
      metrics_frozen_ = true;
      // Only the rollback's figures are kept: replay goes on evaluating every later event.
      finding.figures = figures_of(evaluation.checks);
      result_.rollback = std::move(finding);
    }
  }

  std::vector<ReplayFigure> figures_of(const std::vector<NamedCheck>& checks) const {
    static const nlohmann::json kNone = nlohmann::json::object();
    std::vector<ReplayFigure> figures;
    for (const auto& c : checks) {
      const auto cfg = effective_configs_.find(c.detector);
      const auto& effective = cfg == effective_configs_.end() ? kNone : cfg->second;
      for (const auto& f : c.result.figures) {
        const auto bounds = metrics::thresholds_for(c.detector, f.name, effective);
        figures.push_back({c.detector, f.name, f.value, bounds.min, bounds.max});
      }
    }
    return figures;
  }

  // Feeds the publisher as the monitor's publish_metrics() does, on event time.
  void publish_metrics(EpochMs at_ms) {
    if (metrics_frozen_) return;
    publisher_.set_telemetry(
        step_.counts(), step_.events_lost(),
        std::chrono::steady_clock::time_point(
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(step_.last_arrival())),
        step_.window().events());
    publisher_.set_checks(checks_done_, result_.checks_total, 0, result_.period_start_ms,
                          opt_.interval.count());
    publisher_.set_detectors(step_.last_checks());
    publisher_.publish();
    result_.metrics.worker = publisher_.snapshot();
    result_.metrics.telemetry_age_seconds =
        static_cast<double>(std::max<EpochMs>(0, at_ms - last_arrival_ms_)) / 1000.0;
    result_.metrics.checks_due = checks_done_;
  }

  void finish(bool period_ended) {
    const WindowStats stats = step_.check_stats();
    result_.canary_predictions = step_.window().canary_predictions();
    result_.scoreboard = scoreboard_for(cfg_, host_, stats, step_.health(step_time(clock_ms_)),
                                        "replay of " + opt_.file, opt_.model);
    result_.scoreboard.generated_ms = period_ended ? result_.period_end_ms : clock_ms_;
    if (result_.rollback) {
      result_.outcome = ReplayOutcome::kRolledBack;
    } else if (!period_ended) {
      result_.outcome = ReplayOutcome::kInconclusive;
      result_.inconclusive_reason =
          "the recording ends at " + format_iso(clock_ms_) + ", before the period's end " +
          format_iso(result_.period_end_ms) +
          ": nothing after it was watched. Record a longer stream (qsc telemetry --record), or "
          "replay a shorter --duration or an earlier --activated-at";
    } else if (result_.entries_out_of_order > 0) {
      result_.outcome = ReplayOutcome::kInconclusive;
      result_.inconclusive_reason =
          std::to_string(result_.entries_out_of_order) +
          (result_.entries_out_of_order == 1 ? " entry" : " entries") +
          " not in stream order (the first at line " + std::to_string(first_out_of_order_line_) +
          ", ID " + first_out_of_order_id_ +
          ", is not after the entry before it) could not be replayed where it happened, so "
          "the period was not fully judged. Sort the recording by stream ID and drop repeated "
          "IDs (e.g. sort -u by the \"id\" field), or record it again with qsc telemetry "
          "--record";
    } else if (result_.canary_predictions < cfg_.telemetry.min_events) {
      result_.outcome = ReplayOutcome::kInconclusive;
      result_.inconclusive_reason =
          "too little telemetry: " + std::to_string(result_.canary_predictions) +
          " canary predictions in the window at the period's end (< telemetry.min_events " +
          std::to_string(cfg_.telemetry.min_events) +
          "). Check the model name (--model) and that the recording holds the canary's votes";
    } else if (const auto undecided = undecided_checks(step_.last_checks()); !undecided.empty()) {
      // Clean means judged, as in the monitor (undecided_checks.hpp).
      result_.outcome = ReplayOutcome::kInconclusive;
      result_.inconclusive_reason =
          "at the period's end " + std::to_string(undecided.size()) +
          " detector(s) could not judge: " + join_reasons(undecided) +
          ". Check that the recording holds every model's prediction (an ensemble check needs "
          "the canary's peers)";
    } else {
      result_.outcome = ReplayOutcome::kClean;
    }
  }

  const Config& cfg_;
  PluginHost& host_;
  const ReplayOptions& opt_;
  EvaluationStep step_;
  ReplayResult result_;
  bool started_ = false;
  EpochMs clock_ms_ = 0;  // event time: the newest entry's
  EpochMs next_check_ms_ = 0;
  std::uint64_t checks_done_ = 0;
  EpochMs last_arrival_ms_ = 0;
  bool silence_judged_ = false;
  std::uint64_t line_number_ = 0;
  std::uint64_t last_event_line_ = 0;
  std::uint64_t accepted_ = 0;  // accepted events in the period
  std::optional<StreamId> delivered_;
  std::vector<qsc::ParseOutcome> untimed_before_start_;  // the first kMaxKeptRejections
  std::uint64_t untimed_before_start_count_ = 0;
  std::uint64_t first_out_of_order_line_ = 0;
  std::string first_out_of_order_id_;
  std::set<std::string> seen_;  // detectors with a first violation recorded
  metrics::MetricsPublisher publisher_{nullptr};
  bool metrics_frozen_ = false;  // the monitor stops publishing at its rollback
  std::map<std::string, nlohmann::json, std::less<>> effective_configs_;
  // The payload layout of the line before: a line laid out alike is read by its values alone.
  qsc::EscapedPayloadLayout payload_layout_;
  // The line read straight to its event: its ID, and the event where EvaluationStep takes it.
  // Kept from line to line so that their strings and predictions keep their storage.
  std::string line_id_;
  qsc::ParseOutcome line_outcome_;
};

}  // namespace

Result<ReplayResult> run_replay(const Config& config, PluginHost& host,
                                const ReplayOptions& options) {
  if (auto period = check_period(options.duration, options.interval, "--duration", "--interval");
      !period) {
    return std::move(period).error();
  }
  const auto started = std::chrono::steady_clock::now();
  const double cpu_started = thread_cpu_seconds();
  auto result = Replayer(config, host, options).run();
  if (result) {
    result->replay_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    result->replay_cpu_seconds = thread_cpu_seconds() - cpu_started;
  }
  return result;
}

}  // namespace qsc::agent
