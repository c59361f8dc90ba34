// The accuracy benchmark's random numbers, fixed by this file alone so that the same command
// gives the same table on any machine, compiler and standard library (std::normal_distribution
// and friends are implementation-defined, so none of them is used):
//   - xoshiro256** 1.0 (Blackman and Vigna, https://prng.di.unimi.it/xoshiro256starstar.c),
//     its state filled by SplitMix64 from one 64-bit seed;
//   - uniform doubles in [0, 1) from the top 53 bits;
//   - standard normals by the Box-Muller transform (both values of a pair are used).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>

namespace qsc::accuracy {

/// SplitMix64 (Vigna): one step; also how a scenario's seed is derived from (kind, seed number).
constexpr std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// xoshiro256** with the draws the generator needs.
class Prng {
 public:
  explicit Prng(std::uint64_t seed) noexcept {
    for (auto& word : state_) word = splitmix64(seed);
  }

  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform in [0, 1).
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  /// True with probability p.
  bool bernoulli(double p) noexcept { return uniform() < p; }

  /// Uniform integer in [0, n), n > 0 (the modulo bias is below 2^-40 for the n used here).
  std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }

  /// Exponential with the given mean.
  double exponential(double mean) noexcept { return -mean * std::log1p(-uniform()); }

  /// Standard normal (Box-Muller).
  double normal() noexcept {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - uniform();  // in (0, 1]: log is finite
    const double u2 = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    spare_ = radius * std::sin(2.0 * std::numbers::pi * u2);
    has_spare_ = true;
    return radius * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept {
    return (x << k) | (x >> (64 - k));
  }

  std::array<std::uint64_t, 4> state_{};
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace qsc::accuracy
