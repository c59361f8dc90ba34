// The ring's free functions: the monotonic clock it stamps with, wait strategy names, removing
// a ring. The producer, the consumer and the codec are in ring_producer.cpp, ring_consumer.cpp
// and ring_codec.cpp; the protocol they share in ring_internal.hpp.
#include "ring_internal.hpp"

#include <linux/futex.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <limits>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

namespace qsc::ipc {
using namespace detail;

std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

std::string_view wait_strategy_name(WaitStrategy strategy) noexcept {
  switch (strategy) {
    case WaitStrategy::kSpin:
      return "spin";
    case WaitStrategy::kSpinThenSleep:
      return "spin-then-sleep";
    case WaitStrategy::kBlock:
      return "block";
  }
  return "?";
}

std::optional<WaitStrategy> parse_wait_strategy(std::string_view text) noexcept {
  for (auto s : {WaitStrategy::kSpin, WaitStrategy::kSpinThenSleep, WaitStrategy::kBlock}) {
    if (text == wait_strategy_name(s)) return s;
  }
  return std::nullopt;
}

Status remove_ring(std::string_view name) {
  if (auto st = validate_ring_name(name); !st) return st;
  try {
    boost::interprocess::shared_memory_object::remove(std::string(name).c_str());
  } catch (const std::exception& e) {
    return Error{"removing ring '" + std::string(name) + "': " + e.what()};
  }
  return ok_status();
}

}  // namespace qsc::ipc
