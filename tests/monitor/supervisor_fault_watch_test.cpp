// The supervisor's page-fault watch (agent/supervisor/fault_watch.hpp) on a real child process:
// it wakes (POLLIN) when the child's threads fault pages in, stays quiet while the child faults
// nothing, sees a system call's kernel-mode faults exactly where the kernel lets it count them,
// and reports the child's exit as POLLHUP. Bounded waits (30 s) only stop a broken watch from
// hanging the test; no wait decides an outcome.
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "page_fault_counting.hpp"
#include "supervisor/fault_watch.hpp"

namespace qsc::agent {
namespace {

constexpr std::size_t kGrownBytes = 16u << 20;  // 4,096 faults in 4 KiB pages
constexpr int kGiveUpAfterMs = 30'000;

enum class Growth { kThreadsTouch, kKernelModeRead, kNone };

// A child that waits for `go` to close, grows as asked, then waits for `done` to close.
class GrowingChild {
 public:
  explicit GrowingChild(Growth growth) {
    if (::pipe2(go_, O_CLOEXEC) != 0 || ::pipe2(done_, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ != 0) {
      ::close(go_[0]);
      ::close(done_[0]);
      return;
    }
    ::close(go_[1]);
    ::close(done_[1]);
    char byte;
    if (::read(go_[0], &byte, 1) != 0) ::_exit(1);
    if (growth == Growth::kThreadsTouch) {
      // Two threads started after the watch opened: inherited events count them.
      std::thread a(touch), b(touch);
      a.join();
      b.join();
    } else if (growth == Growth::kKernelModeRead) {
      auto* block = static_cast<char*>(
          ::mmap(nullptr, kGrownBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
      const int zero = ::open("/dev/zero", O_RDONLY);
      std::size_t done = 0;
      while (done < kGrownBytes) {
        const ssize_t n = ::read(zero, block + done, kGrownBytes - done);
        if (n <= 0) ::_exit(1);
        done += static_cast<std::size_t>(n);
      }
    }
    if (::read(done_[0], &byte, 1) != 0) ::_exit(1);
    ::_exit(0);
  }
  ~GrowingChild() {
    if (pid_ <= 0) return;
    finish();
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  pid_t pid() const { return pid_; }
  void start() { close_once(go_[1]); }
  void finish() {
    start();
    close_once(done_[1]);
  }

 private:
  static void touch() {
    auto* block = static_cast<char*>(
        ::mmap(nullptr, kGrownBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (block == MAP_FAILED) ::_exit(1);
    for (std::size_t i = 0; i < kGrownBytes; i += 4096) block[i] = 1;
  }
  static void close_once(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int go_[2] = {-1, -1};
  int done_[2] = {-1, -1};
  pid_t pid_ = -1;
};

// Polls the watch's fds once for up to `timeout_ms`; the revents of all of them, or-ed.
short poll_watch(const FaultWatch& watch, int timeout_ms) {
  std::vector<pollfd> polls;
  for (const int fd : watch.fds()) polls.push_back({fd, POLLIN, 0});
  if (::poll(polls.data(), polls.size(), timeout_ms) <= 0) return 0;
  short all = 0;
  for (const auto& p : polls) all = static_cast<short>(all | p.revents);
  return all;
}

// Wakes within 64 faults of growth (largest_fault_bytes each): a few dozen a CPU.
std::uint64_t small_wake_bytes() {
  return 64 * largest_fault_bytes();
}

TEST(FaultWatch, ThreadsFaultingPagesInWakeIt) {
  QSC_SKIP_WITHOUT_PAGE_FAULT_COUNTING();
  GrowingChild child(Growth::kThreadsTouch);
  ASSERT_GT(child.pid(), 0);
  auto watch = FaultWatch::open(child.pid(), small_wake_bytes());
  ASSERT_TRUE(watch) << watch.error().message;
  EXPECT_GE(watch->wake_faults_per_cpu(), 1u);
  EXPECT_LE(watch->wake_within_bytes(), small_wake_bytes());
  // Before it is let go the child faults only a few copy-on-write pages (its stack) at most.
  EXPECT_LT(watch->drain().most_on_one_cpu, watch->wake_faults_per_cpu());
  child.start();
  const short revents = poll_watch(*watch, kGiveUpAfterMs);
  EXPECT_TRUE(revents & POLLIN) << "revents " << revents;
  const auto drained = watch->drain();
  EXPECT_GE(drained.most_on_one_cpu, watch->wake_faults_per_cpu());
  std::cout << "[ measured ] " << watch->describe() << "; drained " << drained.faults
            << " faults at the wake\n";
}

TEST(FaultWatch, AProcessFaultingNothingDoesNotWakeItAndItsExitHangsUp) {
  QSC_SKIP_WITHOUT_PAGE_FAULT_COUNTING();
  GrowingChild child(Growth::kNone);
  ASSERT_GT(child.pid(), 0);
  auto watch = FaultWatch::open(child.pid(), small_wake_bytes());
  ASSERT_TRUE(watch) << watch.error().message;
  // The child stays blocked in read(2): no fault, so no wake in 300 ms (a wake from nothing
  // would cost the supervisor a round each time).
  EXPECT_EQ(poll_watch(*watch, 300) & POLLIN, 0);
  child.finish();
  // Its way out may fault: the first touches since the fork of the pages it runs on are
  // copy-on-write faults (under AddressSanitizer its shadow pages too, enough to wake the watch:
  // CI's sanitizer run saw POLLIN alone). Those wakes are drained; the hang-up must follow.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(kGiveUpAfterMs);
  short revents = 0;
  while (!(revents & POLLHUP) && std::chrono::steady_clock::now() < give_up) {
    revents = poll_watch(*watch, kGiveUpAfterMs);
    if (revents & POLLIN) watch->drain();
  }
  EXPECT_TRUE(revents & POLLHUP) << "revents " << revents;
}

// read(2) into fresh pages faults them in kernel mode: counted only where the kernel lets the
// supervisor count kernel-mode events (root, CAP_PERFMON, perf_event_paranoid <= 1); elsewhere
// this is growth the watch does not see, and the backstop round bounds it (fault_watch.hpp).
TEST(FaultWatch, KernelModeFaultsWakeItOnlyWhereTheyAreCounted) {
  QSC_SKIP_WITHOUT_PAGE_FAULT_COUNTING();
  GrowingChild child(Growth::kKernelModeRead);
  ASSERT_GT(child.pid(), 0);
  auto watch = FaultWatch::open(child.pid(), small_wake_bytes());
  ASSERT_TRUE(watch) << watch.error().message;
  child.start();
  if (watch->counts_kernel_mode()) {
    EXPECT_TRUE(poll_watch(*watch, kGiveUpAfterMs) & POLLIN);
  } else {
    // The read is over once the child waits at `done`; a few faults of its own code at most.
    EXPECT_EQ(poll_watch(*watch, 1'000) & POLLIN, 0);
    EXPECT_LT(watch->drain().faults, 4096u);
  }
}

TEST(FaultWatch, AProcessThatIsGoneCannotBeWatched) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  const auto watch = FaultWatch::open(child, small_wake_bytes());
  ASSERT_FALSE(watch);
  EXPECT_NE(watch.error().message.find("perf_event_open"), std::string::npos)
      << watch.error().message;
}

}  // namespace
}  // namespace qsc::agent
