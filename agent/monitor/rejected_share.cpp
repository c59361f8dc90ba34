// The share of unreadable entries among the window's newest entries.
#include "monitor/rejected_share.hpp"

#include <algorithm>

namespace qsc::agent {

RejectedShare::RejectedShare(std::size_t window_entries)
    : flags_(std::max<std::size_t>(1, window_entries), 0) {}

void RejectedShare::add(std::uint64_t accepted, std::uint64_t rejected) {
  // Only the newest capacity entries can stay; pushing more would cost time for nothing.
  const std::uint64_t capacity = flags_.size();
  const std::uint64_t kept_rejected = std::min(rejected, capacity);
  const std::uint64_t kept_accepted = std::min(accepted, capacity - kept_rejected);
  for (std::uint64_t i = 0; i < kept_accepted; ++i) push(false);
  for (std::uint64_t i = 0; i < kept_rejected; ++i) push(true);
}

void RejectedShare::push(bool rejected) {
  const std::uint8_t flag = rejected ? 1 : 0;
  if (size_ < flags_.size()) {
    flags_[(head_ + size_) % flags_.size()] = flag;
    ++size_;
  } else {
    rejected_ -= flags_[head_];
    flags_[head_] = flag;
    head_ = (head_ + 1) % flags_.size();
  }
  rejected_ += flag;
}

double RejectedShare::pct() const noexcept {
  if (size_ == 0) return 0.0;
  return 100.0 * static_cast<double>(rejected_) / static_cast<double>(size_);
}

}  // namespace qsc::agent
