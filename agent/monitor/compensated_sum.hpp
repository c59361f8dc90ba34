// A running sum that values can be added to and taken out of, with Neumaier's compensation: the
// rounding error of every step is kept in a second double, so the sum of a sliding window stays
// within about one rounding of the exact sum of its values however many have passed through it
// (docs/STATISTICS.md gives the bound the window's screen relies on).
#pragma once

#include <cmath>

namespace qsc::agent {

/// Neumaier-compensated sum. Remove a value by adding its negation.
class CompensatedSum {
 public:
  void add(double x) noexcept {
    const double t = sum_ + x;
    // The two-sum's error term, taken from whichever operand was the smaller.
    compensation_ += std::fabs(sum_) >= std::fabs(x) ? (sum_ - t) + x : (x - t) + sum_;
    sum_ = t;
  }
  void reset() noexcept { sum_ = compensation_ = 0.0; }
  /// The state reset() and add() of values whose every partial sum is exact (whole numbers
  /// below 2^53) leave: `exact_sum`, each step's error term +0.
  void assign_exact(double exact_sum) noexcept {
    sum_ = exact_sum;
    compensation_ = 0.0;
  }
  double value() const noexcept { return sum_ + compensation_; }

 private:
  double sum_ = 0.0;
  double compensation_ = 0.0;
};

}  // namespace qsc::agent
