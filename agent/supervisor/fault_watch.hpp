// The supervisor's event-driven memory watch: the worker's page faults, counted by the kernel
// (perf_event_open, PERF_COUNT_SW_PAGE_FAULTS), wake the supervisor before the faults since its
// last resident-set read could have brought the worker to plugins.max_rss. Between such wakes the
// supervisor's resident-set round is a 250 ms backstop instead of the 12 GiB/s-spaced round
// (every 40 ms at the default 512 MiB): docs/PERFORMANCE.md, "Session 16: the supervisor's memory
// watch (sup16)".
//
// How the kernel is used (each point checked on this machine's 6.18 kernel, same document):
//   - one software event per CPU on the worker, `inherit` (its threads and children count too):
//     the kernel refuses a ring buffer on a per-task event that is inherited and not per-CPU, and
//     poll() reports POLLHUP at once on an event without a ring buffer;
//   - `sample_period` 1 and `wakeup_events` Q: every fault writes an 8-byte record into its CPU's
//     ring and every Q records of one ring make its fd readable. A per-thread period would not do:
//     each thread (and each new one) counts its own period, so T threads could fault T x the
//     period unseen; the records of all threads on a CPU share that CPU's ring and its count;
//   - the rings are emptied at every round (data_tail = data_head): a full ring drops records,
//     and a dropped record does not count towards the wake.
// So after a round that emptied the rings, the watch wakes the supervisor before more than
// cpus x Q faults: wake_within_bytes() (x the most one fault can make resident: a PMD-sized page,
// 2 MiB here, with transparent huge pages or file fault-around).
//
// What it does not see: memory made resident without a fault taken in user mode by the worker:
// MAP_POPULATE, MADV_POPULATE_READ/WRITE, mlock (up to RLIMIT_MEMLOCK unless privileged), and
// (where the supervisor may not count kernel-mode events: perf_event_paranoid 2 without
// CAP_PERFMON) a system call writing into fresh pages (read(2) into a new buffer); a CPU brought
// online after the worker started. For those the bound is the 250 ms backstop round.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "qsc/result.hpp"

namespace qsc::agent {

/// The most one page fault can make resident: a PMD-sized page (transparent huge pages, a file's
/// fault-around never crosses a page table either). From
/// /sys/kernel/mm/transparent_hugepage/hpage_pmd_size, else page size x PTEs in a page table.
std::uint64_t largest_fault_bytes();

class FaultWatch {
 public:
  /// Opens the watch on `pid` (a process that has not yet started a thread: its threads are
  /// counted only from their start on) so that it wakes within `wake_within_bytes` of growth by
  /// faults at most (rounded down to whole faults per CPU; at least one fault a CPU). An error
  /// names the step the kernel refused (perf_event_open or the ring's mmap) and why.
  static Result<FaultWatch> open(pid_t pid, std::uint64_t wake_within_bytes);

  FaultWatch(FaultWatch&& other) noexcept;
  FaultWatch& operator=(FaultWatch&&) = delete;
  FaultWatch(const FaultWatch&) = delete;
  FaultWatch& operator=(const FaultWatch&) = delete;
  ~FaultWatch();

  /// One fd per CPU, each readable (POLLIN) when its CPU's ring has collected its Q faults since
  /// it last did; POLLHUP or POLLERR when the event is gone (the worker exited).
  const std::vector<int>& fds() const noexcept { return fds_; }
  /// The growth by faults after which the watch has woken the supervisor at the latest, counted
  /// from the last drain(): CPUs x Q x largest_fault_bytes().
  std::uint64_t wake_within_bytes() const noexcept { return wake_within_bytes_; }
  /// Q: the faults on one CPU that make its fd readable.
  std::uint32_t wake_faults_per_cpu() const noexcept { return wake_faults_per_cpu_; }
  /// Whether faults taken in kernel mode (a system call writing to fresh user pages) are counted:
  /// only when the kernel lets this process count kernel-mode events.
  bool counts_kernel_mode() const noexcept { return counts_kernel_mode_; }
  struct Drained {
    std::uint64_t faults = 0;           // recorded on all CPUs since the last drain
    std::uint64_t most_on_one_cpu = 0;  // compared with Q: was a wake due, or near
  };
  /// Empties every ring (after it, each has room for more than Q records again).
  Drained drain() noexcept;
  /// One line for the log: what is watched, on how many CPUs, within how much growth.
  std::string describe() const;

 private:
  FaultWatch() = default;
  void close_all() noexcept;

  std::vector<int> fds_;
  std::vector<void*> rings_;
  std::size_t ring_bytes_ = 0;
  std::uint64_t wake_within_bytes_ = 0;
  std::uint32_t wake_faults_per_cpu_ = 0;
  std::uint64_t fault_bytes_ = 0;  // largest_fault_bytes() when opened: what one fault counts as
  bool counts_kernel_mode_ = false;
};

}  // namespace qsc::agent
