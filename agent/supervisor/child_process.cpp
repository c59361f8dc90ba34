// Fork, run, collect through a pipe, kill at the deadline.
#include "supervisor/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace qsc::agent {
namespace {

using Clock = std::chrono::steady_clock;

// An outcome is a few kilobytes; more is a broken child, cut so it cannot exhaust memory.
constexpr std::size_t kMaxChildOutputBytes = 1 << 20;

void write_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const auto n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace

ChildRun run_in_child(const std::function<std::string()>& body, long timeout_ms,
                      const std::function<void()>& while_waiting) {
  ChildRun run;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    run.error = std::string("pipe: ") + std::strerror(errno);
    return run;
  }
  const auto started = Clock::now();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    run.error = std::string("fork: ") + std::strerror(errno);
    ::close(fds[0]);
    ::close(fds[1]);
    return run;
  }
  if (pid == 0) {
    ::close(fds[0]);
    // Its own process group, so a timeout kills what it started too; and it dies with its
    // parent, so a killed worker leaves no action running behind the supervisor's rollback.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(4);
    int code = 0;
    try {
      write_all(fds[1], body());
    } catch (...) {
      code = 3;
    }
    ::close(fds[1]);
    ::_exit(code);
  }
  ::setpgid(pid, pid);  // also from here, so the group exists before any kill below
  ::close(fds[1]);
  run.started = true;
  const auto deadline = started + std::chrono::milliseconds(timeout_ms);
  bool open = true;
  char buf[4096];
  while (open) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      run.timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 100)));
    if (while_waiting) while_waiting();
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    const auto n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      open = false;
    } else if (run.output.size() < kMaxChildOutputBytes) {
      run.output.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fds[0]);
  if (run.timed_out) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
  }
  // The pipe closed: the child is exiting (or closed it and hangs: bounded by the deadline).
  int status = 0;
  for (;;) {
    const pid_t got = ::waitpid(pid, &status, run.timed_out ? 0 : WNOHANG);
    if (got == pid) break;
    if (got < 0 && errno != EINTR) break;
    if (got == 0) {
      if (Clock::now() >= deadline) {
        run.timed_out = true;
        ::kill(-pid, SIGKILL);
        ::kill(pid, SIGKILL);
        continue;
      }
      if (while_waiting) while_waiting();
      ::usleep(10'000);
    }
  }
  if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) run.signal = WTERMSIG(status);
  run.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  return run;
}

std::string describe_failure(const ChildRun& run) {
  if (!run.started) return "could not start: " + run.error;
  if (run.timed_out) {
    return "hung: killed after " + std::to_string(static_cast<long>(run.duration_ms)) + " ms";
  }
  if (run.signal != 0) {
    const char* name = ::sigabbrev_np(run.signal);
    return "crashed (" +
           (name ? "SIG" + std::string(name) : "signal " + std::to_string(run.signal)) + ")";
  }
  if (run.exit_code == 3) return "threw an exception outside the plugin boundary";
  return "exited " + std::to_string(run.exit_code) + " without an outcome";
}

}  // namespace qsc::agent
