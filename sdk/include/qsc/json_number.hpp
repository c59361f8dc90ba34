// A JSON number's text read to its double, as std::from_chars reads it, with an exact fast path
// for the usual number. The payload's one-pass readers (sdk/src/parse.cpp) read five numbers a
// replayed line, and from_chars cost about 210 instructions each (a sixth of reading the line,
// session 13, callgrind): its general algorithm is wasted on a confidence such as
// 0.4561913855660074, whose value is one correctly rounded division of two exact doubles.
#pragma once

#include <bit>
#include <cfloat>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <system_error>

namespace qsc {
namespace detail {

// Whether the eight bytes of `chunk` are all ASCII digits: each byte's high nibble is 3, and
// adding 6 does not carry out of its low one (simdjson's test; bytes with another high nibble
// fail the first part, so a carry between bytes cannot make a non-digit pass).
constexpr bool eight_digits(std::uint64_t chunk) noexcept {
  return ((chunk & 0xF0F0F0F0F0F0F0F0) |
          (((chunk + 0x0606060606060606) & 0xF0F0F0F0F0F0F0F0) >> 4)) == 0x3333333333333333;
}

// The value of eight ASCII digits loaded little-endian (the first digit in the lowest byte):
// pairs, then quadruples, then the eight, combined by multiplication (fast_float's
// parse_eight_digits_unrolled).
constexpr std::uint64_t eight_digits_value(std::uint64_t chunk) noexcept {
  constexpr std::uint64_t kMask = 0x000000FF000000FF;
  constexpr std::uint64_t kMul1 = 0x000F424000000064;  // 100 + (1000000 << 32)
  constexpr std::uint64_t kMul2 = 0x0000271000000001;  // 1 + (10000 << 32)
  chunk -= 0x3030303030303030;
  chunk = (chunk * 10) + (chunk >> 8);
  return (((chunk & kMask) * kMul1) + (((chunk >> 16) & kMask) * kMul2)) >> 32;
}

// eight_digits_value reads the first digit from the lowest byte of a chunk loaded from memory.
static_assert(std::endian::native == std::endian::little,
              "read_json_number's eight-digit chunks are read little-endian");

// The double nearest mantissa x 10^exponent (|exponent| <= 22, mantissa < 2^64), by one x87
// operation in 64-bit precision and a rounding to 53 bits; false when that cannot be told
// exactly (no x87 extended precision here, or its result lies on a rounding midpoint). Replay's
// confidences have up to seventeen significant digits, a mantissa past 2^53 for one number in
// seven or so, and from_chars took about 180 ns for each of those (session 16).
//
// Why it is exact: the mantissa and 10^|exponent| (5^22 < 2^64) are exact in 64 bits, so q, the
// operation's result, is the exact value x rounded once to 64 bits. The midpoints between
// neighbouring doubles need 54 bits, so each is a 64-bit value, and rounding is monotonic: x
// below a midpoint M gives q <= M, x above gives q >= M. So unless q is itself a midpoint,
// q and x lie on the same side of every midpoint and round to the same double. q is a midpoint
// when the 11 bits past the double's 53 are 10000000000: then the caller asks from_chars.
inline bool extended_quotient(std::uint64_t mantissa, int exponent, double& out) noexcept {
#if (defined(__x86_64__) || defined(__i386__)) && LDBL_MANT_DIG == 64 && defined(__GNUC__)
  // 10^0 .. 10^22 in 64-bit precision, every one exact.
  static constexpr long double kPowersOfTen[] = {
      1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,  1e10L, 1e11L,
      1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L, 1e21L, 1e22L};
  // The x87 precision control (bits 8-9 of its control word) must be 64 bits (11), as the
  // x86-64 ABI starts it: a program that lowered it would get doubles rounded twice.
  std::uint16_t control = 0;
  __asm__("fnstcw %0" : "=m"(control));
  if ((control & 0x300u) != 0x300u) return false;
  // And the arithmetic must be what the control word says: valgrind (callgrind, memcheck)
  // emulates x87 in 53-bit doubles whatever it says, so 1 + 2^-63 is asked once whether it
  // differs from 1, as 64 bits make it.
  static const bool kSixtyFourBits = [] {
    volatile long double one = 1.0L;
    volatile long double last_bit = 0x1p-63L;
    return one + last_bit != one;
  }();
  if (!kSixtyFourBits) return false;
  const auto exact = static_cast<long double>(mantissa);
  const long double q =
      exponent < 0 ? exact / kPowersOfTen[-exponent] : exact * kPowersOfTen[exponent];
  // The 64-bit significand (its integer bit explicit), little-endian in the first eight bytes.
  std::uint64_t significand = 0;
  std::memcpy(&significand, &q, sizeof significand);
  if ((significand & 0x7ffu) == 0x400u) return false;
  out = static_cast<double>(q);
  return true;
#else
  (void)mantissa;
  (void)exponent;
  (void)out;
  return false;
#endif
}

}  // namespace detail

/// The number at `p` (up to `end`) in RFC 8259's grammar (`-`? int frac? exp?), read as
/// std::from_chars(start, number's end, out) reads it, bit for bit (signed zeros too). Returns
/// the number's end, or nullptr when the text there is not a number by the grammar or
/// from_chars refuses it (out of range: `out` is then unspecified). `integer` is true when the
/// number has neither fraction nor exponent.
///
/// The fast path (Clinger, 1990): when the decimal mantissa (the digits without the point) is
/// at most 2^53 and the decimal exponent within +-22, both are exact doubles (10^22 < 2^53 x
/// 2^22 is the largest exact power of ten), and IEEE 754 makes one multiplication or division
/// of them the correctly rounded value: the very double from_chars gives. A mantissa past 2^53
/// of at most nineteen digits is read in x87 extended precision where that is exact
/// (detail::extended_quotient). Anything else (more than nineteen digits, an exponent further
/// out, an extended result on a rounding midpoint) goes to from_chars.
/// Where the platform may evaluate doubles in extended precision (FLT_EVAL_METHOD != 0: x87),
/// the operation could round twice, so every number goes to from_chars there.
inline const char* read_json_number(const char* p, const char* end, double& out,
                                    bool& integer) noexcept {
  // 10^0 .. 10^22: every one exact in a double.
  static constexpr double kPowersOfTen[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                            1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                            1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  constexpr int kMaxExactPower = 22;
  constexpr std::uint64_t kMaxExactMantissa = std::uint64_t{1} << 53;
  // Nineteen decimal digits never overflow 64 bits (10^19 - 1 < 2^64); past them the mantissa
  // has wrapped and is not used.
  constexpr int kMaxDigits = 19;
  // An exponent is accumulated to here only: past it the number is out of the fast path's
  // range whatever its digits, and the accumulation cannot overflow.
  constexpr std::ptrdiff_t kExponentCap = 100000;

#if FLT_EVAL_METHOD == 0
  // The usual confidence first (85% of a recording's numbers have sixteen digits, 5%
  // seventeen): "0." and sixteen digits, as two chunks of eight, maybe a seventeenth, then a
  // byte that ends the number; the value as the general path below gives it (one division, or
  // x87's quotient past 2^53), after fewer tests (its loops, its exponent, its ranges): 15% of
  // the time a number took (rec300k's confidences, session 18: 11.5 -> 9.8 ns).
  if (end - p >= 20 && p[0] == '0' && p[1] == '.') {
    std::uint64_t first = 0;
    std::uint64_t second = 0;
    std::memcpy(&first, p + 2, sizeof first);
    std::memcpy(&second, p + 10, sizeof second);
    if (detail::eight_digits(first) && detail::eight_digits(second)) {
      std::uint64_t mantissa =
          detail::eight_digits_value(first) * 100000000 + detail::eight_digits_value(second);
      const char* stop = p + 18;
      int fraction_digits = 16;
      auto after = static_cast<unsigned>(static_cast<unsigned char>(*stop)) - '0';
      if (after <= 9) {
        mantissa = mantissa * 10 + after;
        ++stop;
        ++fraction_digits;
        after = static_cast<unsigned>(static_cast<unsigned char>(*stop)) - '0';
      }
      // The byte after them must end the number: not a digit, not an exponent.
      if (after > 9 && ((*stop | 0x20) != 'e')) {
        integer = false;
        if (mantissa <= std::uint64_t{1} << 53) {
          out = static_cast<double>(mantissa) / (fraction_digits == 16 ? 1e16 : 1e17);
          return stop;
        }
        if (detail::extended_quotient(mantissa, -fraction_digits, out)) return stop;
      }
    }
  }
#endif
  const char* const start = p;
  const bool negative = p < end && *p == '-';
  if (negative) ++p;
  if (p == end) return nullptr;
  const auto is_digit = [end](const char* q) {
    return q < end && static_cast<unsigned>(static_cast<unsigned char>(*q)) - '0' <= 9;
  };
  // The digits from `q` on, taken into `mantissa` (wrapping past nineteen: then unused), eight
  // at a time while eight are there (a confidence has sixteen or seventeen after its point);
  // `q` ends past them.
  std::uint64_t mantissa = 0;
  const auto take_digits = [&mantissa, &is_digit, end](const char*& q) {
    while (end - q >= 8) {
      std::uint64_t eight = 0;
      std::memcpy(&eight, q, sizeof eight);
      if (!detail::eight_digits(eight)) break;
      mantissa = mantissa * 100000000 + detail::eight_digits_value(eight);
      q += 8;
    }
    for (; is_digit(q); ++q) mantissa = mantissa * 10 + static_cast<unsigned char>(*q) - '0';
  };
  const char* const integer_start = p;
  if (*p == '0') {
    ++p;
  } else if (is_digit(p)) {
    take_digits(p);
  } else {
    return nullptr;
  }
  std::ptrdiff_t digits = p - integer_start;  // leading zeros too
  std::ptrdiff_t fraction_digits = 0;         // the value is mantissa x 10^-fraction_digits
  integer = true;
  if (p < end && *p == '.') {
    integer = false;
    ++p;
    if (!is_digit(p)) return nullptr;
    const char* const fraction_start = p;
    take_digits(p);
    fraction_digits = p - fraction_start;
    digits += fraction_digits;
  }
  std::ptrdiff_t exponent = 0;
  if (p < end && (*p == 'e' || *p == 'E')) {
    integer = false;
    ++p;
    bool negative_exponent = false;
    if (p < end && (*p == '+' || *p == '-')) negative_exponent = *p++ == '-';
    if (!is_digit(p)) return nullptr;
    for (; is_digit(p); ++p) {
      if (exponent < kExponentCap) exponent = exponent * 10 + (*p - '0');
    }
    if (negative_exponent) exponent = -exponent;
  }
  exponent -= fraction_digits;
#if FLT_EVAL_METHOD == 0
  if (digits <= kMaxDigits && exponent >= -kMaxExactPower && exponent <= kMaxExactPower) {
    if (mantissa <= kMaxExactMantissa) {
      const auto exact = static_cast<double>(mantissa);
      const double value =
          exponent < 0 ? exact / kPowersOfTen[-exponent] : exact * kPowersOfTen[exponent];
      out = negative ? -value : value;
      return p;
    }
    double value = 0.0;
    if (detail::extended_quotient(mantissa, static_cast<int>(exponent), value)) {
      out = negative ? -value : value;
      return p;
    }
  }
#endif
  const auto [stop, ec] = std::from_chars(start, p, out);
  if (ec != std::errc() || stop != p) return nullptr;
  return p;
}

}  // namespace qsc
