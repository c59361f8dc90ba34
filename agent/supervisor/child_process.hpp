// Running a piece of this program in a forked child with a deadline: how plugin actions (and the
// supervisor's notify) run, so that one that crashes or hangs cannot take the caller with it.
#pragma once

#include <functional>
#include <string>

namespace qsc::agent {

/// How a child run ended.
struct ChildRun {
  bool started = false;
  bool timed_out = false;  ///< killed (SIGKILL, its process group) at the deadline
  int exit_code = -1;      ///< when it exited by itself
  int signal = 0;          ///< the signal that ended it (SIGKILL after a timeout)
  std::string output;      ///< what the function returned (complete only when exit_code is 0)
  std::string error;       ///< why it could not be started
  double duration_ms = 0.0;

  bool succeeded() const noexcept { return started && !timed_out && signal == 0 && exit_code == 0; }
};

/// Forks; the child runs `body` and sends back what it returns, then exits 0 (an exception in
/// `body` exits 3). The caller waits at most `timeout_ms`, calling `while_waiting` about every
/// 100 ms (the worker beats its heartbeat there); a child still running then is killed with its
/// process group. Call only from a single-threaded process (fork without exec).
ChildRun run_in_child(const std::function<std::string()>& body, long timeout_ms,
                      const std::function<void()>& while_waiting = {});

/// "crashed (SIGSEGV)", "hung: killed after 3000 ms", "exited 3", "could not start: ...".
std::string describe_failure(const ChildRun& run);

}  // namespace qsc::agent
