// The ring's protocol. A producer: claim s with fetch_add on tail_claim; CAS the slot's state
// to writing(s); store the record's words; CAS the state to committed(s). A slot still being
// written by an older claim is never written over: the claim becomes a poisoned hole and the
// producer claims again. A consumer at cursor c: load the state; if committed(c), copy the
// words, then re-load the state and keep the copy only if it did not change (a seqlock read).
// A state beyond c means the producers lapped us; a hole is skipped; a claimed-but-uncommitted
// c that stays so past abandon_timeout was abandoned by a dead producer. Every skip is counted,
// so delivered + lost + holes covers every sequence number exactly.
#include "qsc/ipc/ring.hpp"

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

#include "segment.hpp"

namespace qsc::ipc {
namespace {

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

// How many sequence numbers ahead a producer prefetches a slot for writing. Measured on the
// bench's 2-vCPU Zen 5 VM (1 producer, 1 spinning consumer, 4-model records): 0 -> 4.4 M
// events/s, 1 -> 8.9 M, 2 -> 11.0-11.6 M, 4 -> 11.1 M but p50 latency 360 -> 500-630 ns,
// 8 -> 4.7-6.0 M (too many misses in flight). Prefetching only the state line: 4.2 M.
constexpr std::uint64_t kPrefetchAhead = 2;

// A publish that keeps landing on poisoned slots gives up after this many claims.
constexpr int kMaxClaimsPerPublish = 16;

constexpr std::uint64_t kNsPerMs = 1'000'000;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Asks for the cache lines of a slot a few sequence numbers ahead in exclusive state, so the
// owning CAS of a later publish finds its line already here instead of stalling on a
// read-for-ownership from the consumers' caches (a locked instruction cannot overlap a miss).
#if defined(__x86_64__) || defined(__i386__)
// PREFETCHW (CPUID 8000_0001h ECX bit 8): AMD since K6, Intel since Broadwell. Checked once,
// because elsewhere the opcode is not guaranteed to be a harmless NOP.
const bool g_has_prefetchw = [] {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(0x80000001U, &a, &b, &c, &d) != 0 && (c & (1U << 8)) != 0;
}();
#endif

inline void prefetch_for_write(const void* line) noexcept {
#if defined(__x86_64__) || defined(__i386__)
  if (g_has_prefetchw) [[likely]] {
    asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(line)));
    return;
  }
#endif
  __builtin_prefetch(line, 1, 3);  // a read prefetch where PREFETCHW is missing
}

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

long futex(std::atomic<std::uint32_t>& word, int op, std::uint32_t value,
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

std::string ring_name_prefix(const std::string& name) {
  return "ring '" + name + "': ";
}

}  // namespace

std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

std::string_view wait_strategy_name(WaitStrategy strategy) noexcept {
  switch (strategy) {
    case WaitStrategy::kSpin:
      return "spin";
    case WaitStrategy::kSpinThenSleep:
      return "spin-then-sleep";
    case WaitStrategy::kBlock:
      return "block";
  }
  return "?";
}

std::optional<WaitStrategy> parse_wait_strategy(std::string_view text) noexcept {
  for (auto s : {WaitStrategy::kSpin, WaitStrategy::kSpinThenSleep, WaitStrategy::kBlock}) {
    if (text == wait_strategy_name(s)) return s;
  }
  return std::nullopt;
}

Status remove_ring(std::string_view name) {
  if (auto st = validate_ring_name(name); !st) return st;
  try {
    boost::interprocess::shared_memory_object::remove(std::string(name).c_str());
  } catch (const std::exception& e) {
    return Error{"removing ring '" + std::string(name) + "': " + e.what()};
  }
  return ok_status();
}

// ------------------------------------------------------------------------------------------
// Producer

struct RingProducer::Impl {
  ProducerOptions options;
  std::shared_ptr<Segment> segment;
  std::uint32_t producer_id = 0;
  std::unordered_map<std::string, std::uint16_t> model_index;  // names this producer interned

  Result<std::uint16_t> intern(const std::string& model);
  SlotOutcome write_claimed(std::uint64_t seq, const Record& record) noexcept;
  void leave_hole(std::uint64_t seq) noexcept;
  void wake_sleepers() noexcept;
  Error overrun_error(std::uint64_t seq, std::size_t dropped) const {
    return Error{ring_name_prefix(segment->name()) + "publish overrun: " + std::to_string(dropped) +
                 " event(s) from sequence " + std::to_string(seq) +
                 " dropped: a whole lap of other producers overtook the claim before it was " +
                 "written (consumers count them lost)"};
  }
  Error poisoned_error() const {
    // relaxed: a statistic.
    segment->header().producer_overruns.fetch_add(1, std::memory_order_relaxed);
    return Error{ring_name_prefix(segment->name()) +
                 "publish failed: " + std::to_string(kMaxClaimsPerPublish) +
                 " claims met poisoned slots (producers died mid-write); recreate the ring"};
  }
  // Why the last encode() refused its event, for the rejected-entry record publish() sends.
  RejectReason refusal_reason = RejectReason::kTooLarge;
  std::string refusal_field;
  Status refuse(const std::string& why, RejectReason reason, std::string field) {
    segment->header().publish_refusals.fetch_add(1, std::memory_order_relaxed);  // statistic
    refusal_reason = reason;
    refusal_field = std::move(field);
    return Error{ring_name_prefix(segment->name()) + why};
  }
};

Result<std::uint16_t> RingProducer::Impl::intern(const std::string& model) {
  if (auto it = model_index.find(model); it != model_index.end()) return it->second;
  if (model.size() > kModelNameMaxBytes) {
    return Error{"model name '" + model + "' is " + std::to_string(model.size()) +
                 " bytes; the ring layout holds at most " + std::to_string(kModelNameMaxBytes)};
  }
  auto& table = segment->header().models;
  const auto matches = [&](const ModelEntry& e) {
    return e.name_len == model.size() && std::memcmp(e.name, model.data(), model.size()) == 0;
  };
  for (std::size_t i = 0; i < kModelTableEntries; ++i) {
    ModelEntry& entry = table[i];
    // acquire: a Ready entry's name bytes, written before its release store, are visible.
    std::uint32_t state = entry.state.load(std::memory_order_acquire);
    if (state == kModelEntryFree) {
      std::uint32_t expected = kModelEntryFree;
      // relaxed: the CAS only decides ownership; the name is published by the release below.
      if (entry.state.compare_exchange_strong(expected, kModelEntryWriting,
                                              std::memory_order_relaxed)) {
        entry.name_len = static_cast<std::uint8_t>(model.size());
        std::memcpy(entry.name, model.data(), model.size());
        // release: the name bytes above are visible to whoever acquires Ready.
        entry.state.store(kModelEntryReady, std::memory_order_release);
        model_index.emplace(model, static_cast<std::uint16_t>(i));
        return static_cast<std::uint16_t>(i);
      }
      state = expected;
    }
    if (state == kModelEntryWriting) {
      // Another producer is interning a name right now (perhaps this one): give it ~1 ms.
      // A producer that died here leaves the entry Writing; it is then skipped for good.
      for (int spin = 0; spin < 1000 && state == kModelEntryWriting; ++spin) {
        if (spin > 100) std::this_thread::sleep_for(std::chrono::microseconds(1));
        state = entry.state.load(std::memory_order_acquire);  // acquire: as above
      }
    }
    if (state == kModelEntryReady && matches(entry)) {
      model_index.emplace(model, static_cast<std::uint16_t>(i));
      return static_cast<std::uint16_t>(i);
    }
  }
  return Error{"model table full: " + std::to_string(kModelTableEntries) +
               " names are interned and '" + model +
               "' is not among them; recreate the ring (remove it when no process uses it)"};
}

RingProducer::RingProducer(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
RingProducer::RingProducer(RingProducer&&) noexcept = default;
RingProducer& RingProducer::operator=(RingProducer&&) noexcept = default;
RingProducer::~RingProducer() = default;

Result<RingProducer> RingProducer::open(const ProducerOptions& options) {
  return guarded<Result<RingProducer>>("opening the producer", [&]() -> Result<RingProducer> {
    // No trusted owner besides our own uid: a producer never publishes into a segment that
    // someone else created (it could not vouch for what else is in it).
    auto segment =
        Segment::attach({options.name, options.capacity_records, /*create_if_missing=*/true,
                         options.init_timeout, /*trusted_owner_uid=*/std::nullopt});
    if (!segment) return Error{segment.error().message};
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    impl->segment = std::move(segment).value();
    impl->producer_id =
        options.producer_id != 0 ? options.producer_id : static_cast<std::uint32_t>(::getpid());
    // relaxed: a statistic (how often producers attached, i.e. restarts).
    impl->segment->header().producer_attaches.fetch_add(1, std::memory_order_relaxed);
    return RingProducer(std::move(impl));
  });
}

const SegmentHeader& RingProducer::header() const noexcept {
  return impl_->segment->header();
}
const std::string& RingProducer::name() const noexcept {
  return impl_->segment->name();
}

Result<Record> RingProducer::encode(const TradeIntent& event) {
  return guarded<Result<Record>>("encoding an event", [&]() -> Result<Record> {
    Record r{};
    if (event.predictions.size() > kMaxPredictions) {
      return impl_
          ->refuse("event has " + std::to_string(event.predictions.size()) +
                       " predictions; the ring layout holds at most " +
                       std::to_string(kMaxPredictions) + " (refused, not truncated)",
                   RejectReason::kTooLarge, "model_breakdown")
          .error();
    }
    if (event.symbol.size() > kSymbolBytes) {
      return impl_
          ->refuse("symbol '" + event.symbol + "' is " + std::to_string(event.symbol.size()) +
                       " bytes; the ring layout holds at most " + std::to_string(kSymbolBytes),
                   RejectReason::kTooLarge, "symbol")
          .error();
    }
    if (event.predictions.empty()) {
      // As the parser rejects an empty model_breakdown: an event without predictions says
      // nothing about any model, and readers reject such a record anyway.
      return impl_
          ->refuse("event has no predictions (an empty model_breakdown)",
                   RejectReason::kMissingField, "model_breakdown")
          .error();
    }
    r.time_ms = event.time_ms;
    r.seq = event.seq;
    r.confidence = event.confidence;
    r.producer_id = impl_->producer_id;
    r.side = event.side ? static_cast<std::uint8_t>(*event.side) : kNoSide;
    r.prediction_count = static_cast<std::uint8_t>(event.predictions.size());
    r.symbol_len = static_cast<std::uint8_t>(event.symbol.size());
    std::memcpy(r.symbol, event.symbol.data(), event.symbol.size());
    for (std::size_t i = 0; i < event.predictions.size(); ++i) {
      const Prediction& p = event.predictions[i];
      // A name consumers would refuse the whole segment for (check_segment_limits) is refused
      // here, for this event only.
      if (p.model.empty()) {
        return impl_
            ->refuse("a prediction has an empty model name", RejectReason::kMissingField,
                     "model_breakdown")
            .error();
      }
      if (std::any_of(p.model.begin(), p.model.end(), [](char ch) {
            const auto c = static_cast<unsigned char>(ch);
            return c < 0x20 || c == 0x7F;
          })) {
        return impl_
            ->refuse("model name of prediction " + std::to_string(i) +
                         " contains a control byte; the ring layout refuses it",
                     RejectReason::kWrongType, "model_breakdown")
            .error();
      }
      auto index = impl_->intern(p.model);
      if (!index) {
        return impl_
            ->refuse(index.error().message, RejectReason::kTooLarge, "model_breakdown." + p.model)
            .error();
      }
      PredictionRecord& out = r.predictions[i];
      out.confidence = p.confidence;
      out.raw_confidence = p.raw_confidence;
      out.model_index = *index;
      out.action = static_cast<std::uint8_t>(p.action);
      out.confidence_status = static_cast<std::uint8_t>(p.confidence_status);
      out.inactive_reason = static_cast<std::uint8_t>(p.inactive);
      const std::size_t len = std::min(p.model_string.size(), kModelStringBytes);
      out.model_string_len = static_cast<std::uint8_t>(len);
      std::memcpy(out.model_string, p.model_string.data(), len);
      if (len < p.model_string.size()) out.flags |= kPredictionModelStringTruncated;
      if (p.model_string.find("fallback") != std::string::npos) {
        out.flags |= kPredictionModelStringHasFallback;
      }
    }
    return r;
  });
}

Status RingProducer::publish(const TradeIntent& event) {
  return publish(event, monotonic_ns());
}

Status RingProducer::publish(const TradeIntent& event, std::uint64_t publish_ns) {
  auto record = encode(event);
  if (!record) {
    // Never dropped silently: consumers count the refused event as a rejected entry.
    if (auto st = publish_refusal(event, publish_ns); !st) {
      return Error{record.error().message +
                   "; its rejected-entry record was lost too: " + st.error().message};
    }
    return Error{record.error().message + " (published as a rejected entry)"};
  }
  record->publish_ns = publish_ns;
  return publish_record(*record);
}

Status RingProducer::publish_refusal(const TradeIntent& event, std::uint64_t publish_ns) {
  Record rejected =
      rejected_record(event.time_ms, event.seq, impl_->refusal_reason, impl_->refusal_field);
  rejected.producer_id = impl_->producer_id;
  rejected.publish_ns = publish_ns;
  return publish_record(rejected);
}

Status RingProducer::publish_rejected(std::uint64_t time_ms, std::uint64_t seq, RejectReason reason,
                                      std::string_view field) {
  Record rejected = rejected_record(time_ms, seq, reason, field);
  rejected.producer_id = impl_->producer_id;
  rejected.publish_ns = monotonic_ns();
  return publish_record(rejected);
}

Record rejected_record(std::uint64_t time_ms, std::uint64_t seq, RejectReason reason,
                       std::string_view field) noexcept {
  Record r{};
  r.time_ms = time_ms;
  r.seq = seq;
  r.confidence = std::numeric_limits<double>::quiet_NaN();
  r.flags = kRecordRejected;
  r.side = static_cast<std::uint8_t>(reason);
  r.prediction_count = 0;
  const std::size_t len = std::min(field.size(), kSymbolBytes);
  r.symbol_len = static_cast<std::uint8_t>(len);
  std::memcpy(r.symbol, field.data(), len);
  return r;
}

// Writes `record` as sequence `seq`, which the caller has claimed.
SlotOutcome RingProducer::Impl::write_claimed(std::uint64_t seq, const Record& record) noexcept {
  SegmentHeader& h = segment->header();
  Slot& slot = segment->slot(seq);
  // relaxed: only compared; every CAS below re-checks it.
  std::uint64_t current = slot.state.load(std::memory_order_relaxed);
  for (;;) {
    if (!is_empty(current) && seq_of(current) >= seq) {
      // A later lap already used the slot: this claim stalled for a whole ring, and every
      // consumer that passed `seq` has counted it lost. Drop rather than count it twice.
      h.producer_overruns.fetch_add(1, std::memory_order_relaxed);  // relaxed: statistic
      return SlotOutcome::kOverrun;
    }
    const auto kind = kind_of(current);
    if (!is_empty(current) && (kind == kWriting || kind == kPoisoned)) [[unlikely]] {
      // An older claim never committed here and its producer may still be storing words:
      // never write over it. Leave `seq` as a poisoned hole (readers skip it); the caller
      // claims another sequence. relaxed: no data is published by a hole.
      if (slot.state.compare_exchange_weak(current, make(seq, kPoisoned), std::memory_order_relaxed,
                                           std::memory_order_relaxed)) {
        h.hole_claims.fetch_add(1, std::memory_order_relaxed);  // relaxed: statistic
        if (kind == kWriting) {
          h.poisoned_slots.fetch_add(1, std::memory_order_relaxed);  // relaxed: statistic
        }
        return SlotOutcome::kHole;
      }
      continue;
    }
    // Empty, committed or a healed hole: take it. relaxed: ownership only; the release stores
    // of the words publish it to readers. (A CAS, not a store: it is what stops two writers,
    // a lap apart, from sharing a slot when one of them stalled for a whole lap.)
    if (slot.state.compare_exchange_weak(current, writing(seq), std::memory_order_relaxed,
                                         std::memory_order_relaxed)) {
      break;
    }
  }
  store_record(slot, record, options.test_hook_mid_write);
  std::uint64_t expected = writing(seq);
  // seq_cst: releases the record to readers, and (as a total-order operation) pairs with the
  // caller's sleepers load against a blocking consumer's sleepers increment + state load.
  if (slot.state.compare_exchange_strong(expected, committed(seq), std::memory_order_seq_cst,
                                         std::memory_order_relaxed)) [[likely]] {
    // After the commit, not before: the record is out, and the misses overlap the caller's
    // work until the next publish instead of delaying this one.
    const auto* ahead =
        reinterpret_cast<const unsigned char*>(&segment->slot(seq + kPrefetchAhead));
    const std::size_t lines =
        (sizeof slot.state + used_words(record.prediction_count) * sizeof(std::uint64_t) +
         kCacheLineBytes - 1) /
        kCacheLineBytes;
    for (std::size_t i = 0; i < lines; ++i) prefetch_for_write(ahead + i * kCacheLineBytes);
    return SlotOutcome::kCommitted;
  }
  // A later lap poisoned the slot while we were writing (we stalled a whole ring). Our stores
  // are finished now, so the slot is safe again: heal it for the next lap. The event was
  // passed over as lost by the consumers; drop it rather than count it twice. Only poisoners
  // (poisoned -> poisoned, a later sequence) race with this CAS.
  while (kind_of(expected) == kPoisoned &&
         !slot.state.compare_exchange_weak(expected, make(seq_of(expected), kHole),
                                           std::memory_order_relaxed, std::memory_order_relaxed)) {
  }
  h.poisoned_slots.fetch_sub(1, std::memory_order_relaxed);     // relaxed: statistic
  h.producer_overruns.fetch_add(1, std::memory_order_relaxed);  // relaxed: statistic
  return SlotOutcome::kOverrunStalled;
}

// Leaves a claimed sequence number as a hole (a batch claimed more numbers than it had
// records left, because holes pushed the records along): readers skip it at once.
void RingProducer::Impl::leave_hole(std::uint64_t seq) noexcept {
  SegmentHeader& h = segment->header();
  Slot& slot = segment->slot(seq);
  // relaxed: only compared; the CAS re-checks it.
  std::uint64_t current = slot.state.load(std::memory_order_relaxed);
  for (;;) {
    if (!is_empty(current) && seq_of(current) >= seq) return;  // a later lap has it
    const auto kind = kind_of(current);
    const bool owned = !is_empty(current) && (kind == kWriting || kind == kPoisoned);
    // seq_cst: a hole is "ready" to a blocking consumer, like a commit (see wake_sleepers).
    // An unfinished older writer keeps the slot poisoned, as in write_claimed.
    if (slot.state.compare_exchange_weak(current, make(seq, owned ? kPoisoned : kHole),
                                         std::memory_order_seq_cst, std::memory_order_relaxed)) {
      h.hole_claims.fetch_add(1, std::memory_order_relaxed);  // relaxed: statistic
      if (owned && kind == kWriting) {
        h.poisoned_slots.fetch_add(1, std::memory_order_relaxed);  // relaxed: statistic
      }
      return;
    }
  }
}

// Wakes blocked consumers, if any, after commits. One call after the last commit of a batch
// is enough: a consumer that announced itself before this load is woken, and one that did so
// after it sees every commit before it sleeps.
void RingProducer::Impl::wake_sleepers() noexcept {
  SegmentHeader& h = segment->header();
  // seq_cst: pairs with the commit CAS; either we see the sleeper or it sees our commit.
  if (h.sleepers.load(std::memory_order_seq_cst) != 0) [[unlikely]] {
    h.wake_futex.fetch_add(1, std::memory_order_release);  // release: changes the word
    futex(h.wake_futex, FUTEX_WAKE, INT_MAX, nullptr);
  }
}

Status RingProducer::publish_record(const Record& record) noexcept {
  Impl& p = *impl_;
  SegmentHeader& h = p.segment->header();
  for (int claim = 0; claim < kMaxClaimsPerPublish; ++claim) {
    // relaxed: the RMW alone makes each claim unique; nothing is published through the tail.
    const std::uint64_t seq = h.tail_claim.fetch_add(1, std::memory_order_relaxed);
    switch (p.write_claimed(seq, record)) {
      case SlotOutcome::kCommitted:
        p.wake_sleepers();
        return ok_status();
      case SlotOutcome::kHole:
        continue;
      case SlotOutcome::kOverrun:
      case SlotOutcome::kOverrunStalled:
        return p.overrun_error(seq, 1);
    }
  }
  return p.poisoned_error();
}

Status RingProducer::publish_records(std::span<const Record> records) noexcept {
  Impl& p = *impl_;
  SegmentHeader& h = p.segment->header();
  // A claim longer than the ring would lap itself; a quarter ring keeps consumers that follow
  // closely from being lapped by one batch.
  const std::uint64_t max_claim = std::max<std::uint64_t>(1, p.segment->capacity_records() / 4);
  std::size_t next = 0, dropped = 0;
  std::uint64_t first_dropped = 0;
  int holes = 0;
  while (next < records.size()) {
    const std::uint64_t want = std::min<std::uint64_t>(records.size() - next, max_claim);
    // relaxed: as in publish_record; one RMW claims the whole run of sequence numbers.
    const std::uint64_t first = h.tail_claim.fetch_add(want, std::memory_order_relaxed);
    for (std::uint64_t seq = first; seq < first + want; ++seq) {
      if (next == records.size()) {
        // Holes earlier in this claim pushed the records along: the claim has more numbers
        // than records left. Leave each as a hole, as a poisoned slot's claim would be.
        p.leave_hole(seq);
        continue;
      }
      switch (p.write_claimed(seq, records[next])) {
        case SlotOutcome::kCommitted:
          ++next;
          break;
        case SlotOutcome::kHole:
          ++holes;  // the record moves to the next number
          break;
        case SlotOutcome::kOverrun:
        case SlotOutcome::kOverrunStalled:
          if (dropped++ == 0) first_dropped = seq;
          ++next;
          break;
      }
    }
    if (holes >= kMaxClaimsPerPublish) break;
  }
  p.wake_sleepers();
  if (next < records.size()) return p.poisoned_error();
  if (dropped != 0) return p.overrun_error(first_dropped, dropped);
  return ok_status();
}

// ------------------------------------------------------------------------------------------
// Consumer

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
  bool read_ready(Record& out) noexcept;
  bool idle(std::uint64_t now_ns) noexcept;
  void check_replaced(std::uint64_t now_ns);
  bool ready_seq_cst() const noexcept;
  void block_until(std::uint64_t deadline_ns) noexcept;
};

void RingConsumer::Impl::check_replaced(std::uint64_t now_ns) {
  if (now_ns - last_identity_check_ns <
      static_cast<std::uint64_t>(options.replacement_check_interval.count()) * kNsPerMs) {
    return;
  }
  last_identity_check_ns = now_ns;
  if (segment->identity() != SegmentIdentity::kReplaced) return;
  try {
    auto fresh = Segment::attach({options.name, options.capacity_records,
                                  /*create_if_missing=*/false, options.init_timeout,
                                  options.trusted_owner_uid});
    if (!fresh) {
      attach_error = fresh.error();
      return;
    }
    segment = std::move(fresh).value();
  } catch (...) {
    attach_error = Error{"ring '" + options.name + "': re-attaching failed (out of memory?)"};
    return;
  }
  attach_error.reset();
  // relaxed: a statistic.
  segment->header().consumer_attaches.fetch_add(1, std::memory_order_relaxed);
  names.assign(kModelTableEntries, std::nullopt);  // the new segment has its own table
  ++stats.reattached;
  // A fresh segment: everything in it is new to this consumer.
  const std::uint64_t tail = segment->header().tail_claim.load(std::memory_order_relaxed);
  const std::uint64_t capacity = segment->capacity_records();
  cursor = tail > capacity ? tail - capacity : 0;
  waiting_since_ns = inflight_since_ns = 0;
}

bool RingConsumer::Impl::ready_seq_cst() const noexcept {
  // seq_cst: pairs with the producer's commit CAS and sleepers load (a Dekker handshake).
  const std::uint64_t state = segment->slot(cursor).state.load(std::memory_order_seq_cst);
  if (is_empty(state)) return false;
  const std::uint64_t seq = seq_of(state);
  return seq > cursor || (seq == cursor && kind_of(state) != kWriting);
}

void RingConsumer::Impl::block_until(std::uint64_t deadline_ns) noexcept {
  SegmentHeader& h = segment->header();
  // acquire: the futex value we sleep on is read before we announce ourselves.
  const std::uint32_t seen = h.wake_futex.load(std::memory_order_acquire);
  h.sleepers.fetch_add(1, std::memory_order_seq_cst);  // seq_cst: see ready_seq_cst
  if (!ready_seq_cst()) {
    const std::uint64_t now = monotonic_ns();
    if (deadline_ns > now) {
      const std::uint64_t wait_ns = deadline_ns - now;
      timespec ts{static_cast<time_t>(wait_ns / 1'000'000'000ULL),
                  static_cast<long>(wait_ns % 1'000'000'000ULL)};
      futex(h.wake_futex, FUTEX_WAIT, seen, &ts);  // returns at once if the word changed
    }
  }
  h.sleepers.fetch_sub(1, std::memory_order_seq_cst);  // seq_cst: symmetric with the add
}

RingConsumer::RingConsumer(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
RingConsumer::RingConsumer(RingConsumer&&) noexcept = default;
RingConsumer& RingConsumer::operator=(RingConsumer&&) noexcept = default;
RingConsumer::~RingConsumer() = default;

Result<RingConsumer> RingConsumer::open(const ConsumerOptions& options) {
  return guarded<Result<RingConsumer>>("opening the consumer", [&]() -> Result<RingConsumer> {
    auto segment =
        Segment::attach({options.name, options.capacity_records, options.create_if_missing,
                         options.init_timeout, options.trusted_owner_uid});
    if (!segment) return Error{segment.error().message};
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    impl->segment = std::move(segment).value();
    impl->segment->header().consumer_attaches.fetch_add(1, std::memory_order_relaxed);  // statistic
    impl->abandon_ns = static_cast<std::uint64_t>(options.abandon_timeout.count()) * kNsPerMs;
    impl->tail_check_ns =
        std::min(impl->abandon_ns,
                 static_cast<std::uint64_t>(options.replacement_check_interval.count()) * kNsPerMs);
    impl->start_cursor();
    impl->last_identity_check_ns = monotonic_ns();
    return RingConsumer(std::move(impl));
  });
}

// Reads the record at the cursor if it is committed, skipping holes and lapped ranges on the
// way. Touches only the slot (its state word shares the record's first cache line): no clock,
// no tail, so a consumer that keeps up reads no line a producer writes for other reasons.
bool RingConsumer::Impl::read_ready(Record& out) noexcept {
  for (;;) {
    Slot& slot = segment->slot(cursor);
    // acquire: pairs with the commit CAS, so a committed record's words are visible.
    const std::uint64_t state = slot.state.load(std::memory_order_acquire);
    if (state == committed(cursor)) [[likely]] {
      load_record(slot, out);
      // relaxed: ordered after the word loads by their acquire; a producer that started
      // rewriting the slot during the copy has changed the state by now.
      if (slot.state.load(std::memory_order_relaxed) == state) [[likely]] {
        ++stats.delivered;
        advance();
        return true;
      }
      skip_lapped();  // overwritten while we copied: a later lap owns the slot
      continue;
    }
    if (is_empty(state)) return false;
    const std::uint64_t seq = seq_of(state);
    if (seq > cursor) {
      // A later lap can only be one producers have claimed: at the tail or past it, nothing is
      // claimed, so a state from further on is corrupt and skipping towards it would loop for
      // up to 2^62 sequences (found by tests/fuzz/ring_segment). Wait there instead. relaxed:
      // a stale tail only delays the skip to the next read.
      if (cursor >= segment->header().tail_claim.load(std::memory_order_relaxed)) return false;
      skip_lapped();  // the slot already holds a later lap
      continue;
    }
    if (seq == cursor && kind_of(state) >= kHole) {
      ++stats.holes;  // a sequence that carries no event
      advance();
      continue;
    }
    return false;  // an older lap, or being written
  }
}

// The cursor is not ready at `now_ns`. Only the tail tells "not claimed yet" from "claimed,
// not committed", but it sits on the line every producer writes per event: reading it on each
// empty poll would cost the producers a cache miss per publish, so look only after a while.
// True when it skipped an abandoned claim (the caller reads again).
bool RingConsumer::Impl::idle(std::uint64_t now_ns) noexcept {
  if (waiting_since_ns == 0) {
    waiting_since_ns = now_ns;
    return false;
  }
  if (now_ns - waiting_since_ns < tail_check_ns) return false;
  // relaxed: a hint; the slot states decide what is readable.
  const std::uint64_t tail = segment->header().tail_claim.load(std::memory_order_relaxed);
  if (tail <= cursor) {  // idle: nothing claimed
    waiting_since_ns = now_ns;
    inflight_since_ns = 0;
    check_replaced(now_ns);
    return false;
  }
  if (inflight_since_ns == 0) inflight_since_ns = now_ns;  // a claim is pending
  if (now_ns - inflight_since_ns < abandon_ns) return false;
  // Claimed long ago and never committed: its producer died mid-write. Skip it.
  ++stats.lost;
  ++stats.abandoned;
  advance();
  return true;
}

bool RingConsumer::poll_record(Record& out) noexcept {
  Impl& c = *impl_;
  for (;;) {
    if (c.read_ready(out)) return true;
    if (!c.idle(monotonic_ns())) return false;
  }
}

bool RingConsumer::next_record(Record& out, std::chrono::nanoseconds timeout) noexcept {
  Impl& c = *impl_;
  if (c.read_ready(out)) [[likely]]
    return true;  // the common case: no clock read at all
  const std::uint64_t deadline = monotonic_ns() + static_cast<std::uint64_t>(timeout.count());
  std::uint64_t sleep_ns = 50'000;
  // Spinning reads the clock once every kSpinsPerClockRead turns only: a CLOCK_MONOTONIC read
  // costs 25-90 ns on a VM, several times a turn, and what it serves (the deadline, the tail
  // check, the abandon timeout) is milliseconds coarse. Turn 0 reads it, so a zero timeout
  // returns at once.
  constexpr std::uint32_t kSpinsPerClockRead = 64;
  constexpr std::uint32_t kPauseSpins = 2000, kYieldSpins = 2100;  // kSpinThenSleep's phases
  for (std::uint32_t spins = 0;; ++spins) {
    const bool spinning = c.options.wait == WaitStrategy::kSpin ||
                          (c.options.wait == WaitStrategy::kSpinThenSleep && spins < kPauseSpins);
    if (spinning && spins % kSpinsPerClockRead != 0) {
      cpu_relax();
      if (c.read_ready(out)) return true;
      continue;
    }
    const std::uint64_t now = monotonic_ns();
    if (c.idle(now)) {  // skipped an abandoned claim: there may be more behind it
      if (c.read_ready(out)) return true;
      continue;
    }
    if (now >= deadline) return false;
    switch (c.options.wait) {
      case WaitStrategy::kSpin:
        cpu_relax();
        break;
      case WaitStrategy::kSpinThenSleep:
        if (spins < kPauseSpins) {
          cpu_relax();
        } else if (spins < kYieldSpins) {
          sched_yield();
        } else {
          const std::uint64_t nap = std::min(sleep_ns, deadline - now);
          std::this_thread::sleep_for(std::chrono::nanoseconds(nap));
          sleep_ns = std::min<std::uint64_t>(sleep_ns * 2, kNsPerMs);
        }
        break;
      case WaitStrategy::kBlock: {
        // Wake for the caller's deadline or idle()'s next look at the tail (abandoned claims,
        // a replaced segment), whichever is first.
        std::uint64_t until = deadline;
        if (c.waiting_since_ns != 0) until = std::min(until, c.waiting_since_ns + c.tail_check_ns);
        if (c.inflight_since_ns != 0) until = std::min(until, c.inflight_since_ns + c.abandon_ns);
        c.block_until(until);
        break;
      }
    }
    if (c.read_ready(out)) return true;
  }
}

namespace {

// A prediction's confidence checked against its status. The status says how the producer
// read the number, but only the value reaches the statistics, and every comparison with NaN
// is false: an OK status on a NaN would pass every spread check. So a value that breaks its
// status's contract is read the way the parser reads that number (NaN, infinite, negative:
// a violation), and a violation's confidence is NaN, as the parser leaves it. False: the
// value fits no reading (above 1 with status OK), the record is refused.
bool reconcile_confidence(Prediction& p) noexcept {
  if (!is_confidence_violation(p.confidence_status)) {
    const double x = p.confidence;
    if (std::isnan(x)) {
      p.confidence_status = ConfidenceStatus::kNaN;
    } else if (std::isinf(x)) {
      p.confidence_status = ConfidenceStatus::kInfinite;
    } else if (x < 0.0) {
      p.confidence_status = ConfidenceStatus::kNegative;
    } else if (x > 1.0) {
      return false;
    } else {
      return true;
    }
  }
  p.confidence = std::numeric_limits<double>::quiet_NaN();
  return true;
}

}  // namespace

ParseOutcome RingConsumer::read(const Record& r) {
  Impl& c = *impl_;
  const std::string id = std::to_string(r.time_ms) + "-" + std::to_string(r.seq);
  const auto reject = [&](RejectReason reason, std::string field, const std::string& why) {
    std::string message = "ring '" + c.options.name + "' entry " + id + ": " + why;
    return ParseOutcome(Rejection{reason, id, std::move(field), std::move(message)});
  };
  const auto corrupt = [&](const std::string& what) {
    return reject(RejectReason::kWrongType, "record", "corrupt record (" + what + ")");
  };
  if (r.prediction_count > kMaxPredictions) return corrupt("prediction count");
  if ((r.flags & kRecordRejected) != 0) {
    const std::string field(r.symbol, std::min<std::size_t>(r.symbol_len, kSymbolBytes));
    if (r.side >= kRejectReasons) {
      return corrupt("rejected-entry record with reason code " + std::to_string(r.side));
    }
    const auto reason = static_cast<RejectReason>(r.side);
    return reject(reason, field.empty() ? "payload" : field,
                  "rejected by its producer (" + std::string(reject_reason_name(reason)) +
                      (field.empty() ? std::string() : ", field " + field) + ")");
  }
  if (r.flags != 0) return corrupt("unknown flags " + std::to_string(r.flags));
  if (r.prediction_count == 0) {
    return reject(RejectReason::kMissingField, "model_breakdown",
                  "empty model_breakdown: the record has no predictions");
  }
  if (r.symbol_len > kSymbolBytes) return corrupt("symbol length");
  if (r.side != kNoSide && r.side >= kVoteKinds) return corrupt("side");
  TradeIntent event;
  event.time_ms = r.time_ms;
  event.seq = r.seq;
  event.symbol.assign(r.symbol, r.symbol_len);
  if (r.side != kNoSide) event.side = static_cast<Vote>(r.side);
  // As the parser: the ensemble's confidence when a finite number, else NaN.
  event.confidence =
      std::isfinite(r.confidence) ? r.confidence : std::numeric_limits<double>::quiet_NaN();
  event.predictions.reserve(r.prediction_count);
  for (std::size_t i = 0; i < r.prediction_count; ++i) {
    const PredictionRecord& p = r.predictions[i];
    if (p.model_index >= kModelTableEntries) return corrupt("model index");
    if (p.action >= kVoteKinds || p.confidence_status > 5 || p.inactive_reason > 3 ||
        p.model_string_len > kModelStringBytes) {
      return corrupt("prediction " + std::to_string(i) + " fields");
    }
    auto& name = c.names[p.model_index];
    if (!name) {
      const ModelEntry& entry = c.segment->header().models[p.model_index];
      // acquire: pairs with the interning release; names never change once Ready.
      if (entry.state.load(std::memory_order_acquire) != kModelEntryReady) {
        return corrupt("model index " + std::to_string(p.model_index) + " is not interned");
      }
      if (entry.name_len == 0 || entry.name_len > kModelNameMaxBytes) {
        // Refused, never clamped: the table breaks the layout (check_segment_limits).
        return corrupt("corrupt segment " + c.options.name + ": model table entry " +
                       std::to_string(p.model_index) + " has a name of " +
                       std::to_string(entry.name_len) + " bytes, the layout allows 1 to " +
                       std::to_string(kModelNameMaxBytes));
      }
      name.emplace(entry.name, entry.name_len);
    }
    Prediction out;
    out.model = *name;
    out.model_string.assign(p.model_string, p.model_string_len);
    out.action = static_cast<Vote>(p.action);
    out.confidence = p.confidence;
    out.raw_confidence = p.raw_confidence;
    out.confidence_status = static_cast<ConfidenceStatus>(p.confidence_status);
    out.inactive = static_cast<InactiveReason>(p.inactive_reason);
    if (!reconcile_confidence(out)) {
      return reject(RejectReason::kWrongType, "model_breakdown." + out.model + ".confidence",
                    "confidence " + std::to_string(p.confidence) + " disagrees with status " +
                        std::string(confidence_status_name(out.confidence_status)));
    }
    event.predictions.push_back(std::move(out));
  }
  return event;
}

Result<TradeIntent> RingConsumer::decode(const Record& r) {
  return guarded<Result<TradeIntent>>("decoding a record", [&]() -> Result<TradeIntent> {
    auto outcome = read(r);
    if (auto* rejection = std::get_if<Rejection>(&outcome)) return Error{rejection->message};
    return std::move(std::get<TradeIntent>(outcome));
  });
}

Result<std::optional<TradeIntent>> RingConsumer::poll() {
  return guarded<Result<std::optional<TradeIntent>>>(
      "polling", [&]() -> Result<std::optional<TradeIntent>> {
        Record record;
        if (!poll_record(record)) {
          if (impl_->attach_error) return *impl_->attach_error;
          return std::optional<TradeIntent>{};
        }
        auto event = decode(record);
        if (!event) return Error{event.error().message};
        return std::optional<TradeIntent>(std::move(event).value());
      });
}

Result<std::optional<TradeIntent>> RingConsumer::next(std::chrono::milliseconds timeout) {
  return guarded<Result<std::optional<TradeIntent>>>(
      "waiting for an event", [&]() -> Result<std::optional<TradeIntent>> {
        Record record;
        if (!next_record(record, timeout)) {
          if (impl_->attach_error) return *impl_->attach_error;
          return std::optional<TradeIntent>{};
        }
        auto event = decode(record);
        if (!event) return Error{event.error().message};
        return std::optional<TradeIntent>(std::move(event).value());
      });
}

const ConsumerStats& RingConsumer::stats() const noexcept {
  return impl_->stats;
}
std::uint64_t RingConsumer::lost() const noexcept {
  return impl_->stats.lost;
}
std::uint64_t RingConsumer::position() const noexcept {
  return impl_->cursor;
}
std::uint64_t RingConsumer::tail() const noexcept {
  // relaxed: informational.
  return impl_->segment->header().tail_claim.load(std::memory_order_relaxed);
}
const SegmentHeader& RingConsumer::header() const noexcept {
  return impl_->segment->header();
}
const std::optional<Error>& RingConsumer::attach_error() const noexcept {
  return impl_->attach_error;
}

}  // namespace qsc::ipc
