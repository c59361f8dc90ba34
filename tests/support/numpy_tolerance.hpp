// The project's tolerance for a figure against numpy's (tests/sdk/fixtures/make_fixtures.py holds
// the Python side): within 4 ULP, or 1e-12 relative. Shared by the SDK's fixture tests and the
// monitor's incremental-statistics tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <limits>

namespace qsc::test {

// How close a figure must be to numpy's: within 4 ULP, or 1e-12 relative. numpy's float64
// results differ by an ULP or so between CPUs (its SIMD paths for exp, for instance), so the
// fixtures one machine wrote cannot be matched to the bit on another. The SDK sums in numpy's
// pairwise order, so it lands within this on every machine; the verdicts and messages, which
// is what an operator sees, must still match exactly.
constexpr std::int64_t kMaxUlps = 4;
constexpr double kMaxRelative = 1e-12;

// The number of representable doubles between a and b (both finite); the largest count for
// values of opposite signs (never "near" here, and their difference could overflow).
inline std::int64_t ulps_between(double a, double b) {
  if (std::signbit(a) != std::signbit(b)) return std::numeric_limits<std::int64_t>::max();
  auto ordered = [](double x) {
    std::int64_t bits = 0;
    std::memcpy(&bits, &x, sizeof bits);
    // Negative doubles count down from -0 so the integer order is the numeric order.
    return bits < 0 ? std::numeric_limits<std::int64_t>::min() - bits : bits;
  };
  const auto ia = ordered(a);
  const auto ib = ordered(b);
  return ia > ib ? ia - ib : ib - ia;
}

inline ::testing::AssertionResult near_numpy(const char* actual_expr, const char* expected_expr,
                                             double actual, double expected) {
  if (actual == expected) return ::testing::AssertionSuccess();
  if (std::isfinite(actual) && std::isfinite(expected)) {
    const auto ulps = ulps_between(actual, expected);
    const double relative =
        std::fabs(actual - expected) / std::max(std::fabs(actual), std::fabs(expected));
    if (ulps <= kMaxUlps || relative <= kMaxRelative) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << actual_expr << " = " << std::setprecision(17) << actual << " differs from numpy's "
           << expected_expr << " = " << expected << " by " << ulps << " ULP (relative " << relative
           << "): more than " << kMaxUlps << " ULP and " << kMaxRelative << " relative";
  }
  return ::testing::AssertionFailure()
         << actual_expr << " = " << actual << ", numpy's " << expected_expr << " = " << expected;
}

}  // namespace qsc::test

#define EXPECT_NEAR_NUMPY(actual, expected) \
  EXPECT_PRED_FORMAT2(::qsc::test::near_numpy, actual, expected)
