// The worker's memory limit (plugins.max_rss). Two layers:
//   - the supervisor reads the worker's resident set (/proc/PID/statm) at every round of its
//     watch (20-250 ms apart by the headroom: supervisor.cpp, kFastestGrowthBytesPerSecond), in
//     every build, and kills a worker past plugins.max_rss: the canary is rolled back as a
//     worker failure naming the plugin that was running;
//   - a backstop: RLIMIT_AS at kAddressSpaceBackstopFactor x plugins.max_rss, set in the worker
//     before it execs, for a plugin that asks for far more at once than the poll could watch
//     grow. An allocation refused by it inside a plugin call ends the worker as a worker failure
//     too (worker_heartbeat.hpp), never as a detector's verdict. Under the sanitizers (which
//     reserve terabytes of address space for their shadow) the rlimit would stop the worker from
//     starting, so sanitizer builds have the resident-set watch alone.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace qsc::agent {

/// Address space is not resident memory: thread stacks, the telemetry ring's mapping and
/// malloc's reserved arenas count in full whether touched or not. A cap at plugins.max_rss
/// itself would refuse allocations that never become resident (and turn a plugin's large
/// allocation into a refused call before the resident-set watch sees anything); 16x leaves
/// that to the watch and still stops a runaway request before it reaches the machine's memory.
inline constexpr std::uint64_t kAddressSpaceBackstopFactor = 16;

/// True when this build can cap the worker's address space (not a sanitizer build).
bool address_space_limit_usable() noexcept;

/// The RLIMIT_AS the worker gets for a plugins.max_rss of `max_rss_bytes`.
std::uint64_t address_space_backstop_bytes(std::uint64_t max_rss_bytes) noexcept;

/// In the worker child before exec: caps its address space at
/// address_space_backstop_bytes(max_rss_bytes) (when usable). Only async-signal-safe calls.
void apply_address_space_limit(std::uint64_t max_rss_bytes) noexcept;

/// The resident set of one process, read at every round of the supervisor's watch:
/// /proc/PID/statm is opened once and read again from offset 0 (the kernel renders it afresh at
/// each read from 0), one system call a round instead of an open, a read and a close with a path
/// walk through /proc.
class ResidentSetReader {
 public:
  explicit ResidentSetReader(pid_t pid) noexcept : pid_(pid) {}
  ~ResidentSetReader();
  ResidentSetReader(const ResidentSetReader&) = delete;
  ResidentSetReader& operator=(const ResidentSetReader&) = delete;

  /// The resident set in bytes (statm's second field, in pages); nullopt when unreadable (the
  /// process is gone). A failed read closes the file, and the next call opens it again.
  std::optional<std::uint64_t> bytes();

 private:
  pid_t pid_;
  int fd_ = -1;
};

}  // namespace qsc::agent
