// Programs run with posix_spawn: no shell ever parses an argument, and the child gets its own
// process group so that a timeout kills whatever it started too (a script's `sleep`, say).
#include "qsc/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace qsc {
namespace {

using Clock = std::chrono::steady_clock;

// After the child exited, output may still be held open by a grandchild it left behind; wait
// this long for the pipe to close, then stop reading.
constexpr auto kDrainAfterExit = std::chrono::milliseconds(200);
// Upper bound of one poll(2), so that the child's exit is noticed promptly.
constexpr int kPollSliceMs = 20;

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

/// Owns a file descriptor so that every early return closes it.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const noexcept { return fd_; }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

/// Blocks SIGPIPE in this thread while writing to the child's stdin (a child that exits without
/// reading must give EPIPE, not kill the host) and discards a SIGPIPE raised meanwhile.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    already_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask_);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;
  ~SigpipeGuard() {
    if (!already_pending_) {
      sigset_t pipe_set;
      sigemptyset(&pipe_set);
      sigaddset(&pipe_set, SIGPIPE);
      const timespec zero{0, 0};
      while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }

 private:
  sigset_t old_mask_{};
  bool already_pending_ = false;
};

void append_capped(std::string& out, bool& truncated, const char* data, std::size_t n) {
  const std::size_t room = kMaxOutputBytes > out.size() ? kMaxOutputBytes - out.size() : 0;
  if (n > room) truncated = true;
  out.append(data, std::min(n, room));
}

/// Reads what is available without blocking; returns false once the pipe is closed.
bool drain(int fd, std::string& out, bool& truncated) {
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      append_capped(out, truncated, buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

void record_status(ProcessResult& result, int status) {
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
}

/// The spawn attributes: own process group, clean signal mask and default dispositions (a host
/// that ignores SIGPIPE or SIGCHLD must not pass that on to systemctl or a notifier).
struct SpawnAttr {
  posix_spawnattr_t attr{};
  SpawnAttr() {
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t empty;
    sigemptyset(&empty);
    posix_spawnattr_setsigmask(&attr, &empty);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int s : {SIGPIPE, SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2}) {
      sigaddset(&defaults, s);
    }
    posix_spawnattr_setsigdefault(&attr, &defaults);
  }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;
  ~SpawnAttr() { posix_spawnattr_destroy(&attr); }
};

struct FileActions {
  posix_spawn_file_actions_t actions{};
  FileActions(int stdin_fd, int output_fd) {
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, stdin_fd, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, output_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, output_fd, STDERR_FILENO);
    // The host's other descriptors (sockets, the audit log, the lock) are none of the child's
    // business, whether or not they were opened with O_CLOEXEC.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  ~FileActions() { posix_spawn_file_actions_destroy(&actions); }
};

/// Replaces every byte that is not part of a well-formed UTF-8 sequence with '?': the output ends
/// up in JSON (audit log, notifications), which must be valid UTF-8, and a program may print
/// anything (or be cut mid-character at the output cap).
std::string valid_utf8(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    std::size_t len = 0;
    unsigned min = 0;
    if (c < 0x80) {
      len = 1;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      min = 0x10000;
    }
    bool ok = len > 0 && i + len <= n;
    unsigned code = len == 1 ? c : (c & (0xFF >> (len + 1)));
    for (std::size_t k = 1; ok && k < len; ++k) {
      ok = (p[i + k] & 0xC0) == 0x80;
      code = (code << 6) | (p[i + k] & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not valid either.
    if (ok && len > 1 && (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))) {
      ok = false;
    }
    if (ok) {
      out.append(in, i, len);
      i += len;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

std::string one_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  std::string out;
  for (char c : text) {
    if (c == '\n') {
      out += " | ";
    } else if (c != '\r') {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string find_program(const std::string& name) {
  if (name.empty()) return {};
  if (name.find('/') != std::string::npos) return is_executable_file(name) ? name : std::string();
  const char* path_env = std::getenv("PATH");
  const std::string path = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
  std::size_t begin = 0;
  for (;;) {
    const std::size_t end = path.find(':', begin);
    std::string dir =
        path.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + name;
    if (is_executable_file(candidate)) return candidate;
    if (end == std::string::npos) return {};
    begin = end + 1;
  }
}

ProcessResult run_program(const std::vector<std::string>& argv, const std::string& stdin_data,
                          long timeout_ms) {
  ProcessResult result;
  result.timeout_ms = timeout_ms;
  const auto start = Clock::now();
  auto finish = [&]() -> ProcessResult {
    result.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    return result;
  };
  if (argv.empty()) {
    result.error = "empty argument vector";
    return finish();
  }
  const std::string program = find_program(argv[0]);
  if (program.empty()) {
    result.error = argv[0] + ": no executable file of that name" +
                   (argv[0].find('/') == std::string::npos ? " on PATH" : "");
    return finish();
  }

  int in_pipe[2];
  int out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) {
    result.error = std::string("pipe: ") + std::strerror(errno);
    return finish();
  }
  Fd in_read(in_pipe[0]);
  Fd in_write(in_pipe[1]);
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    result.error = std::string("pipe: ") + std::strerror(errno);
    return finish();
  }
  Fd out_read(out_pipe[0]);
  Fd out_write(out_pipe[1]);

  std::vector<char*> c_argv;
  c_argv.reserve(argv.size() + 1);
  for (const auto& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);

  SigpipeGuard sigpipe_guard;
  pid_t pid = -1;
  {
    SpawnAttr attr;
    FileActions actions(in_read.get(), out_write.get());
    const int rc =
        ::posix_spawn(&pid, program.c_str(), &actions.actions, &attr.attr, c_argv.data(), environ);
    if (rc != 0) {
      result.error = program + ": " + std::strerror(rc);
      return finish();
    }
  }
  result.started = true;
  in_read.reset();
  out_write.reset();
  ::fcntl(in_write.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(out_read.get(), F_SETFL, O_NONBLOCK);

  const auto deadline = start + std::chrono::milliseconds(std::max(0L, timeout_ms));
  std::size_t written = 0;
  bool input_open = true;
  if (stdin_data.empty()) {
    in_write.reset();
    input_open = false;
  }
  bool output_open = true;
  bool truncated = false;
  bool exited = false;
  Clock::time_point exited_at{};
  int status = 0;

  for (;;) {
    const auto now = Clock::now();
    if (!exited) {
      const pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) {
        exited = true;
        exited_at = now;
        record_status(result, status);
      } else if (r < 0 && errno == ECHILD) {
        // Someone else reaped it (a host that ignores SIGCHLD): the status is lost.
        exited = true;
        exited_at = now;
        result.error = "exit status unavailable (child reaped elsewhere)";
      }
    }
    if (exited && (!output_open || now - exited_at >= kDrainAfterExit)) break;
    if (!exited && now >= deadline) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      if (output_open) drain(out_read.get(), result.output, truncated);
      break;
    }

    pollfd fds[2];
    nfds_t count = 0;
    int out_index = -1;
    int in_index = -1;
    if (output_open) {
      out_index = static_cast<int>(count);
      fds[count++] = pollfd{out_read.get(), POLLIN, 0};
    }
    if (input_open) {
      in_index = static_cast<int>(count);
      fds[count++] = pollfd{in_write.get(), POLLOUT, 0};
    }
    const auto left_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    const int wait_ms = static_cast<int>(std::clamp<long long>(left_ms, 1, kPollSliceMs));
    if (count == 0) {
      ::usleep(static_cast<useconds_t>(wait_ms) * 1000);
      continue;
    }
    const int ready = ::poll(fds, count, wait_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      result.error = std::string("poll: ") + std::strerror(errno);
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      if (!exited) ::waitpid(pid, &status, 0);
      break;
    }
    if (out_index >= 0 && fds[out_index].revents != 0) {
      output_open = drain(out_read.get(), result.output, truncated);
    }
    if (in_index >= 0 && fds[in_index].revents != 0) {
      const ssize_t n =
          ::write(in_write.get(), stdin_data.data() + written, stdin_data.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
      // EPIPE: the program does not read its input, which is its business, not a failure.
      const bool broken = n < 0 && errno != EAGAIN && errno != EINTR;
      if (broken || written == stdin_data.size()) {
        in_write.reset();
        input_open = false;
      }
    }
  }
  result.output = valid_utf8(result.output);
  if (truncated) result.output += "\n[output truncated]";
  return finish();
}

std::string describe(const ProcessResult& result) {
  std::string text;
  if (!result.started) {
    text = "could not start: " + result.error;
  } else if (result.timed_out) {
    text = "timed out after " + std::to_string(result.timeout_ms) + " ms (killed)";
  } else if (result.signal != 0) {
    text = "killed by signal " + std::to_string(result.signal);
  } else if (!result.error.empty()) {
    text = result.error;
  } else {
    text = "exit " + std::to_string(result.exit_code);
  }
  const std::string output = one_line(result.output);
  if (!output.empty()) text += ", output: \"" + output + "\"";
  return text;
}

std::string join_argv(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

}  // namespace qsc
