// A multiset of doubles that answers "the k-th smallest" exactly in O(log n): what the window needs
// for numpy's P10 and P90 (the two order statistics its linear interpolation reads) without
// sorting or selecting over the whole window at every evaluation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace qsc::agent {

/// Values bucketed by value (a bucket's values kept sorted), with the buckets' counts summed in
/// two levels of 16 above the buckets (16 x 16 x 16 buckets) to find the bucket holding rank k.
/// The buckets split [0, 1] evenly (confidences); values outside land in the first or last
/// bucket, so any non-NaN value is ordered correctly, only more slowly. NaN has no order: the
/// caller must not insert it.
class OrderStatistics {
 public:
  OrderStatistics();

  /// Inserts `value` (not NaN).
  void insert(double value);
  /// Removes one value bit-equal to `value`; false (and nothing removed) when there is none.
  bool erase(double value);
  void clear();
  /// A hint, no effect on the contents: starts loading the cache lines an insert or erase of
  /// `value` touches, so that the load overlaps the caller's work before it (any value, NaN too).
  void prefetch(double value) const noexcept {
    const auto b = bucket_of(value);
    hint(&buckets_[b]);
    hint(&group_counts_[b / kFanout]);
  }
  /// __builtin_prefetch(p), kept: GCC deletes a loop whose only effects are prefetches
  /// (-ffinite-loops), and once bucket_of was inline it compiled prefetch_adds to a bare `ret`
  /// (session 18: insert's and erase's samples rose by half). The empty volatile asm reading
  /// `p` is an effect it must keep, and with it the prefetch.
  static void hint(const void* p) noexcept {
    __builtin_prefetch(p);
    asm volatile("" : : "r"(p));
  }

  std::size_t size() const noexcept { return size_; }

  /// The bucket `value` goes in: floor(value * kBuckets) clamped to [0, kBuckets - 1], NaN in
  /// bucket 0. Monotone in value (a product by a positive constant rounds monotonically, floor
  /// too), so a lower bucket never holds a larger value; -0.0 lands with 0.0. Without the
  /// floor: for a scaled value in [1, kBuckets - 1) truncation is the floor, and the floor is
  /// > 0 exactly when the scaled value is >= 1 and >= kBuckets - 1 exactly when it is (GCC's
  /// inline floor for x86-64 without SSE4.1 was a dozen instructions, and the function an
  /// out-of-line call from every insert, erase and prefetch: 1.2% of replay's samples, session
  /// 18). Public for the test that holds it to the floor's formula.
  static std::size_t bucket_of(double value) noexcept {
    const double scaled = value * static_cast<double>(kBuckets);
    if (!(scaled >= 1.0)) return 0;  // NaN too
    if (scaled >= static_cast<double>(kBuckets - 1)) return kBuckets - 1;
    return static_cast<std::size_t>(scaled);
  }
  static constexpr std::size_t bucket_count() noexcept { return kBuckets; }
  /// The k-th smallest (0-based, k < size()): the value a sort would put at index k.
  double kth(std::size_t k) const noexcept;
  /// The k-th and the (k+1)-th smallest (the k-th twice when k + 1 == size()).
  std::array<double, 2> kth_and_next(std::size_t k) const noexcept;

 private:
  // 4,096 buckets: a 2,000-prediction window of confidences spread over any tenth of [0, 1]
  // keeps a few values per bucket.
  static constexpr std::size_t kBuckets = 4096;
  // The counts above the buckets in two levels of 16 (16 uint32 fill one 64-byte cache line): an
  // update adds to one counter a level, a rank is found by scanning one line a level. The Fenwick
  // tree before them touched up to 12 lines apart for each, and the monitor's worker, asleep
  // between its reads, finds them cold (perf, session 15).
  static constexpr std::size_t kFanout = 16;
  static constexpr std::size_t kGroups = kBuckets / kFanout;  // 256 groups of 16 buckets
  // Values a bucket holds in its own cache line. The worker's insert and erase each touched five
  // cold lines (a bucket's count, its vector's header, the vector's heap block, a group's and the
  // top counts): 12% of its samples at 1,000 events/s (perf, session 15, worker15). A bucket of
  // up to 7 values is now one line (its count and its values) beside the group's and top counts.
  static constexpr std::size_t kInline = 7;

  struct alignas(64) Bucket {
    std::uint32_t size = 0;  // the bucket's values: in `values` up to kInline, else in spilled_
    std::array<double, kInline> values{};  // sorted; the first `size` meaningful
  };
  static_assert(sizeof(Bucket) == 64, "a bucket is one cache line");

  // The bucket holding rank k (k < size()) and k's rank inside it.
  std::pair<std::size_t, std::size_t> locate(std::size_t k) const noexcept;
  // Bucket b's values, sorted (buckets_[b].size of them).
  const double* values_of(std::size_t b) const noexcept {
    return buckets_[b].size > kInline ? spilled_[b].data() : buckets_[b].values.data();
  }

  std::vector<Bucket> buckets_;               // kBuckets
  std::vector<std::vector<double>> spilled_;  // kBuckets: all of a bucket's values past kInline
  std::vector<std::uint32_t> group_counts_;   // kGroups: each 16 buckets' values
  std::array<std::uint32_t, kFanout> top_counts_{};  // each 16 groups' values
  std::size_t size_ = 0;
};

}  // namespace qsc::agent
