// The worker's memory limit.
#include "supervisor/memory_limit.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <limits>

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

std::uint64_t address_space_backstop_bytes(std::uint64_t max_rss_bytes) noexcept {
  constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
  if (max_rss_bytes > kMax / kAddressSpaceBackstopFactor) return kMax;
  return max_rss_bytes * kAddressSpaceBackstopFactor;
}

void apply_address_space_limit(std::uint64_t max_rss_bytes) noexcept {
  if (!address_space_limit_usable()) return;
  rlimit limit{};
  limit.rlim_cur = static_cast<rlim_t>(address_space_backstop_bytes(max_rss_bytes));
  limit.rlim_max = limit.rlim_cur;
  ::setrlimit(RLIMIT_AS, &limit);
}

ResidentSetReader::~ResidentSetReader() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<std::uint64_t> ResidentSetReader::bytes() {
  if (fd_ < 0) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/statm", static_cast<int>(pid_));
    fd_ = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return std::nullopt;
  }
  char text[128];
  const ssize_t n = ::pread(fd_, text, sizeof text - 1, 0);
  if (n <= 0) {
    ::close(fd_);
    fd_ = -1;
    return std::nullopt;
  }
  text[n] = '\0';
  unsigned long long size_pages = 0;
  unsigned long long resident_pages = 0;
  if (std::sscanf(text, "%llu %llu", &size_pages, &resident_pages) != 2) return std::nullopt;
  static const long page_bytes = ::sysconf(_SC_PAGESIZE);
  return static_cast<std::uint64_t>(resident_pages) * static_cast<std::uint64_t>(page_bytes);
}

}  // namespace qsc::agent
