// The scan both JSON string readers make (a recorded line's, agent/telemetry/jsonl_plain.cpp, and
// the payload's, sdk/src/parse.cpp): how far a run of bytes that a JSON string holds as they are
// reaches. Replay reads millions of lines, each with a payload string of about 600 bytes, so the
// run is judged sixteen bytes at a time where SSE2 is there (every x86-64).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace qsc {

/// The length of the run at `p` (up to `end`) of printable ASCII other than the quote and the
/// backslash (0x20-0x7e; DEL 0x7f too when kAllowDel), copied to `dst` when kCopy. With SSE2 a
/// block of sixteen is stored whole before it is judged, so `dst` needs room for the bytes from
/// `p` to `end` (a decoded string written no further into its output than `p` is into its text
/// has it); the tail under sixteen bytes goes a byte at a time.
template <bool kAllowDel, bool kCopy = false>
inline std::size_t plain_json_run(const char* p, const char* end, char* dst = nullptr) noexcept {
  const char* const start = p;
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i del = _mm_set1_epi8(0x7f);
  const __m128i below_space = _mm_set1_epi8(0x1f);
  while (end - p >= 16) {
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    if constexpr (kCopy) _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + (p - start)), block);
    // Signed compare: 0x20-0x7f are the bytes above 0x1f; 0x80-0xff read as negative.
    const auto printable =
        static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpgt_epi8(block, below_space)));
    __m128i ends = _mm_or_si128(_mm_cmpeq_epi8(block, quote), _mm_cmpeq_epi8(block, backslash));
    if constexpr (!kAllowDel) ends = _mm_or_si128(ends, _mm_cmpeq_epi8(block, del));
    const unsigned stop = (static_cast<unsigned>(_mm_movemask_epi8(ends)) | ~printable) & 0xffffu;
    if (stop != 0) return static_cast<std::size_t>(p - start) + std::countr_zero(stop);
    p += 16;
  }
#endif
  constexpr unsigned char kLast = kAllowDel ? 0x7f : 0x7e;
  for (; p < end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c < 0x20 || c > kLast || c == '"' || c == '\\') break;
    if constexpr (kCopy) dst[p - start] = *p;
  }
  return static_cast<std::size_t>(p - start);
}

/// `out` = `text`, for a reader that reads one line after another into the same strings: a
/// text as long as the one it replaces (a stream ID, a model's name, the symbol) is copied over
/// it without std::string's general assign (about 70 instructions, a tenth of a replayed line's
/// read, session 12). qsc::assign_changed (checks.hpp) gives `out` the same value but compares
/// first and writes nothing when equal, for results whose names rarely change; a reader's
/// texts (stream IDs above all) change at every line, where the comparison is wasted.
inline void assign_text(std::string& out, std::string_view text) {
  if (out.size() != text.size()) {
    out.assign(text);
    return;
  }
  // A reader's texts are 3 to 30 bytes: copied inline a word at a time (the last word
  // overlapping the one before), as a memcpy call each cost more than the copy (ten a replayed
  // line: the ID, the symbol, each model's name and model string; session 16, callgrind).
  constexpr std::size_t kInlineBytes = 32;
  const std::size_t n = text.size();
  char* const dst = out.data();
  const char* const src = text.data();
  if (n >= 8 && n <= kInlineBytes) {
    std::uint64_t w = 0;
    for (std::size_t i = 0; i + 8 <= n; i += 8) {
      std::memcpy(&w, src + i, sizeof w);
      std::memcpy(dst + i, &w, sizeof w);
    }
    std::memcpy(&w, src + n - 8, sizeof w);
    std::memcpy(dst + n - 8, &w, sizeof w);
  } else if (n >= 4 && n < 8) {
    std::uint32_t w = 0;
    std::memcpy(&w, src, sizeof w);
    std::memcpy(dst, &w, sizeof w);
    std::memcpy(&w, src + n - 4, sizeof w);
    std::memcpy(dst + n - 4, &w, sizeof w);
  } else if (n < 4) {
    // Not a loop, which the compiler may turn back into a memcpy call.
    if (n > 0) dst[0] = src[0];
    if (n > 1) dst[1] = src[1];
    if (n > 2) dst[2] = src[2];
  } else {
    std::memcpy(dst, src, n);
  }
}

}  // namespace qsc
