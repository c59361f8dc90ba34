// The share of unreadable entries among the window's newest entries (docs/design.md, safety properties: "the
// rejected share is per window"). A cumulative share would let a recent burst of bad entries
// hide behind hours of good ones; a share over a handful of entries would roll back on one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace qsc::agent {

/// The newest `window_entries` entries (accepted and rejected alike), one flag each.
class RejectedShare {
 public:
  explicit RejectedShare(std::size_t window_entries);

  /// Records one read's outcome. The order inside a read is not known, so its rejected entries
  /// are taken as the newest: they stay in the window longest (fail closed).
  void add(std::uint64_t accepted, std::uint64_t rejected);
  /// Entries in the window (at most window_entries).
  std::size_t entries() const noexcept { return size_; }
  /// Rejected entries among them.
  std::size_t rejected() const noexcept { return rejected_; }
  /// rejected / entries x 100; 0 when empty.
  double pct() const noexcept;

 private:
  void push(bool rejected);

  std::vector<std::uint8_t> flags_;  // a ring: flags_[head_] is the oldest when full
  std::size_t head_ = 0;
  std::size_t size_ = 0;
  std::size_t rejected_ = 0;
};

}  // namespace qsc::agent
