// The ring's producer: claims a sequence number, writes the record's words into its slot and
// commits it (the protocol is in ring_internal.hpp); interns model names; wakes blocked consumers.
#include "ring_internal.hpp"

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

namespace qsc::ipc {
using namespace detail;
namespace {

// How many sequence numbers ahead a producer prefetches a slot for writing: 2 had the highest
// throughput without raising the latency (docs/PERFORMANCE.md, "Figures behind choices in the
// code").
constexpr std::uint64_t kPrefetchAhead = 2;

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

}  // namespace

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
// is enough: a consumer that announced itself before these loads is woken (when it wants to
// be), and one that did so after them sees every commit before it sleeps. The proof, sleeper by
// sleeper kind, is in docs/design.md ("The ring's wake protocol").
void RingProducer::Impl::wake_sleepers(std::uint64_t last_seq,
                                       std::span<const Record> records) noexcept {
  SegmentHeader& h = segment->header();
  // seq_cst: pairs with the commit CAS; either we see the sleeper or it sees our commit.
  if (h.sleepers.load(std::memory_order_seq_cst) == 0) [[likely]]
    return;
  if (!options.test_legacy_wake && !watermark_reached(last_seq)) {
    // acquire: a sleeper marks its bits before counting itself in `sleepers`, and the seq_cst
    // load of `sleepers` above synchronises with that count, so they are visible here.
    const std::uint64_t prompt_models = h.prompt_models.load(std::memory_order_acquire);
    bool prompt = false;
    for (const Record& r : records) prompt = prompt || needs_prompt_wake(r, prompt_models);
    if (!prompt) return;
  }
  // seq_cst: ordered after the watermark's reset in watermark_reached, so a sleeper that read
  // the word before raising the watermark cannot sleep through this bump.
  h.wake_futex.fetch_add(1, std::memory_order_seq_cst);
  futex(h.wake_futex, FUTEX_WAKE, INT_MAX, nullptr);
}

// Whether some sleeper wants the commits up to `last_seq` now (the caller has seen sleepers).
bool RingProducer::Impl::watermark_reached(std::uint64_t last_seq) noexcept {
  SegmentHeader& h = segment->header();
  // seq_cst: a sleeper that wants every commit counts itself here before its readiness check
  // in the total order, so a commit it did not see finds it counted.
  if (h.plain_sleepers.load(std::memory_order_seq_cst) != 0) return true;
  // A consumer built before the watermark counts itself only in `sleepers`: while one is
  // attached, every commit wakes. acquire (both): the sleepers load above synchronises with
  // such a consumer's increment, so its earlier consumer_attaches increment is visible here; a
  // watermark consumer raises consumer_attaches before its release increment of
  // watermark_consumer_attaches, so reading that first never shows more aware than all.
  const std::uint64_t aware = h.watermark_consumer_attaches.load(std::memory_order_acquire);
  if (h.consumer_attaches.load(std::memory_order_acquire) != aware) return true;
  // seq_cst: a watermark sleeper raises it before its readiness check in the total order.
  std::uint64_t inverted = h.wake_at_inverted.load(std::memory_order_seq_cst);
  if (inverted == 0 || last_seq < ~inverted) return false;
  // Reached: take the watermark down before waking (a sleeper that raised it again after this
  // is woken by the bump that follows and raises it anew). A failed CAS means another producer
  // took it down or a sleeper lowered it: waking is right in both cases. seq_cst: ordered
  // before the bump (see wake_sleepers).
  h.wake_at_inverted.compare_exchange_strong(inverted, 0, std::memory_order_seq_cst,
                                             std::memory_order_relaxed);
  return true;
}

Status RingProducer::publish_record(const Record& record) noexcept {
  Impl& p = *impl_;
  SegmentHeader& h = p.segment->header();
  for (int claim = 0; claim < kMaxClaimsPerPublish; ++claim) {
    // relaxed: the RMW alone makes each claim unique; nothing is published through the tail.
    const std::uint64_t seq = h.tail_claim.fetch_add(1, std::memory_order_relaxed);
    switch (p.write_claimed(seq, record)) {
      case SlotOutcome::kCommitted:
        p.wake_sleepers(seq, std::span<const Record>(&record, 1));
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
  std::uint64_t last_seq = 0;  // the last sequence number claimed
  while (next < records.size()) {
    const std::uint64_t want = std::min<std::uint64_t>(records.size() - next, max_claim);
    // relaxed: as in publish_record; one RMW claims the whole run of sequence numbers.
    const std::uint64_t first = h.tail_claim.fetch_add(want, std::memory_order_relaxed);
    last_seq = first + want - 1;
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
  if (!records.empty()) p.wake_sleepers(last_seq, records);
  if (next < records.size()) return p.poisoned_error();
  if (dropped != 0) return p.overrun_error(first_dropped, dropped);
  return ok_status();
}

}  // namespace qsc::ipc
