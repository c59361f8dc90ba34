// Running a program with an argument vector (never a shell), capturing its output, with a
// timeout after which it is killed.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "qsc/result.hpp"

namespace qsc::agent {

/// How a program ended.
struct ProcessResult {
  int exit_code = -1;  ///< the exit status; -1 when killed by a signal or timed out
  bool timed_out = false;
  std::string output;  ///< stdout and stderr interleaved, capped at 64 KiB
};

/// Runs argv[0] (looked up on PATH when it has no slash) with `input` on its stdin. An error
/// only when it could not be started at all (the message names the program).
Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                  std::chrono::milliseconds timeout, const std::string& input = "");

}  // namespace qsc::agent
