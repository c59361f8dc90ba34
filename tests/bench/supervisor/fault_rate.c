// How fast one thread can grow its resident set, three rounds of a fresh 512 MiB anonymous
// mapping each, printed in MiB/s. The supervisor spaces its resident-set rounds by the fastest
// growth by page faults (agent/supervisor/supervisor.cpp, kFastestGrowthBytesPerSecond) and
// states how far growth its page-fault watch does not see can overshoot (fault_watch.hpp);
// docs/PERFORMANCE.md, "Session 14: the supervisor's idle cost" and "Session 16: the
// supervisor's memory watch (sup16)". Modes:
//   (none)         touch every 4 KiB page (a user-mode fault each)
//   huge           madvise(MADV_HUGEPAGE) first (THP in `madvise` mode), then touch
//   populate       mmap(MAP_POPULATE): no fault at all
//   populate-huge  madvise(MADV_HUGEPAGE) then madvise(MADV_POPULATE_WRITE): no fault at all
//   read           read(2) /dev/zero into the fresh mapping: faults taken in kernel mode
// A second argument "watched" runs the growth in a child watched as the supervisor watches its
// worker (a page-fault event per CPU, inherit, sample_period 1, wakeup_events 64, rings emptied
// at each wake): the cost of the watch to the process that grows. Not built by CMake:
//   gcc -O2 -Wall -Wextra -Werror -o fault_rate tests/bench/supervisor/fault_rate.c
//   for m in touch huge populate populate-huge read; do ./fault_rate $m; done
//   ./fault_rate touch watched && ./fault_rate huge watched
#define _GNU_SOURCE
#include <linux/perf_event.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int grow(const char* mode) {
  const size_t bytes = (size_t)512 << 20;
  for (int round = 0; round < 3; ++round) {
    const int populate = strcmp(mode, "populate") == 0;
    const double a = now_s();
    char* p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0), -1, 0);
    if (p == MAP_FAILED) return 1;
    if (strcmp(mode, "huge") == 0 || strcmp(mode, "populate-huge") == 0) {
      madvise(p, bytes, MADV_HUGEPAGE);
    }
    if (strcmp(mode, "populate-huge") == 0) {
      if (madvise(p, bytes, MADV_POPULATE_WRITE) != 0) return 1;
    } else if (strcmp(mode, "read") == 0) {
      const int fd = open("/dev/zero", O_RDONLY);
      size_t done = 0;
      while (done < bytes) {
        const ssize_t n = read(fd, p + done, bytes - done);
        if (n <= 0) return 1;
        done += (size_t)n;
      }
      close(fd);
    } else if (!populate) {
      for (size_t i = 0; i < bytes; i += 4096) p[i] = 1;
    }
    const double seconds = now_s() - a;
    printf("%s: %.0f MiB/s\n", mode, (double)(bytes >> 20) / seconds);
    fflush(stdout);
    munmap(p, bytes);
  }
  return 0;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "touch";
  if (argc <= 2 || strcmp(argv[2], "watched") != 0) return grow(mode);
  int go[2];
  if (pipe(go) != 0) return 1;
  const pid_t child = fork();
  if (child == 0) {
    char c;
    close(go[1]);
    if (read(go[0], &c, 1) != 0) _exit(1);
    _exit(grow(mode));
  }
  close(go[0]);
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  struct pollfd polls[256];
  void* rings[256];
  const size_t ring_bytes = 2 * 4096;
  int n = 0;
  for (long cpu = 0; cpu < cpus && n < 256; ++cpu) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_PAGE_FAULTS;
    attr.sample_period = 1;
    attr.wakeup_events = 64;
    attr.inherit = 1;
    attr.exclude_hv = 1;
    const int fd = (int)syscall(SYS_perf_event_open, &attr, child, (int)cpu, -1, 0);
    if (fd < 0) return 1;
    rings[n] = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (rings[n] == MAP_FAILED) return 1;
    polls[n].fd = fd;
    polls[n].events = POLLIN;
    ++n;
  }
  close(go[1]);
  long wakes = 0;
  for (;;) {
    int status;
    if (waitpid(child, &status, WNOHANG) == child) {
      printf("watched: %ld wakes\n", wakes);
      return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    }
    if (poll(polls, (nfds_t)n, 100) > 0) ++wakes;
    for (int i = 0; i < n; ++i) {
      struct perf_event_mmap_page* meta = rings[i];
      const uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
      __atomic_store_n(&meta->data_tail, head, __ATOMIC_RELEASE);
    }
  }
}
