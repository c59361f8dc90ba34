// The window's order statistics.
#include "monitor/order_statistics.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace qsc::agent {

OrderStatistics::OrderStatistics()
    : buckets_(kBuckets), spilled_(kBuckets), group_counts_(kGroups, 0) {}

void OrderStatistics::insert(double value) {
  const auto b = bucket_of(value);
  Bucket& bucket = buckets_[b];
  if (bucket.size < kInline) {
    double* first = bucket.values.data();
    double* last = first + bucket.size;
    double* at = std::upper_bound(first, last, value);
    std::copy_backward(at, last, last + 1);
    *at = value;
  } else {
    // Spilled: all the bucket's values move to its vector (which keeps its storage once grown).
    auto& spill = spilled_[b];
    if (bucket.size == kInline) spill.assign(bucket.values.begin(), bucket.values.end());
    spill.insert(std::upper_bound(spill.begin(), spill.end(), value), value);
  }
  ++bucket.size;
  ++group_counts_[b / kFanout];
  ++top_counts_[b / kFanout / kFanout];
  ++size_;
}

bool OrderStatistics::erase(double value) {
  const auto b = bucket_of(value);
  Bucket& bucket = buckets_[b];
  const bool spilled = bucket.size > kInline;
  double* first = spilled ? spilled_[b].data() : bucket.values.data();
  double* last = first + bucket.size;
  auto [from, to] = std::equal_range(first, last, value);
  // Equal is not identical (-0.0 == 0.0): remove the very value that was inserted, so the
  // ranked values stay the ones a sort of the window would give.
  double* same =
      std::find_if(from, to, [&](double v) { return std::memcmp(&v, &value, sizeof v) == 0; });
  if (same == to) return false;
  if (!spilled) {
    std::copy(same + 1, last, same);
  } else {
    auto& spill = spilled_[b];
    spill.erase(spill.begin() + (same - first));
    if (spill.size() == kInline) {  // back in the bucket's line
      std::copy(spill.begin(), spill.end(), bucket.values.begin());
      spill.clear();
    }
  }
  --bucket.size;
  --group_counts_[b / kFanout];
  --top_counts_[b / kFanout / kFanout];
  --size_;
  return true;
}

void OrderStatistics::clear() {
  for (auto& b : buckets_) b.size = 0;
  for (auto& s : spilled_) s.clear();
  std::fill(group_counts_.begin(), group_counts_.end(), 0u);
  top_counts_.fill(0u);
  size_ = 0;
}

std::pair<std::size_t, std::size_t> OrderStatistics::locate(std::size_t k) const noexcept {
  // Down the levels: at each, skip the counters (16 at most, one cache line) whose values all
  // rank at or below k. The counts below a counter sum to it and k < size(), so each scan
  // stops inside its 16; the bounds only keep a broken count from reading past them.
  std::size_t rest = k;
  std::size_t top = 0;
  while (top + 1 < kFanout && top_counts_[top] <= rest) rest -= top_counts_[top++];
  std::size_t group = top * kFanout;
  const std::size_t group_end = group + kFanout - 1;
  while (group < group_end && group_counts_[group] <= rest) rest -= group_counts_[group++];
  std::size_t bucket = group * kFanout;
  const std::size_t bucket_end = bucket + kFanout - 1;
  while (bucket < bucket_end && buckets_[bucket].size <= rest) rest -= buckets_[bucket++].size;
  return {bucket, rest};
}

double OrderStatistics::kth(std::size_t k) const noexcept {
  const auto [bucket, rank] = locate(k);
  return values_of(bucket)[rank];
}

std::array<double, 2> OrderStatistics::kth_and_next(std::size_t k) const noexcept {
  const auto [bucket, rank] = locate(k);
  const double* values = values_of(bucket);
  const double at = values[rank];
  if (rank + 1 < buckets_[bucket].size) return {at, values[rank + 1]};
  return {at, k + 1 < size_ ? kth(k + 1) : at};
}

}  // namespace qsc::agent
