// Whether this machine lets a process count another's page faults (perf_event_open of
// PERF_COUNT_SW_PAGE_FAULTS, as the supervisor's memory watch opens it). Where the kernel or a
// seccomp filter refuses it (perf_event_paranoid 3 on Debian's kernels for an unprivileged user,
// a container's default filter), the supervisor falls back to its rounds, and the tests of the
// watch itself skip, naming the refusal: the fallback has tests of its own that run everywhere.
#pragma once

#include <linux/perf_event.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

namespace qsc::test {

/// nullopt when page faults can be counted here; else why not (errno's text).
inline std::optional<std::string> page_fault_counting_refused() {
  perf_event_attr attr{};
  attr.type = PERF_TYPE_SOFTWARE;
  attr.size = sizeof attr;
  attr.config = PERF_COUNT_SW_PAGE_FAULTS;
  attr.exclude_kernel = 1;  // what paranoid 2 allows; the watch asks for no more than this
  attr.exclude_hv = 1;
  const long fd = ::syscall(SYS_perf_event_open, &attr, ::getpid(), 0, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) {
    return std::string("perf_event_open(PERF_COUNT_SW_PAGE_FAULTS) refused: ") +
           std::strerror(errno);
  }
  // The watch maps a ring per CPU (locked memory, refused past RLIMIT_MEMLOCK when unprivileged).
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  void* ring =
      ::mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, static_cast<int>(fd), 0);
  const int mmap_errno = errno;
  ::close(static_cast<int>(fd));
  if (ring == MAP_FAILED) {
    return std::string("mmap of a page-fault event's ring refused: ") + std::strerror(mmap_errno);
  }
  ::munmap(ring, 2 * page);
  return std::nullopt;
}

}  // namespace qsc::test

/// Skips the test, naming the refusal, where page faults cannot be counted here.
#define QSC_SKIP_WITHOUT_PAGE_FAULT_COUNTING()                                              \
  if (const auto refused = ::qsc::test::page_fault_counting_refused())                      \
  GTEST_SKIP() << *refused                                                                  \
               << ": the supervisor falls back to its resident-set rounds on this machine " \
                  "(MemoryWatch.WithoutThePageFaultWatchTheRoundsStillKillAPluginPastMaxRss)"
