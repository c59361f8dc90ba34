// The plain recording form's reader (see jsonl_plain.hpp). Whatever it is not sure to read as
// nlohmann would (an escape it does not decode, a byte that needs UTF-8 validation, a repeated
// key, a value that is not a string, anything after the object) makes it give up, never guess.
#include "telemetry/jsonl_plain.hpp"

#include <array>
#include <bit>
#include <cstddef>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace qsc::agent {
namespace {

class PlainScanner {
 public:
  explicit PlainScanner(std::string_view text) : text_(text) {}

  // Skips JSON whitespace, then takes `c` if it is next.
  bool take(char c) {
    skip_space();
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }

  bool at_end() {
    skip_space();
    return at_ == text_.size();
  }

  // A string with the one-character escapes only; false for anything else.
  bool string(std::string& out) {
    if (!take('"')) return false;
    const char* const end = text_.data() + text_.size();
    const char* p = text_.data() + at_;
    // Most strings (the ID, the keys) have no escape: read whole, at their size.
    const std::size_t first = plain_run<false>(p, end, nullptr);
    if (first < static_cast<std::size_t>(end - p) && p[first] == '"') {
      out.assign(p, first);
      at_ += first + 1;
      return true;
    }
    // The decoded text is never longer than the rest of the line: sized once, written in place
    // (a recorded payload is about 600 bytes with an escaped quote every ten or so, and
    // appending run by run cost more than the scan).
    out.resize(static_cast<std::size_t>(end - p));
    char* const begin = out.data();
    char* dst = begin;
    for (;;) {
      const std::size_t run = plain_run<true>(p, end, dst);
      p += run;
      dst += run;
      if (p == end) return false;
      if (*p == '"') {
        out.resize(static_cast<std::size_t>(dst - begin));
        at_ = static_cast<std::size_t>(p - text_.data()) + 1;
        return true;
      }
      // Control characters are malformed, DEL and above need nlohmann's UTF-8 checks.
      if (*p != '\\' || ++p == end) return false;
      const char decoded = unescaped(*p);
      if (decoded == '\0') return false;  // \u or an invalid escape
      *dst++ = decoded;
      ++p;
    }
  }

 private:
  // The bytes a string holds as they are: printable ASCII but the quote and the backslash.
  static constexpr auto kPlain = [] {
    std::array<bool, 256> plain{};
    for (int c = 0x20; c <= 0x7e; ++c) plain[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
    return plain;
  }();

  // The length of the run of plain bytes at `p` (up to `end`), copied to `dst` when kCopy. With
  // SSE2 (every x86-64) sixteen bytes are judged at once; a block is stored whole before it is
  // judged, which stays inside `dst`'s room: `dst` is never further into the output than `p`
  // is into the line, and the block ends before `end`. The tail goes a byte at a time.
  template <bool kCopy>
  static std::size_t plain_run(const char* p, const char* end, char* dst) {
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
      const int printable = _mm_movemask_epi8(_mm_cmpgt_epi8(block, below_space));
      const int refused = _mm_movemask_epi8(
          _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(block, quote), _mm_cmpeq_epi8(block, backslash)),
                       _mm_cmpeq_epi8(block, del)));
      const unsigned stop =
          (static_cast<unsigned>(refused) | ~static_cast<unsigned>(printable)) & 0xffffu;
      if (stop != 0) return static_cast<std::size_t>(p - start) + std::countr_zero(stop);
      p += 16;
    }
#endif
    while (p < end && kPlain[static_cast<unsigned char>(*p)]) {
      if constexpr (kCopy) dst[p - start] = *p;
      ++p;
    }
    return static_cast<std::size_t>(p - start);
  }

  static char unescaped(char c) {
    switch (c) {
      case '"':
        return '"';
      case '\\':
        return '\\';
      case '/':
        return '/';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      default:
        return '\0';
    }
  }

  void skip_space() {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r')) {
      ++at_;
    }
  }

  std::string_view text_;
  std::size_t at_ = 0;
};

// "fields": {"k": "v", ...} with string values and no repeated key.
bool read_fields(PlainScanner& scan, qsc::StreamEntry& entry) {
  if (!scan.take('{')) return false;
  if (scan.take('}')) return true;
  do {
    // Read in place: a recorded payload is a few hundred bytes, not worth copying again.
    auto& [key, value] = entry.fields.emplace_back();
    if (!scan.string(key) || !scan.take(':') || !scan.string(value)) return false;
    for (std::size_t i = 0; i + 1 < entry.fields.size(); ++i) {
      if (entry.fields[i].first == key)
        return false;  // nlohmann keeps the first place and the last value
    }
  } while (scan.take(','));
  return scan.take('}');
}

}  // namespace

std::optional<qsc::StreamEntry> read_plain_jsonl_entry(std::string_view line) {
  PlainScanner scan(line);
  qsc::StreamEntry entry;
  bool have_id = false;
  bool have_fields = false;
  std::string key;
  if (!scan.take('{')) return std::nullopt;
  do {
    if (!scan.string(key) || !scan.take(':')) return std::nullopt;
    if (key == "id" && !have_id) {
      if (!scan.string(entry.id)) return std::nullopt;
      have_id = true;
    } else if (key == "fields" && !have_fields) {
      if (!read_fields(scan, entry)) return std::nullopt;
      have_fields = true;
    } else {
      return std::nullopt;  // another key, or one repeated
    }
  } while (scan.take(','));
  if (!scan.take('}') || !scan.at_end() || !have_id || !have_fields) return std::nullopt;
  return entry;
}

}  // namespace qsc::agent
