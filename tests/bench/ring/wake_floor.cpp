// wake_floor: what one cross-process futex wake-up per event costs on this machine, with nothing
// else done. A producer process publishes at a fixed rate (absolute-deadline sleeps) and, per
// event, bumps a shared word and calls FUTEX_WAKE; a consumer process sleeps in FUTEX_WAIT on
// that word and, woken, does nothing but count. Both processes' CPU (user + system, from
// getrusage) over the run, as a percentage of one core.
//
// This is the floor under the supervised monitor's CPU at a given rate with `shm_wait: block`:
// the monitor's worker is woken the same way (ipc/src/ring_producer.cpp, ring_consumer.cpp) and
// then does its work. When the floor alone is above a CPU target, no evaluation speed-up can
// meet that target while waking once per event (docs/PERFORMANCE.md).
//
//   wake_floor [--rate EPS] [--seconds S]      defaults 1000 events/s, 10 s
// Prints one JSON object.
#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <new>
#include <string>

namespace {

struct Shared {
  std::atomic<std::uint32_t> word{0};   // bumped per event: the futex the consumer waits on
  std::atomic<std::uint32_t> stop{0};   // set once the producer is done
  std::atomic<std::uint64_t> woken{0};  // the consumer's wake-ups
  std::atomic<std::uint32_t> ready{0};  // the consumer is waiting: the producer may start
};

long futex(std::atomic<std::uint32_t>& word, int op, std::uint32_t value) {
  // Not FUTEX_PRIVATE_FLAG: the word is in memory shared between two processes, as the ring's.
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), op, value, nullptr, nullptr,
                   0);
}

double cpu_seconds(const rusage& r) {
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

[[noreturn]] void consume(Shared& s) {
  s.ready.store(1, std::memory_order_release);
  std::uint32_t seen = s.word.load(std::memory_order_acquire);
  while (s.stop.load(std::memory_order_acquire) == 0) {
    futex(s.word, FUTEX_WAIT, seen);  // returns at once when the word already moved on
    const std::uint32_t now = s.word.load(std::memory_order_acquire);
    if (now != seen) s.woken.fetch_add(1, std::memory_order_relaxed);
    seen = now;
  }
  std::_Exit(0);
}

void add_ns(timespec& t, long ns) {
  t.tv_nsec += ns;
  while (t.tv_nsec >= 1000000000L) {
    t.tv_nsec -= 1000000000L;
    ++t.tv_sec;
  }
}

}  // namespace

int main(int argc, char** argv) {
  double rate_eps = 1000;
  double seconds = 10;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--rate" || a == "--seconds") && i + 1 < argc) {
      char* end = nullptr;
      const double v = std::strtod(argv[++i], &end);
      if (end == argv[i] || *end != '\0' || !(v > 0)) {
        std::fprintf(stderr, "wake_floor: %s needs a positive number, got '%s'\n", a.c_str(),
                     argv[i]);
        return 2;
      }
      (a == "--rate" ? rate_eps : seconds) = v;
    } else {
      std::fprintf(stderr, "usage: wake_floor [--rate EPS] [--seconds S]\n");
      return 2;
    }
  }
  void* mem =
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    std::perror("wake_floor: mmap");
    return 1;
  }
  auto* s = new (mem) Shared;
  const pid_t child = fork();
  if (child < 0) {
    std::perror("wake_floor: fork");
    return 1;
  }
  if (child == 0) consume(*s);
  while (s->ready.load(std::memory_order_acquire) == 0) sched_yield();

  const long period_ns = static_cast<long>(1e9 / rate_eps);
  const auto events = static_cast<std::uint64_t>(rate_eps * seconds);
  rusage self0{};
  getrusage(RUSAGE_SELF, &self0);
  timespec start{};
  clock_gettime(CLOCK_MONOTONIC, &start);
  timespec next = start;
  for (std::uint64_t i = 0; i < events; ++i) {
    add_ns(next, period_ns);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr) == EINTR) {
    }
    s->word.fetch_add(1, std::memory_order_release);  // release: the event before the word
    futex(s->word, FUTEX_WAKE, INT_MAX);
  }
  timespec end{};
  clock_gettime(CLOCK_MONOTONIC, &end);
  rusage self1{};
  getrusage(RUSAGE_SELF, &self1);
  s->stop.store(1, std::memory_order_release);
  s->word.fetch_add(1, std::memory_order_release);
  futex(s->word, FUTEX_WAKE, INT_MAX);
  int status = 0;
  rusage child_usage{};
  if (wait4(child, &status, 0, &child_usage) != child) {
    std::perror("wake_floor: wait4");
    return 1;
  }
  const double wall_s = static_cast<double>(end.tv_sec - start.tv_sec) +
                        static_cast<double>(end.tv_nsec - start.tv_nsec) / 1e9;
  // The consumer's CPU covers its whole life (a few ms of start-up and shut-down beside wall_s).
  const double consumer_pct = cpu_seconds(child_usage) / wall_s * 100;
  const double producer_pct = (cpu_seconds(self1) - cpu_seconds(self0)) / wall_s * 100;
  std::printf(
      "{\"rate_eps\": %.0f, \"events\": %llu, \"wall_s\": %.3f, \"consumer_wakeups\": %llu, "
      "\"consumer_cpu_pct_of_core\": %.3f, \"producer_cpu_pct_of_core\": %.3f, "
      "\"consumer_cpu_us_per_wakeup\": %.2f}\n",
      rate_eps, static_cast<unsigned long long>(events), wall_s,
      static_cast<unsigned long long>(s->woken.load()), consumer_pct, producer_pct,
      cpu_seconds(child_usage) * 1e6 / static_cast<double>(s->woken.load() ? s->woken.load() : 1));
  return 0;
}
