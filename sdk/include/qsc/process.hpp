// Running a program with an argument vector (never through a shell), its output captured and a
// hard timeout: systemctl for the systemd action and the agent, exec for the notify action.
#pragma once

#include <string>
#include <vector>

namespace qsc {

/// How one run ended.
struct ProcessResult {
  bool started = false;    ///< false: the program could not be started (see `error`)
  bool timed_out = false;  ///< killed (with its process group) at the timeout
  int exit_code = -1;      ///< the exit status when it exited normally, else -1
  int signal = 0;          ///< the signal that ended it, else 0
  std::string output;      ///< stdout and stderr interleaved, capped (see kMaxOutputBytes)
  std::string error;       ///< why it could not be started or watched
  double duration_ms = 0.0;
  long timeout_ms = 0;  ///< the timeout it ran under

  /// True when it started, exited by itself and returned 0.
  bool succeeded() const noexcept { return started && !timed_out && signal == 0 && exit_code == 0; }
};

/// The most output kept from one run; the rest is dropped and noted, so a chatty program cannot
/// exhaust memory or flood the audit log.
inline constexpr std::size_t kMaxOutputBytes = 16 * 1024;

/// Runs argv[0] (an absolute or relative path, or a name looked up on PATH) with `argv`, writes
/// `stdin_data` to its standard input and closes it, captures stdout and stderr together, and
/// kills the program's whole process group when it has not exited after `timeout_ms`.
ProcessResult run_program(const std::vector<std::string>& argv, const std::string& stdin_data,
                          long timeout_ms);

/// Resolves a program name as execvp would: a name with a '/' is taken as is, else each PATH
/// entry is tried. Returns an empty string when nothing executable is found.
std::string find_program(const std::string& name);

/// One line describing the result for an outcome's detail: "exit 0", "exit 3: <output>",
/// "timed out after 500 ms (killed): <output>", "could not start: ...".
std::string describe(const ProcessResult& result);

/// `argv` joined with spaces, for messages (arguments are not shell-quoted: never run this).
std::string join_argv(const std::vector<std::string>& argv);

}  // namespace qsc
