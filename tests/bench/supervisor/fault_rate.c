// How fast one thread can grow its resident set: touches every 4 KiB page of a fresh 512 MiB
// anonymous mapping, three times, and prints MiB/s. "huge": madvise(MADV_HUGEPAGE) first (THP
// in `madvise` mode). The supervisor spaces its resident-set rounds by the fastest of these
// (agent/supervisor/supervisor.cpp, kFastestGrowthBytesPerSecond; docs/PERFORMANCE.md,
// "Session 14: the supervisor's idle cost"). Not built by CMake:
//   gcc -O2 -Wall -Wextra -Werror -o fault_rate tests/bench/supervisor/fault_rate.c
//   ./fault_rate && ./fault_rate huge
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

int main(int argc, char** argv) {
  const size_t bytes = (size_t)512 << 20;
  const int huge = argc > 1 && strcmp(argv[1], "huge") == 0;
  for (int round = 0; round < 3; ++round) {
    char* p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 1;
    if (huge) madvise(p, bytes, MADV_HUGEPAGE);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (size_t i = 0; i < bytes; i += 4096) p[i] = 1;
    clock_gettime(CLOCK_MONOTONIC, &b);
    const double seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("%s: %.0f MiB/s\n", huge ? "MADV_HUGEPAGE" : "4 KiB pages",
           (double)(bytes >> 20) / seconds);
    munmap(p, bytes);
  }
  return 0;
}
