// Rollbacks that the supervisor runs itself (worker failed, crash loop), for /metrics. The
// worker's own rollbacks reach the endpoint through the metrics block; these happen in the
// supervisor's process, where the endpoint is.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace qsc::agent::metrics {

/// Counts one supervisor rollback under `trigger`; `postconditions_failed` when it ended
/// ROLLBACK INCOMPLETE. Thread-safe (the exposer reads from its own thread).
void note_supervisor_rollback(std::string_view trigger, bool postconditions_failed);

struct SupervisorRollbackCounts {
  std::map<std::string, std::uint64_t> by_trigger;
  std::uint64_t postcondition_failures = 0;
};
SupervisorRollbackCounts supervisor_rollback_counts();

}  // namespace qsc::agent::metrics
