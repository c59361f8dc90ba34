// A multiset of doubles that answers "the k-th smallest" exactly in O(log n): what the window needs
// for numpy's P10 and P90 (the two order statistics its linear interpolation reads) without
// sorting or selecting over the whole window at every evaluation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace qsc::agent {

/// Values bucketed by value (a bucket's values kept sorted), with a Fenwick tree of the buckets'
/// counts to find the bucket holding rank k. The buckets split [0, 1] evenly (confidences);
/// values outside land in the first or last bucket, so any non-NaN value is ordered correctly,
/// only more slowly. NaN has no order: the caller must not insert it.
class OrderStatistics {
 public:
  OrderStatistics();

  /// Inserts `value` (not NaN).
  void insert(double value);
  /// Removes one value bit-equal to `value`; false (and nothing removed) when there is none.
  bool erase(double value);
  void clear();

  std::size_t size() const noexcept { return size_; }
  /// The k-th smallest (0-based, k < size()): the value a sort would put at index k.
  double kth(std::size_t k) const noexcept;
  /// The k-th and the (k+1)-th smallest (the k-th twice when k + 1 == size()).
  std::array<double, 2> kth_and_next(std::size_t k) const noexcept;

 private:
  // 4,096 buckets: a 2,000-prediction window of confidences spread over any tenth of [0, 1]
  // keeps a few values per bucket, and the tree (16 KiB) stays in the L1/L2 cache.
  static constexpr std::size_t kBuckets = 4096;

  static std::size_t bucket_of(double value) noexcept;
  void add_count(std::size_t bucket, std::int32_t delta) noexcept;
  // The bucket holding rank k and k's rank inside it.
  std::pair<std::size_t, std::size_t> locate(std::size_t k) const noexcept;

  std::vector<std::vector<double>> buckets_;
  std::vector<std::uint32_t> tree_;  // Fenwick tree over bucket counts, 1-based
  std::size_t size_ = 0;
};

}  // namespace qsc::agent
