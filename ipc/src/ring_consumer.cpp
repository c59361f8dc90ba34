// The ring's consumer: reads the record at its cursor with a seqlock copy, skips holes, lapped
// and abandoned ranges (each counted), waits by spinning, sleeping or on the futex, and
// re-attaches to a replaced segment.
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

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace

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
  count_attach();
  names.assign(kModelTableEntries, std::nullopt);  // the new segment has its own table
  watched_index.reset();
  prompt_marked = nullptr;
  ++stats.reattached;
  // A fresh segment: everything in it is new to this consumer.
  const std::uint64_t tail = segment->header().tail_claim.load(std::memory_order_relaxed);
  const std::uint64_t capacity = segment->capacity_records();
  cursor = tail > capacity ? tail - capacity : 0;
  waiting_since_ns = inflight_since_ns = 0;
}

bool RingConsumer::Impl::ready_seq_cst(std::uint64_t seq) const noexcept {
  // seq_cst: pairs with the producer's commit CAS and sleepers load (a Dekker handshake).
  const std::uint64_t state = segment->slot(seq).state.load(std::memory_order_seq_cst);
  if (is_empty(state)) return false;
  const std::uint64_t at = seq_of(state);
  return at > seq || (at == seq && kind_of(state) != kWriting);
}

void RingConsumer::Impl::block_until(std::uint64_t deadline_ns, std::uint64_t wake_seq) noexcept {
  SegmentHeader& h = segment->header();
  // seq_cst: the futex value we sleep on is read before we announce ourselves, and before our
  // watermark in the total order, so a producer's bump that follows its reset of the
  // watermark cannot be the value we sleep on (docs/design.md, "The ring's wake protocol").
  const std::uint32_t seen = h.wake_futex.load(std::memory_order_seq_cst);
  // The watermark only while the slot at it is not ready: ready there but not at the cursor
  // (producers commit out of order) leaves no later commit to wait for, so take every one.
  const bool legacy = options.test_legacy_wake;
  const bool watermark = !legacy && wake_seq > cursor && !ready_seq_cst(wake_seq);
  h.sleepers.fetch_add(1, std::memory_order_seq_cst);  // seq_cst: see ready_seq_cst
  bool ready = false;
  if (watermark) {
    // seq_cst: raised before the readiness checks below in the total order, so a producer
    // whose commit they miss reads it (a fetch-max of ~S is a fetch-min of S).
    std::uint64_t inverted = h.wake_at_inverted.load(std::memory_order_seq_cst);
    while (inverted < ~wake_seq &&
           !h.wake_at_inverted.compare_exchange_weak(inverted, ~wake_seq, std::memory_order_seq_cst,
                                                     std::memory_order_seq_cst)) {
    }
    ready = ready_seq_cst(cursor) || ready_seq_cst(wake_seq);
  } else {
    if (!legacy) h.plain_sleepers.fetch_add(1, std::memory_order_seq_cst);  // seq_cst: as sleepers
    ready = ready_seq_cst(cursor);
  }
  if (!ready) {
    const std::uint64_t now = monotonic_ns();
    if (deadline_ns > now) {
      const std::uint64_t wait_ns = deadline_ns - now;
      timespec ts{static_cast<time_t>(wait_ns / 1'000'000'000ULL),
                  static_cast<long>(wait_ns % 1'000'000'000ULL)};
      futex(h.wake_futex, FUTEX_WAIT, seen, &ts);  // returns at once if the word changed
    }
  }
  // A watermark left behind (we woke by the timeout) costs one wake at most: harmless.
  if (!watermark && !legacy) {
    h.plain_sleepers.fetch_sub(1, std::memory_order_seq_cst);  // seq_cst: as the add
  }
  h.sleepers.fetch_sub(1, std::memory_order_seq_cst);  // seq_cst: symmetric with the add
}

bool RingConsumer::Impl::mark_prompt_models() noexcept {
  SegmentHeader& h = segment->header();
  if (prompt_marked == &h) return true;
  std::uint64_t bits = ~std::uint64_t{0};  // no model named: any model's prediction wakes
  if (watched_model) {
    for (std::size_t i = 0; !watched_index && i < kModelTableEntries; ++i) {
      const ModelEntry& e = h.models[i];
      // acquire: pairs with the interning release; a Ready name never changes.
      if (e.state.load(std::memory_order_acquire) == kModelEntryReady &&
          std::string_view(e.name, e.name_len) == *watched_model) {
        watched_index = static_cast<std::uint16_t>(i);
      }
    }
    // Not interned yet: the model has published nothing, and its first prediction may be the
    // one that must not wait. No watermark until it has.
    if (!watched_index) return false;
    bits = std::uint64_t{1} << *watched_index;
  }
  // release: marked before this consumer counts itself in `sleepers` (block_until), so a
  // producer whose load of `sleepers` sees the count sees the bits.
  h.prompt_models.fetch_or(bits, std::memory_order_release);
  prompt_marked = &h;
  return true;
}

void RingConsumer::watch_model(std::string_view model) {
  impl_->watched_model = std::string(model);
  impl_->watched_index.reset();
  impl_->prompt_marked = nullptr;
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
    impl->count_attach();
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
  return next_record(out, timeout, 1);
}

bool RingConsumer::next_record(Record& out, std::chrono::nanoseconds timeout,
                               std::uint64_t wake_after_records) noexcept {
  Impl& c = *impl_;
  if (c.read_ready(out)) [[likely]]
    return true;  // the common case: no clock read at all
  const std::uint64_t deadline = monotonic_ns() + static_cast<std::uint64_t>(timeout.count());
  std::uint64_t sleep_ns = 50'000;
  // Spinning reads the clock once every kSpinsPerClockRead turns only: a CLOCK_MONOTONIC read
  // costs several times a turn (docs/PERFORMANCE.md, "Figures behind choices in the code"), and
  // what it serves (the deadline, the tail check, the abandon timeout) is milliseconds coarse. Turn
  // 0 reads it, so a zero timeout returns at once.
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
        // The watermark: the sequence of the wake_after_records-th record from the cursor.
        std::uint64_t ahead = std::clamp<std::uint64_t>(
            wake_after_records, 1, max_wake_after_records(c.segment->capacity_records()));
        if (ahead > 1 && !c.mark_prompt_models()) ahead = 1;
        c.block_until(until, c.cursor + ahead - 1);
        break;
      }
    }
    if (c.read_ready(out)) return true;
  }
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
