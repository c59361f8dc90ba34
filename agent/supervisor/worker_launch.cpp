// Worker launch.
#include "supervisor/worker_launch.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <string_view>

#include "supervisor/heartbeat_block.hpp"
#include "supervisor/memory_limit.hpp"

namespace qsc::agent {

Result<std::vector<std::string>> own_command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.empty()) return Error{"cannot read /proc/self/cmdline to start the monitor's worker"};
  std::vector<std::string> argv;
  std::string current;
  for (const char c : text) {
    if (c == '\0') {
      argv.push_back(std::move(current));
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  if (!current.empty()) argv.push_back(std::move(current));
  return argv;
}

Result<pid_t> launch_worker(const std::vector<std::string>& argv, int heartbeat_fd,
                            std::uint64_t max_rss_bytes,
                            const std::function<void(pid_t)>& before_exec) {
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<std::string> args = argv;
  std::vector<char*> raw;
  for (auto& a : args) raw.push_back(a.data());
  raw.push_back(nullptr);
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (entry.starts_with("WATCHDOG_USEC=") || entry.starts_with("WATCHDOG_PID=") ||
        entry.starts_with(std::string(kHeartbeatFdEnv) + "=")) {
      continue;
    }
    env.emplace_back(entry);
  }
  env.push_back(std::string(kHeartbeatFdEnv) + "=" + std::to_string(heartbeat_fd));
  std::vector<char*> raw_env;
  for (auto& e : env) raw_env.push_back(e.data());
  raw_env.push_back(nullptr);
  // The child waits at this pipe's end-of-file until before_exec has run: the page-fault watch
  // (fault_watch.hpp) counts a thread only from its start on, so it is opened while the child
  // is still the one thread fork left it.
  int go[2];
  if (::pipe2(go, O_CLOEXEC) != 0)
    return Error{std::string("cannot start the monitor's worker: pipe: ") + std::strerror(errno)};
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int fork_errno = errno;
    ::close(go[0]);
    ::close(go[1]);
    return Error{std::string("cannot start the monitor's worker: fork: ") +
                 std::strerror(fork_errno)};
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::close(go[1]);
    char byte = 0;
    ssize_t got = 0;
    do {
      got = ::read(go[0], &byte, 1);
    } while (got < 0 && errno == EINTR);
    if (got != 0) ::_exit(127);  // only the parent's close releases it
    const int flags = ::fcntl(heartbeat_fd, F_GETFD);
    if (flags < 0 || ::fcntl(heartbeat_fd, F_SETFD, flags & ~FD_CLOEXEC) != 0) ::_exit(127);
    apply_address_space_limit(max_rss_bytes);
    ::execve("/proc/self/exe", raw.data(), raw_env.data());
    ::_exit(127);
  }
  ::close(go[0]);
  if (before_exec) before_exec(pid);
  ::close(go[1]);
  return pid;
}

}  // namespace qsc::agent
