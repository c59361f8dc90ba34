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
/// three levels of 16 (16 x 16 x 16 buckets) to find the bucket holding rank k. The buckets split
/// [0, 1] evenly (confidences); values outside land in the first or last bucket, so any non-NaN
/// value is ordered correctly, only more slowly. NaN has no order: the caller must not insert it.
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
  // keeps a few values per bucket.
  static constexpr std::size_t kBuckets = 4096;
  // The counts in three levels of 16 (16 uint32 fill one 64-byte cache line): an update adds
  // to one counter a level (3 cache lines), a rank is found by scanning one line a level. The
  // Fenwick tree this replaced touched up to 12 lines apart for each (its nodes 16 or more
  // apart lie on different lines), and the monitor's worker, asleep between its reads, finds
  // them cold: insert, erase and kth were 10% of its samples (perf, session 15).
  static constexpr std::size_t kFanout = 16;
  static constexpr std::size_t kGroups = kBuckets / kFanout;  // 256 groups of 16 buckets

  static std::size_t bucket_of(double value) noexcept;
  // The bucket holding rank k (k < size()) and k's rank inside it.
  std::pair<std::size_t, std::size_t> locate(std::size_t k) const noexcept;

  std::vector<std::vector<double>> buckets_;
  std::vector<std::uint32_t> bucket_counts_;         // kBuckets: each bucket's values
  std::vector<std::uint32_t> group_counts_;          // kGroups: each 16 buckets' values
  std::array<std::uint32_t, kFanout> top_counts_{};  // each 16 groups' values
  std::size_t size_ = 0;
};

}  // namespace qsc::agent
