// How many repetitions a statistical test runs: all of them in a plain build, a tenth under a
// sanitizer. The sanitizer stages exist to catch memory errors, races and undefined behaviour;
// a tenth of a 10,000-period test still drives every code path thousands of times, while the
// full count under AddressSanitizer at -O0 costs minutes of CI's two cores (the 10,000-period
// distribution_shift test took 206 s there against 19 s in Release). The statistical claims
// themselves (false-alarm bounds, exactness over 100,000 windows) are asserted at full size by
// the Release stage, which runs every test.
#pragma once

#include <cstddef>

namespace qsc::test {

/// True in a build instrumented by AddressSanitizer or ThreadSanitizer (GCC defines the first
/// two macros; clang answers __has_feature).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitizedBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitizedBuild = true;
#else
inline constexpr bool kSanitizedBuild = false;
#endif
#else
inline constexpr bool kSanitizedBuild = false;
#endif

/// `full` in a plain build; a tenth of it (at least 1) in a sanitized one. Tests compute their
/// bounds from the count they ran, never from `full`.
constexpr std::size_t repetitions(std::size_t full) {
  if (!kSanitizedBuild) return full;
  return full / 10 > 0 ? full / 10 : 1;
}

/// `full` in a plain build, `sanitized` in a sanitized one: for a test whose claim needs more
/// than a tenth to mean anything (several 2,000-event windows, an hour of a stream). The test
/// asserts the same things at either size; the plain build's are the claims.
constexpr std::size_t sanitizer_sized(std::size_t full, std::size_t sanitized) {
  return kSanitizedBuild ? sanitized : full;
}

}  // namespace qsc::test
