// Byte comparisons of short texts, inline. Replay compares model names at every prediction of
// every event (the host's horizon test, the detectors' folds) and a recorded payload's fixed text
// at every value: a call to memcmp for each of these 3- to 40-byte texts cost about as much as
// the comparison itself (sessions 12 and 16, callgrind).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace qsc {

/// Whether `a` and `b` hold the same `n` bytes: by words, two overlapping ones for 4 to 16
/// bytes (no loop under 17, so a caller's loop over names stays small enough to inline), eight
/// bytes at a time past that.
inline bool same_bytes(const char* a, const char* b, std::size_t n) noexcept {
  const auto word = [](const char* p) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, sizeof w);
    return w;
  };
  const auto half_word = [](const char* p) {
    std::uint32_t w = 0;
    std::memcpy(&w, p, sizeof w);
    return w;
  };
  if (n > 16) {
    for (std::size_t i = 0; i + 8 <= n; i += 8) {
      if (word(a + i) != word(b + i)) return false;
    }
    return word(a + n - 8) == word(b + n - 8);
  }
  if (n >= 8) return word(a) == word(b) && word(a + n - 8) == word(b + n - 8);
  if (n >= 4) return half_word(a) == half_word(b) && half_word(a + n - 4) == half_word(b + n - 4);
  return (n < 1 || a[0] == b[0]) && (n < 2 || a[1] == b[1]) && (n < 3 || a[2] == b[2]);
}

/// a == b, as std::string_view compares them, inline (same_bytes).
inline bool same_text(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && same_bytes(a.data(), b.data(), a.size());
}

}  // namespace qsc
