// The time since this host booted, with the boot's identity.
#include "core/boot_clock.hpp"

#include <time.h>

#include <fstream>

namespace qsc::agent {
namespace {

// Read once: a boot's ID does not change while a process of it runs.
const std::string& this_boot_id() {
  static const std::string id = [] {
    std::string text;
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::getline(in, text);
    return text;
  }();
  return id;
}

}  // namespace

BootInstant boot_now() {
  timespec ts{};
  if (::clock_gettime(CLOCK_BOOTTIME, &ts) != 0) return {};
  return {this_boot_id(), static_cast<std::int64_t>(ts.tv_sec) * 1000 +
                              static_cast<std::int64_t>(ts.tv_nsec / 1'000'000)};
}

std::int64_t boot_elapsed_ms(const BootInstant& earlier, const BootInstant& later) {
  if (earlier.boot_id.empty() || earlier.boot_id != later.boot_id || earlier.since_boot_ms <= 0 ||
      later.since_boot_ms < earlier.since_boot_ms) {
    return -1;
  }
  return later.since_boot_ms - earlier.since_boot_ms;
}

}  // namespace qsc::agent
