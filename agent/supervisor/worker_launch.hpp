// Starting the monitor's worker: this same program (/proc/self/exe) with the command line it
// was given plus the hidden `--worker` flag, the heartbeat block's fd inherited (its number in
// QSC_SUPERVISOR_FD), the memory limit applied, and death with the supervisor (a supervisor
// killed by anything takes its worker along, so no orphan judges a canary unsupervised).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "qsc/result.hpp"

namespace qsc::agent {

/// The hidden flag that makes `qsc monitor` the worker.
inline constexpr const char* kWorkerFlag = "--worker";

/// This process's command line (from /proc/self/cmdline).
Result<std::vector<std::string>> own_command_line();

/// Forks and execs /proc/self/exe with `argv` (argv[0] included). The child keeps
/// `heartbeat_fd` open across exec, drops the systemd watchdog variables (the supervisor feeds
/// the watchdog) and caps its address space at `max_rss_bytes` (see memory_limit.hpp).
/// `before_exec` (if set) runs in the parent with the child's pid while the child waits, one
/// thread, before its exec.
Result<pid_t> launch_worker(const std::vector<std::string>& argv, int heartbeat_fd,
                            std::uint64_t max_rss_bytes,
                            const std::function<void(pid_t)>& before_exec = {});

}  // namespace qsc::agent
