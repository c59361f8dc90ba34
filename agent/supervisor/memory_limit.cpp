// The worker's memory limit.
#include "supervisor/memory_limit.hpp"

#include <sys/resource.h>

#include <fstream>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define QSC_SANITIZER_BUILD 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define QSC_SANITIZER_BUILD 1
#endif

namespace qsc::agent {

bool address_space_limit_usable() noexcept {
#ifdef QSC_SANITIZER_BUILD
  return false;
#else
  return true;
#endif
}

void apply_address_space_limit(std::uint64_t bytes) noexcept {
  if (!address_space_limit_usable()) return;
  rlimit limit{};
  limit.rlim_cur = static_cast<rlim_t>(bytes);
  limit.rlim_max = static_cast<rlim_t>(bytes);
  ::setrlimit(RLIMIT_AS, &limit);
}

std::optional<std::uint64_t> resident_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      std::uint64_t kib = 0;
      if (in >> kib) return kib * 1024;
      return std::nullopt;
    }
    in.ignore(1 << 16, '\n');
  }
  return std::nullopt;
}

}  // namespace qsc::agent
