// The ring's internals shared by its parts (ring_producer.cpp, ring_consumer.cpp,
// ring_codec.cpp): the slot protocol below, how a record's words cross a slot, and the producer's
// and the consumer's state. Not installed.
//
// The ring's protocol. A producer: claim s with fetch_add on tail_claim; CAS the slot's state
// to writing(s); store the record's words; CAS the state to committed(s). A slot still being
// written by an older claim is never written over: the claim becomes a poisoned hole and the
// producer claims again. A consumer at cursor c: load the state; if committed(c), copy the
// words, then re-load the state and keep the copy only if it did not change (a seqlock read).
// A state beyond c means the producers lapped us; a hole is skipped; a claimed-but-uncommitted
// c that stays so past abandon_timeout was abandoned by a dead producer. Every skip is counted,
// so delivered + lost + holes covers every sequence number exactly.
#pragma once

#include <linux/futex.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <limits>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "qsc/ipc/ring.hpp"
#include "segment.hpp"

namespace qsc::ipc {
namespace detail {

using slot_state::committed;
using slot_state::is_empty;
using slot_state::kCommitted;
using slot_state::kHole;
using slot_state::kind_of;
using slot_state::kPoisoned;
using slot_state::kWriting;
using slot_state::make;
using slot_state::seq_of;
using slot_state::writing;

// What became of one claimed sequence number.
enum class SlotOutcome : std::uint8_t {
  kCommitted,      // the record is readable
  kHole,           // the slot still belonged to an unfinished writer: seq left as a hole, the
                   // record was not written (claim again)
  kOverrun,        // a later lap took the slot before we did: the record was dropped
  kOverrunStalled  // a later lap poisoned the slot while we wrote: the record was dropped
};

// A publish that keeps landing on poisoned slots gives up after this many claims.
constexpr int kMaxClaimsPerPublish = 16;

constexpr std::uint64_t kNsPerMs = 1'000'000;

// A record crosses the ring as 64-bit words, and only the words its predictions use: the
// fixed part (time, seq, symbol, ...) then prediction_count entries. A 4-model event is 27 of
// the 47 words (4 cache lines of the slot, state word included, instead of 6). Entries past
// prediction_count are not transported; readers get them zeroed.
constexpr std::size_t kFixedWords = offsetof(Record, predictions) / sizeof(std::uint64_t);
constexpr std::size_t kPredictionWords = sizeof(PredictionRecord) / sizeof(std::uint64_t);
static_assert(offsetof(Record, predictions) % sizeof(std::uint64_t) == 0);
static_assert(sizeof(PredictionRecord) % sizeof(std::uint64_t) == 0);
static_assert(offsetof(Record, prediction_count) < kFixedWords * sizeof(std::uint64_t));
static_assert(kFixedWords + kMaxPredictions * kPredictionWords == kRecordWords);

// Words a record with `prediction_count` predictions uses (a corrupt count is clamped, so a
// copy never runs past the slot).
constexpr std::size_t used_words(std::uint8_t prediction_count) noexcept {
  return kFixedWords + std::min<std::size_t>(prediction_count, kMaxPredictions) * kPredictionWords;
}

// Stores words [from, to) of `record` into a slot. Word by word with fixed-size copies: a
// variable-length memcpy here compiles to `rep movsq`, whose start-up costs more than the copy.
inline void store_words(Slot& slot, const Record& record, std::size_t from,
                        std::size_t to) noexcept {
  const auto* bytes = reinterpret_cast<const unsigned char*>(&record);
  for (std::size_t i = from; i < to; ++i) {
    std::uint64_t word;
    std::memcpy(&word, bytes + i * sizeof word, sizeof word);
    // release: a reader that loads this word (acquire) also sees our writing(seq) state, so
    // its re-check discards a copy we are overwriting. (No fences: TSan does not model them.)
    // On x86-64 a release store is a plain store: no barrier per word.
    std::atomic_ref<std::uint64_t>(slot.record_words[i]).store(word, std::memory_order_release);
  }
}

// Stores the used words of a record. `mid_write` (tests only) runs after half of them.
inline void store_record(Slot& slot, const Record& record, void (*mid_write)()) noexcept {
  const std::size_t n = used_words(record.prediction_count);
  if (mid_write == nullptr) [[likely]] {
    store_words(slot, record, 0, n);
    return;
  }
  store_words(slot, record, 0, n / 2);
  mid_write();
  store_words(slot, record, n / 2, n);
}

// Loads the used words of a slot's record into `out` (the fixed part first: it holds the
// count) and zeroes the predictions past the count. The caller validates the copy afterwards:
// a torn copy may carry any count, which used_words clamps.
inline void load_record(const Slot& slot, Record& out) noexcept {
  auto* src = const_cast<std::uint64_t*>(slot.record_words);  // atomic_ref wants non-const
  auto* dst = reinterpret_cast<unsigned char*>(&out);
  const auto load = [&](std::size_t i) {
    // acquire: pairs with the producer's release store of the word, and keeps the caller's
    // state re-check from moving ahead of this load. On x86-64 it is a plain load.
    const std::uint64_t word =
        std::atomic_ref<std::uint64_t>(src[i]).load(std::memory_order_acquire);
    std::memcpy(dst + i * sizeof word, &word, sizeof word);
  };
  for (std::size_t i = 0; i < kFixedWords; ++i) load(i);
  const std::size_t count = std::min<std::size_t>(out.prediction_count, kMaxPredictions);
  for (std::size_t i = kFixedWords; i < used_words(static_cast<std::uint8_t>(count)); ++i) load(i);
  // Unrolled by hand: as a loop, GCC turns this into `rep stosq`, which costs more than the
  // whole copy of a 4-model record.
  static_assert(kMaxPredictions == 8, "one case per prediction below");
  auto* p = out.predictions;
  switch (count) {
    case 0:
      p[0] = {};
      [[fallthrough]];
    case 1:
      p[1] = {};
      [[fallthrough]];
    case 2:
      p[2] = {};
      [[fallthrough]];
    case 3:
      p[3] = {};
      [[fallthrough]];
    case 4:
      p[4] = {};
      [[fallthrough]];
    case 5:
      p[5] = {};
      [[fallthrough]];
    case 6:
      p[6] = {};
      [[fallthrough]];
    case 7:
      p[7] = {};
      [[fallthrough]];
    default:
      break;
  }
}

// True when a record must wake a watermark sleeper at once, whatever its watermark: it is (or
// its consumer reads it as) a rejected entry, or it has a prediction of a model in
// `prompt_models` (layout.hpp) whose confidence is a violation or that is inactive: the
// conditions a detector's horizon may name (QSC_UNLESS_REJECTED_ENTRY,
// _CANARY_CONFIDENCE_VIOLATION, _CANARY_INACTIVE).
inline bool needs_prompt_wake(const Record& r, std::uint64_t prompt_models) noexcept {
  if ((r.flags & kRecordRejected) != 0 || r.prediction_count == 0 ||
      r.prediction_count > kMaxPredictions) {
    return true;
  }
  for (std::size_t i = 0; i < r.prediction_count; ++i) {
    const PredictionRecord& p = r.predictions[i];
    // Status 0 (ok) and 1 (normalized) are the readings that are no violation; a confidence
    // outside [0, 1] (NaN included) is read as one (ring_codec.cpp, reconcile_confidence). An
    // index past the table is corrupt: the consumer refuses the record, so it wakes too.
    const bool abnormal = p.confidence_status > 1 || p.inactive_reason != 0 ||
                          !(p.confidence >= 0.0 && p.confidence <= 1.0);
    if (abnormal &&
        (p.model_index >= kModelTableEntries || ((prompt_models >> p.model_index) & 1U) != 0)) {
      return true;
    }
  }
  return false;
}

inline long futex(std::atomic<std::uint32_t>& word, int op, std::uint32_t value,
                  const timespec* timeout) noexcept {
  // Not FUTEX_PRIVATE_FLAG: the word lives in memory shared between processes.
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), op, value, timeout, nullptr,
                   0);
}

// Runs `body`, turning any exception (an allocation failure, in practice) into an Error, so
// none escapes the API.
template <typename R, typename F>
R guarded(const char* what, F&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    return Error{std::string(what) + " failed: " + e.what()};
  } catch (...) {
    return Error{std::string(what) + " failed"};
  }
}

inline std::string ring_name_prefix(const std::string& name) {
  return "ring '" + name + "': ";
}

}  // namespace detail

struct RingProducer::Impl {
  ProducerOptions options;
  std::shared_ptr<Segment> segment;
  std::uint32_t producer_id = 0;
  std::unordered_map<std::string, std::uint16_t> model_index;  // names this producer interned

  Result<std::uint16_t> intern(const std::string& model);
  detail::SlotOutcome write_claimed(std::uint64_t seq, const Record& record) noexcept;
  void leave_hole(std::uint64_t seq) noexcept;
  // Wakes blocked consumers after committing `records` up to sequence `last_seq`: always
  // those that want every commit; watermark sleepers when `last_seq` reaches the watermark or
  // a record must not wait (needs_prompt_wake).
  void wake_sleepers(std::uint64_t last_seq, std::span<const Record> records) noexcept;
  bool watermark_reached(std::uint64_t last_seq) noexcept;
  Error overrun_error(std::uint64_t seq, std::size_t dropped) const {
    return Error{detail::ring_name_prefix(segment->name()) + "publish overrun: " +
                 std::to_string(dropped) + " event(s) from sequence " + std::to_string(seq) +
                 " dropped: a whole lap of other producers overtook the claim before it was " +
                 "written (consumers count them lost)"};
  }
  Error poisoned_error() const {
    // relaxed: a statistic.
    segment->header().producer_overruns.fetch_add(1, std::memory_order_relaxed);
    return Error{detail::ring_name_prefix(segment->name()) +
                 "publish failed: " + std::to_string(detail::kMaxClaimsPerPublish) +
                 " claims met poisoned slots (producers died mid-write); recreate the ring"};
  }
  // Why the last encode() refused its event, for the rejected-entry record publish() sends.
  RejectReason refusal_reason = RejectReason::kTooLarge;
  std::string refusal_field;
  Status refuse(const std::string& why, RejectReason reason, std::string field) {
    segment->header().publish_refusals.fetch_add(1, std::memory_order_relaxed);  // statistic
    refusal_reason = reason;
    refusal_field = std::move(field);
    return Error{detail::ring_name_prefix(segment->name()) + why};
  }
};

struct RingConsumer::Impl {
  ConsumerOptions options;
  std::shared_ptr<Segment> segment;
  std::uint64_t cursor = 0;
  // The tail when the consumer started: records before it are history (StartPosition::kOldest),
  // records from it on are what the consumer is there to see.
  std::uint64_t history_end = 0;
  std::uint64_t waiting_since_ns = 0;   // when the cursor was first seen not ready (0: not)
  std::uint64_t inflight_since_ns = 0;  // when its claim was first seen uncommitted (0: not)
  std::uint64_t abandon_ns = 0;         // options.abandon_timeout
  std::uint64_t tail_check_ns = 0;      // how long to wait before looking at the tail
  std::uint64_t last_identity_check_ns = 0;
  ConsumerStats stats;
  std::vector<std::optional<std::string>> names =
      std::vector<std::optional<std::string>>(kModelTableEntries);
  std::optional<Error> attach_error;
  // RingConsumer::watch_model: the canary's name, its model-table index once interned, and the
  // segment whose prompt_models this consumer has marked (marked again after a re-attach).
  std::optional<std::string> watched_model;
  std::optional<std::uint16_t> watched_index;
  const SegmentHeader* prompt_marked = nullptr;
  // True when watermark sleeps are safe: prompt_models is marked for what this consumer watches.
  bool mark_prompt_models() noexcept;

  void start_cursor() {
    // relaxed: a starting point; the per-slot states decide what is readable.
    const std::uint64_t tail = segment->header().tail_claim.load(std::memory_order_relaxed);
    const std::uint64_t capacity = segment->capacity_records();
    if (options.start == StartPosition::kLatest) {
      cursor = tail;
    } else {
      // A full ring's oldest slots are the producer's next writes: start an eighth of a ring
      // in (see StartPosition::kOldest).
      cursor = tail > capacity ? tail - readable_history_records(capacity) : 0;
    }
    history_end = tail;
    waiting_since_ns = inflight_since_ns = 0;
  }
  void advance() {
    ++cursor;
    waiting_since_ns = 0;
    inflight_since_ns = 0;
  }
  void skip_lapped() {
    // relaxed: any recent tail will do; the jump is counted exactly whatever it reads.
    const std::uint64_t tail = segment->header().tail_claim.load(std::memory_order_relaxed);
    const std::uint64_t capacity = segment->capacity_records();
    // Land a quarter ring ahead of the oldest record, so the next read is not lapped again
    // at once by a producer that keeps going.
    const std::uint64_t landing = tail > capacity ? tail - capacity + capacity / 4 : 0;
    const std::uint64_t next = std::max(cursor + 1, landing);
    // History overwritten before it was read is passed over, not lost, as kOldest passes over
    // the eighth of a full ring at the start: a consumer that starts on a busy ring and is
    // lapped while still reading history (a monitor restarting under load) has lost no
    // telemetry that reached the ring while it was attached.
    const std::uint64_t live_from = std::max(cursor, history_end);
    stats.lost += next > live_from ? next - live_from : 0;
    stats.history_passed += std::min(next, live_from) - cursor;
    ++stats.lapped;
    cursor = next;
    waiting_since_ns = inflight_since_ns = 0;
  }
  // Counts this consumer's attach to the segment: in consumer_attaches, then (release: a
  // producer that reads it sees the first) in watermark_consumer_attaches, which says that it
  // counts itself in plain_sleepers when it wants every commit (layout.hpp).
  void count_attach() noexcept {
    SegmentHeader& h = segment->header();
    h.consumer_attaches.fetch_add(1, std::memory_order_relaxed);  // relaxed: ordered by the next
    if (options.test_legacy_wake) return;
    h.watermark_consumer_attaches.fetch_add(1, std::memory_order_release);
  }
  bool read_ready(Record& out) noexcept;
  bool idle(std::uint64_t now_ns) noexcept;
  void check_replaced(std::uint64_t now_ns);
  // True when the slot of sequence `seq` holds it committed or as a hole, or a later lap.
  bool ready_seq_cst(std::uint64_t seq) const noexcept;
  // Sleeps on the futex until woken or `deadline_ns`. `wake_seq` > cursor asks to be woken
  // only once sequence wake_seq is ready (the watermark), not at every commit before it.
  void block_until(std::uint64_t deadline_ns, std::uint64_t wake_seq) noexcept;
};

}  // namespace qsc::ipc
