// A per-event figure that depends on an event's vote counts alone, remembered by those counts.
// The folding detectors compute, at every event, doubles from a handful of small integers (the
// active votes of each kind and the canary's vote): the share checks' canary_share_excess (three
// divisions), the ensemble checks' canary_excess (up to five), distribution_shift's share and
// agreement differences (five). The divisions were a third of CanaryShareAttribution::fold's
// samples (perf annotate of replay, docs/PERFORMANCE.md, "Session 18: the detectors' per-event
// cost (shift18)"), yet an ensemble of a few models only ever shows a few dozen count patterns.
//
// Exact by construction: a remembered value is the one the same function computed on the same
// integers (IEEE operations are deterministic in one build), and the key is the counts
// themselves, packed without loss; counts too large to pack are computed every time. Nothing is
// approximated: the detectors' verdicts, figures and messages are the same to the bit. Header-
// only, like detector_support.hpp, so each detector stays one library.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace qsc::detectors {

/// A memo of `Value`s keyed by an event's three vote counts and one more small number (the
/// canary's vote, 0-3): an open-addressed table of kSlots entries (a power of two), probed
/// linearly from the key's hash, emptied when three quarters full. A few dozen patterns in 256
/// slots sit almost all at their first probe: a direct-mapped table of 64 slots had two
/// frequent patterns of rec300k evicting each other (a miss, and a call, at every such event).
/// Patterns that collide are kept apart, never mixed up (the whole key is kept).
template <typename Value, std::size_t kSlots = 256>
class VoteMemo {
 public:
  static_assert(kSlots >= 4 && (kSlots & (kSlots - 1)) == 0, "kSlots is a power of two");

  /// The key of counts (a, b, c) and `vote` (0-3), or kUnkeyed when a count needs more than
  /// kCountBits bits (then compute directly: no memo).
  static constexpr std::uint64_t kUnkeyed = ~std::uint64_t{0};
  static constexpr unsigned kCountBits = 20;
  static constexpr std::uint64_t key(std::size_t a, std::size_t b, std::size_t c,
                                     std::size_t vote) noexcept {
    constexpr std::size_t kLimit = std::size_t{1} << kCountBits;
    if (a >= kLimit || b >= kLimit || c >= kLimit || vote > 3) return kUnkeyed;
    // Bits 0-59 the counts, 60-61 the vote: never kUnkeyed (bits 62-63 stay clear).
    return static_cast<std::uint64_t>(a) | static_cast<std::uint64_t>(b) << kCountBits |
           static_cast<std::uint64_t>(c) << (2 * kCountBits) |
           static_cast<std::uint64_t>(vote) << (3 * kCountBits);
  }

  /// The value of `k` (a key() other than kUnkeyed): the remembered one, or compute(value)'s
  /// (`compute` writes the value into the slot; it is called only on a miss).
  template <typename Compute>
  [[gnu::always_inline]] inline const Value& get(std::uint64_t k, Compute&& compute) {
    std::size_t at = slot_of(k);
    for (;;) {
      Slot& s = slots_[at];
      if (s.key == k) [[likely]]
        return s.value;
      if (s.key == kUnkeyed) return fill(s, k, compute);
      at = (at + 1) & (kSlots - 1);
    }
  }

  /// The value of `k` as get(k, compute), or for kUnkeyed (counts too large to key) computed
  /// into `scratch` every time: the one entry point the folds use.
  template <typename Compute>
  [[gnu::always_inline]] inline const Value& get_or_compute(std::uint64_t k, Value& scratch,
                                                            Compute&& compute) {
    if (k == kUnkeyed) [[unlikely]] {
      compute(scratch);
      return scratch;
    }
    return get(k, compute);
  }

  /// Forgets every value (they never go stale: this only makes room).
  void clear() noexcept {
    for (auto& s : slots_) s.key = kUnkeyed;
    filled_ = 0;
  }

 private:
  struct Slot {
    std::uint64_t key = kUnkeyed;
    Value value{};
  };

  // A miss: the value into the empty slot `s` found for `k`, or, with the table three quarters
  // full (probes would grow long), into an emptied table. Out of the folds' loops.
  template <typename Compute>
  [[gnu::noinline]] const Value& fill(Slot& s, std::uint64_t k, Compute& compute) {
    Slot* into = &s;
    if (filled_ >= kSlots / 4 * 3) {
      clear();
      into = &slots_[slot_of(k)];
    }
    compute(into->value);
    into->key = k;
    ++filled_;
    return into->value;
  }

  static constexpr unsigned kSlotBits = [] {
    unsigned bits = 0;
    while ((std::size_t{1} << bits) < kSlots) ++bits;
    return bits;
  }();

  // Fibonacci hashing: the counts' low bits (the ones that vary) spread over the slots.
  static std::size_t slot_of(std::uint64_t k) noexcept {
    return static_cast<std::size_t>((k * 0x9E3779B97F4A7C15ULL) >> (64 - kSlotBits));
  }

  std::array<Slot, kSlots> slots_{};
  std::size_t filled_ = 0;  // slots holding a key
};

}  // namespace qsc::detectors
