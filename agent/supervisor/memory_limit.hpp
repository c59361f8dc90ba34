// The worker's memory limit (plugins.max_rss). Two layers: RLIMIT_AS set in the worker before it
// execs, so an allocation past the limit fails inside the plugin that asked for it; and the
// supervisor reading the worker's resident set, which catches what the rlimit cannot. Under
// AddressSanitizer (which reserves terabytes of address space for its shadow) the rlimit would
// stop the worker from starting, so sanitizer builds rely on the resident-set check alone.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace qsc::agent {

/// True when this build can cap the worker's address space (not a sanitizer build).
bool address_space_limit_usable() noexcept;

/// In the worker child before exec: caps its address space at `bytes` (when usable). Only
/// async-signal-safe calls.
void apply_address_space_limit(std::uint64_t bytes) noexcept;

/// The resident set of `pid` in bytes (VmRSS of /proc/PID/status); nullopt when unreadable.
std::optional<std::uint64_t> resident_bytes(pid_t pid);

}  // namespace qsc::agent
