// The window's order statistics.
#include "monitor/order_statistics.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace qsc::agent {

OrderStatistics::OrderStatistics() : buckets_(kBuckets), tree_(kBuckets + 1, 0) {}

std::size_t OrderStatistics::bucket_of(double value) noexcept {
  // Monotone in value (a product by a positive constant rounds monotonically, floor too), so a
  // lower bucket never holds a larger value; -0.0 lands with 0.0.
  const double scaled = std::floor(value * static_cast<double>(kBuckets));
  if (!(scaled > 0.0)) return 0;
  if (scaled >= static_cast<double>(kBuckets - 1)) return kBuckets - 1;
  return static_cast<std::size_t>(scaled);
}

void OrderStatistics::add_count(std::size_t bucket, std::int32_t delta) noexcept {
  for (std::size_t i = bucket + 1; i <= kBuckets; i += i & (~i + 1)) {
    tree_[i] = static_cast<std::uint32_t>(static_cast<std::int64_t>(tree_[i]) + delta);
  }
}

void OrderStatistics::insert(double value) {
  const auto b = bucket_of(value);
  auto& bucket = buckets_[b];
  bucket.insert(std::upper_bound(bucket.begin(), bucket.end(), value), value);
  add_count(b, 1);
  ++size_;
}

bool OrderStatistics::erase(double value) {
  const auto b = bucket_of(value);
  auto& bucket = buckets_[b];
  auto [first, last] = std::equal_range(bucket.begin(), bucket.end(), value);
  // Equal is not identical (-0.0 == 0.0): remove the very value that was inserted, so the
  // ranked values stay the ones a sort of the window would give.
  const auto same =
      std::find_if(first, last, [&](double v) { return std::memcmp(&v, &value, sizeof v) == 0; });
  if (same == last) return false;
  bucket.erase(same);
  add_count(b, -1);
  --size_;
  return true;
}

void OrderStatistics::clear() {
  for (auto& b : buckets_) b.clear();
  std::fill(tree_.begin(), tree_.end(), 0u);
  size_ = 0;
}

std::pair<std::size_t, std::size_t> OrderStatistics::locate(std::size_t k) const noexcept {
  // The Fenwick descent: the largest prefix of buckets holding at most k values.
  std::size_t pos = 0;
  std::size_t rest = k;
  for (std::size_t step = std::bit_floor(kBuckets); step != 0; step >>= 1) {
    const std::size_t next = pos + step;
    if (next <= kBuckets && tree_[next] <= rest) {
      pos = next;
      rest -= tree_[next];
    }
  }
  return {pos, rest};
}

double OrderStatistics::kth(std::size_t k) const noexcept {
  const auto [bucket, rank] = locate(k);
  return buckets_[bucket][rank];
}

std::array<double, 2> OrderStatistics::kth_and_next(std::size_t k) const noexcept {
  const auto [bucket, rank] = locate(k);
  const auto& values = buckets_[bucket];
  const double at = values[rank];
  if (rank + 1 < values.size()) return {at, values[rank + 1]};
  return {at, k + 1 < size_ ? kth(k + 1) : at};
}

}  // namespace qsc::agent
