// The supervisor's rollback counters (a mutex: written a few times a lifetime, read per scrape).
#include "metrics/supervisor_counters.hpp"

#include <mutex>

namespace qsc::agent::metrics {
namespace {

std::mutex& counts_mutex() {
  static std::mutex m;
  return m;
}

SupervisorRollbackCounts& counts() {
  static SupervisorRollbackCounts c;
  return c;
}

}  // namespace

void note_supervisor_rollback(std::string_view trigger, bool postconditions_failed) {
  std::lock_guard lock(counts_mutex());
  ++counts().by_trigger[std::string(trigger)];
  if (postconditions_failed) ++counts().postcondition_failures;
}

SupervisorRollbackCounts supervisor_rollback_counts() {
  std::lock_guard lock(counts_mutex());
  return counts();
}

}  // namespace qsc::agent::metrics
