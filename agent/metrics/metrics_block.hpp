// The shared-memory block through which the monitor worker hands its figures to the supervisor,
// which serves /metrics (the endpoint stays up while the worker is replaced or has died). One
// writer (the worker's monitor thread), any number of readers (the exposer's thread); a seqlock
// over a fixed-size payload of 64-bit words, lock-free in both directions, so a worker killed in
// the middle of a write never blocks the supervisor: the reader keeps the last consistent copy.
#pragma once

#include <atomic>
#include <cstdint>

#include "metrics/metrics_snapshot.hpp"
#include "qsc/result.hpp"

namespace qsc::agent::metrics {

inline constexpr std::size_t kSnapshotWords = sizeof(MetricsSnapshot) / sizeof(std::uint64_t);

/// The shared layout.
struct MetricsBlockLayout {
  /// Odd while the worker writes. Writer: store odd (relaxed), release fence, the words
  /// (relaxed), store the next even value (release). Reader: load (acquire), copy the words
  /// (relaxed), acquire fence, load again (relaxed); the copy is used only when both loads saw
  /// the same even value. The fences order the word accesses against the sequence on both
  /// sides, so a copy that passes was not overlapped by any write.
  std::atomic<std::uint64_t> sequence;
  std::atomic<std::uint64_t> words[kSnapshotWords];
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

/// The environment variable through which the worker learns the block's fd.
inline constexpr const char* kMetricsFdEnv = "QSC_METRICS_FD";

/// A mapping of the block. Movable; unmaps (and closes its fd) when destroyed.
class MetricsBlock {
 public:
  /// Creates a zeroed block (memfd). Its fd is inherited across exec (the worker attaches it by
  /// the number in QSC_METRICS_FD); it holds figures only, nothing secret.
  static Result<MetricsBlock> create();
  /// Maps the block whose fd the supervisor handed down, and marks the fd close-on-exec so the
  /// worker's own children (actions, systemctl) do not inherit it.
  static Result<MetricsBlock> attach(int fd);

  MetricsBlock(MetricsBlock&& other) noexcept;
  MetricsBlock& operator=(MetricsBlock&& other) noexcept;
  MetricsBlock(const MetricsBlock&) = delete;
  MetricsBlock& operator=(const MetricsBlock&) = delete;
  ~MetricsBlock();

  int fd() const noexcept { return fd_; }

  /// The writer's side (one thread only).
  void publish(const MetricsSnapshot& snapshot) noexcept;
  /// Copies a consistent snapshot into `out` and returns true; false (and `out` unspecified)
  /// when no attempt within 250 ms found the block between writes (a writer that died mid-write
  /// leaves the sequence odd for ever). `out` is the caller's: the record is ~20 KiB, too big for
  /// an exposer thread's stack.
  bool read(MetricsSnapshot& out) const noexcept;

 private:
  MetricsBlock(int fd, MetricsBlockLayout* layout) : fd_(fd), layout_(layout) {}
  int fd_ = -1;
  MetricsBlockLayout* layout_ = nullptr;
};

}  // namespace qsc::agent::metrics
