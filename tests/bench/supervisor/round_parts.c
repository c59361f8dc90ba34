// What the parts of one supervisor round cost, each in a loop of its own: pread of a live
// child's /proc/PID/statm, waitpid(WNOHANG), clock_gettime, and the CPU of one 20 ms sleep and
// its wake-up (getrusage: the scheduler's nanosecond count). docs/PERFORMANCE.md, "Session 14:
// the supervisor's idle cost". Not built by CMake:
//   gcc -O2 -Wall -Wextra -Werror -o round_parts tests/bench/supervisor/round_parts.c
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double cpu_us(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 +
         (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

int main(void) {
  const pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/statm", (int)child);
  const int fd = open(path, O_RDONLY);
  if (fd < 0) return 1;
  char buf[128];
  const int calls = 200000;
  const double t0 = cpu_us();
  for (int i = 0; i < calls; ++i)
    if (pread(fd, buf, sizeof buf, 0) <= 0) abort();
  const double t1 = cpu_us();
  int status = 0;
  for (int i = 0; i < calls; ++i) waitpid(child, &status, WNOHANG);
  const double t2 = cpu_us();
  struct timespec now;
  for (int i = 0; i < calls; ++i) clock_gettime(CLOCK_MONOTONIC, &now);
  const double t3 = cpu_us();
  const struct timespec period = {0, 20000000};
  const int sleeps = 250;
  for (int i = 0; i < sleeps; ++i) nanosleep(&period, NULL);
  const double t4 = cpu_us();
  printf(
      "pread statm %.2f us, waitpid WNOHANG %.2f us, clock_gettime %.3f us, "
      "20 ms sleep and wake-up %.1f us of CPU\n",
      (t1 - t0) / calls, (t2 - t1) / calls, (t3 - t2) / calls, (t4 - t3) / sleeps);
  kill(child, SIGKILL);
  return 0;
}
