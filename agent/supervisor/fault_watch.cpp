// The supervisor's event-driven memory watch (see fault_watch.hpp).
#include "supervisor/fault_watch.hpp"

#include <linux/perf_event.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

namespace qsc::agent {
namespace {

// A ring per CPU holds this many times Q records after a drain, so that the records written
// while the supervisor wakes up and reads the resident set after a wake are not dropped.
constexpr std::uint64_t kRingSlackFactor = 2;
// Q's ceiling: the rings stay at 16 data pages per CPU at most (mlocked memory, counted against
// perf_event_mlock_kb and RLIMIT_MEMLOCK); a larger plugins.max_rss wakes within less than its
// half, never later.
constexpr std::uint32_t kMostWakeFaultsPerCpu = 4096;
// A sample with no fields: its record is the 8-byte perf_event_header alone.
constexpr std::uint64_t kRecordBytes = sizeof(perf_event_header);

long page_bytes() {
  static const long bytes = ::sysconf(_SC_PAGESIZE);
  return bytes;
}

int perf_event_open(perf_event_attr* attr, pid_t pid, int cpu) {
  return static_cast<int>(::syscall(SYS_perf_event_open, attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC));
}

}  // namespace

std::uint64_t largest_fault_bytes() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size");
  std::uint64_t bytes = 0;
  if (in >> bytes && bytes > 0) return bytes;
  // No THP in this kernel: fault-around still maps up to a page table's reach.
  const auto page = static_cast<std::uint64_t>(page_bytes());
  return page * (page / sizeof(std::uint64_t));
}

Result<FaultWatch> FaultWatch::open(pid_t pid, std::uint64_t wake_within_bytes) {
  const long configured_cpus = ::sysconf(_SC_NPROCESSORS_CONF);
  if (configured_cpus <= 0) return Error{"sysconf(_SC_NPROCESSORS_CONF) failed"};
  const std::uint64_t fault_bytes = largest_fault_bytes();
  // Online CPUs are counted when opened; Q divides the growth among the CPUs this reaches.
  const long online_cpus = std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
  const std::uint64_t faults = wake_within_bytes / fault_bytes;
  const auto per_cpu = static_cast<std::uint32_t>(std::clamp<std::uint64_t>(
      faults / static_cast<std::uint64_t>(online_cpus), 1, kMostWakeFaultsPerCpu));

  FaultWatch watch;
  watch.wake_faults_per_cpu_ = per_cpu;
  watch.fault_bytes_ = fault_bytes;
  const std::uint64_t data_bytes = std::bit_ceil((per_cpu * kRecordBytes * kRingSlackFactor +
                                                  static_cast<std::uint64_t>(page_bytes()) - 1) /
                                                 static_cast<std::uint64_t>(page_bytes())) *
                                   static_cast<std::uint64_t>(page_bytes());
  watch.ring_bytes_ = static_cast<std::size_t>(data_bytes) + static_cast<std::size_t>(page_bytes());

  perf_event_attr attr{};
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_PAGE_FAULTS;
  attr.sample_period = 1;
  attr.wakeup_events = per_cpu;
  attr.inherit = 1;
  attr.exclude_hv = 1;
  // Kernel-mode faults too where allowed (root, CAP_PERFMON, perf_event_paranoid <= 1); at
  // paranoid 2 the kernel refuses that with EACCES and user-mode faults are what is counted.
  attr.exclude_kernel = 0;
  for (int cpu = 0; cpu < configured_cpus; ++cpu) {
    int fd = perf_event_open(&attr, pid, cpu);
    if (fd < 0 && (errno == EACCES || errno == EPERM) && attr.exclude_kernel == 0 &&
        watch.fds_.empty()) {
      attr.exclude_kernel = 1;
      fd = perf_event_open(&attr, pid, cpu);
    }
    if (fd < 0 && errno == ENODEV) continue;  // an offline CPU
    if (fd < 0) {
      return Error{std::string("perf_event_open(PERF_COUNT_SW_PAGE_FAULTS) on CPU ") +
                   std::to_string(cpu) + ": " + std::strerror(errno)};
    }
    watch.fds_.push_back(fd);
    void* ring = ::mmap(nullptr, watch.ring_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (ring == MAP_FAILED) {
      return Error{std::string("mmap of the page-fault event's ring (") +
                   std::to_string(watch.ring_bytes_ >> 10) + " KiB) on CPU " + std::to_string(cpu) +
                   ": " + std::strerror(errno)};
    }
    watch.rings_.push_back(ring);
  }
  if (watch.fds_.empty()) return Error{"perf_event_open: no online CPU to count on"};
  watch.counts_kernel_mode_ = attr.exclude_kernel == 0;
  watch.wake_within_bytes_ = static_cast<std::uint64_t>(watch.fds_.size()) * per_cpu * fault_bytes;
  return watch;
}

FaultWatch::FaultWatch(FaultWatch&& other) noexcept
    : fds_(std::move(other.fds_)),
      rings_(std::move(other.rings_)),
      ring_bytes_(other.ring_bytes_),
      wake_within_bytes_(other.wake_within_bytes_),
      wake_faults_per_cpu_(other.wake_faults_per_cpu_),
      fault_bytes_(other.fault_bytes_),
      counts_kernel_mode_(other.counts_kernel_mode_) {
  other.fds_.clear();
  other.rings_.clear();
}

FaultWatch::~FaultWatch() {
  close_all();
}

void FaultWatch::close_all() noexcept {
  for (void* ring : rings_) ::munmap(ring, ring_bytes_);
  for (const int fd : fds_) ::close(fd);
  rings_.clear();
  fds_.clear();
}

FaultWatch::Drained FaultWatch::drain() noexcept {
  Drained drained;
  for (void* ring : rings_) {
    auto* meta = static_cast<perf_event_mmap_page*>(ring);
    // The kernel publishes data_head after the records (read with acquire) and reads data_tail
    // before it overwrites (stored with release): the records are not read, only released.
    const std::uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
    const std::uint64_t tail = __atomic_load_n(&meta->data_tail, __ATOMIC_RELAXED);
    // All records are 8-byte samples but for a PERF_RECORD_LOST after a full ring: an
    // estimate then, never used for the bound (which rests on the kernel's own wake count).
    const std::uint64_t records = (head - tail) / kRecordBytes;
    drained.faults += records;
    drained.most_on_one_cpu = std::max(drained.most_on_one_cpu, records);
    __atomic_store_n(&meta->data_tail, head, __ATOMIC_RELEASE);
  }
  return drained;
}

std::string FaultWatch::describe() const {
  return std::string("page faults (") +
         (counts_kernel_mode_ ? "user and kernel mode" : "user mode only") + ") on " +
         std::to_string(fds_.size()) + " CPUs wake it within " +
         std::to_string(wake_within_bytes_ >> 20) + " MiB of growth (" +
         std::to_string(wake_faults_per_cpu_) + " faults a CPU x " +
         std::to_string(fault_bytes_ >> 10) + " KiB)";
}

}  // namespace qsc::agent
