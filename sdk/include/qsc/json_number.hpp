// A JSON number's text read to its double, as std::from_chars reads it, with an exact fast path
// for the usual number. The payload's one-pass readers (sdk/src/parse.cpp) read five numbers a
// replayed line, and from_chars cost about 210 instructions each (a sixth of reading the line,
// session 13, callgrind): its general algorithm is wasted on a confidence such as
// 0.4561913855660074, whose value is one correctly rounded division of two exact doubles.
#pragma once

#include <array>
#include <bit>
#include <cfloat>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <system_error>

namespace qsc {
namespace detail {

// The bytes of `chunk` that are not ASCII digits, each marked by its high bit (0 when all eight
// are digits). A byte XORed with '0' is below 10 exactly when it was a digit; the test of each
// byte against 10 adds 0x76 to its low seven bits, which cannot carry into the next byte, and
// its own high bit is ORed in.
constexpr std::uint64_t non_digit_bytes(std::uint64_t chunk) noexcept {
  const std::uint64_t t = chunk ^ 0x3030303030303030;
  return (((t & 0x7F7F7F7F7F7F7F7F) + 0x7676767676767676) | t) & 0x8080808080808080;
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

// The value of the first `n` (0 to 7) digits of `chunk`: they are moved to its last bytes and
// the bytes before them filled with '0' (leading zeros), without a loop over the digits, whose
// count varies from one confidence to the next (15 to 17 after the point).
constexpr std::uint64_t leading_digits_value(std::uint64_t chunk, unsigned n) noexcept {
  // Two shifts: by 64 bits in all when n is 0, which one shift may not do.
  const std::uint64_t digits = (chunk << 8) << (56 - 8 * n);
  return eight_digits_value(digits | (0x3030303030303030 >> (8 * n)));
}

// eight_digits_value reads the first digit from the lowest byte of a chunk loaded from memory.
static_assert(std::endian::native == std::endian::little,
              "read_json_number's eight-digit chunks are read little-endian");

#if defined(__SIZEOF_INT128__)
#define QSC_JSON_NUMBER_WIDE_PRODUCT 1
__extension__ using WideProduct = unsigned __int128;

// 1 / 5^k scaled into [2^63, 2^64) and rounded up: ceil(2^shift / 5^k).
struct ScaledReciprocal {
  std::uint64_t multiplier = 0;
  int shift = 0;
};

constexpr ScaledReciprocal scaled_reciprocal_of_five(int k) {
  WideProduct five = 1;
  for (int i = 0; i < k; ++i) five *= 5;
  int bits = 0;  // 2^(bits - 1) < 5^k < 2^bits (no power of five past 1 is a power of two)
  while ((WideProduct{1} << bits) <= five) ++bits;
  const int shift = 63 + bits;
  const WideProduct numerator = WideProduct{1} << shift;
  return {static_cast<std::uint64_t>(numerator / five + (numerator % five != 0 ? 1 : 0)), shift};
}

// Index k: 1 / 5^k for k = 1 .. 22 (index 0 unused).
constexpr int kMaxReciprocalPower = 22;
inline constexpr auto kScaledReciprocals = [] {
  std::array<ScaledReciprocal, kMaxReciprocalPower + 1> table{};
  for (int k = 1; k <= kMaxReciprocalPower; ++k) table[k] = scaled_reciprocal_of_five(k);
  return table;
}();
static_assert(kScaledReciprocals[1].multiplier == 14757395258967641293u &&
              kScaledReciprocals[1].shift == 66);  // ceil(2^66 / 5)
static_assert([] {
  for (int k = 1; k <= kMaxReciprocalPower; ++k) {
    if (kScaledReciprocals[k].multiplier >> 63 != 1) return false;
  }
  return true;
}());
#endif

// The double nearest mantissa / 10^k (0 < mantissa < 2^64, 1 <= k <= 22), negated when
// `negative`, by one 64 x 64 -> 128-bit multiplication; false when that cannot be told (about
// one number in 500, on a rounding midpoint or within the product's error of one). It replaces
// a division (Clinger's fast path: its latency was a fifth of read_json_number's samples) and,
// for a mantissa past 2^53 (a confidence of seventeen digits, or of sixteen from 0.9007 up:
// about one in seven), x87's (another tenth, and a branch no predictor could learn).
//
// Why it is exact: x = mantissa / (2^k 5^k). With the mantissa shifted left by lz so that its
// top bit is set (m), and R = ceil(2^shift / 5^k) = 2^shift / 5^k + d (0 <= d < 1), the product
// P = m R is V + m d, where V = m 2^shift / 5^k = x 2^(k + shift + lz) exactly: V lies in
// (P - 2^64, P]. Scaling by a power of two keeps the doubles' grid (x is normal: at least
// 10^-22), so x rounds as V does, and V rounds as P does unless a midpoint between two doubles
// lies in (P - 2^64, P]. P >= 2^126, so a double's unit in P's scale is 2^73 or more: the only
// midpoint that close is the one just below P in its own binade (the one below the binade is at
// least 2^72 away), at the distance of P's bits below its round bit; the round bit must be set,
// and those bits less than 2^64, i.e. the high word's bits below the round bit all zero. Then
// (and on an exact midpoint, ties to even) the caller asks the slower paths.
inline bool fraction_quotient(std::uint64_t mantissa, int k, bool negative, double& out) noexcept {
#if defined(QSC_JSON_NUMBER_WIDE_PRODUCT)
  const ScaledReciprocal& reciprocal = kScaledReciprocals[static_cast<std::size_t>(k)];
  const int lz = std::countl_zero(mantissa);
  const WideProduct product = WideProduct{mantissa << lz} * reciprocal.multiplier;
  const auto high = static_cast<std::uint64_t>(product >> 64);
  // P's top bit is bit 126 + top; its round bit, 53 below, is bit 9 + top of the high word.
  const auto top = static_cast<int>(high >> 63);
  const int below_round = 9 + top;
  const std::uint64_t kept = high >> below_round;  // 53 significant bits and the round bit
  if ((kept & 1) != 0 && (high & ((std::uint64_t{1} << below_round) - 1)) == 0) return false;
  // 2^52 .. 2^53: 2^53 when rounding up carried, which the exponent's field then takes.
  const std::uint64_t significand = (kept >> 1) + (kept & 1);
  // x = significand 2^(126 + top - 52 - k - shift - lz); a double's exponent field is that
  // power + 52 + 1023, and adding the significand's own 2^52 adds one to it.
  const int field = 126 + top - k - reciprocal.shift - lz + 1023;
  const std::uint64_t bits = (static_cast<std::uint64_t>(field - 1) << 52) + significand +
                             (static_cast<std::uint64_t>(negative) << 63);
  out = std::bit_cast<double>(bits);
  return true;
#else
  (void)mantissa;
  (void)k;
  (void)negative;
  (void)out;
  return false;
#endif
}

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
  static constexpr std::uint64_t kSmallPowersOfTen[] = {1,     10,     100,     1000,
                                                        10000, 100000, 1000000, 10000000};
  constexpr int kMaxExactPower = 22;
  constexpr std::uint64_t kMaxExactMantissa = std::uint64_t{1} << 53;
  // Nineteen decimal digits never overflow 64 bits (10^19 - 1 < 2^64); past them the mantissa
  // has wrapped and is not used.
  constexpr int kMaxDigits = 19;
  // An exponent is accumulated to here only: past it the number is out of the fast path's
  // range whatever its digits, and the accumulation cannot overflow.
  constexpr std::ptrdiff_t kExponentCap = 100000;

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
      const std::uint64_t others = detail::non_digit_bytes(eight);
      if (others != 0) {
        // The digits before the first other byte, at once.
        const auto n = static_cast<unsigned>(std::countr_zero(others)) / 8;
        mantissa = mantissa * kSmallPowersOfTen[n] + detail::leading_digits_value(eight, n);
        q += n;
        return;
      }
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
    // A fraction (a confidence): one multiplication, exact unless it says it cannot tell.
    if (exponent < 0 && mantissa != 0 &&
        detail::fraction_quotient(mantissa, static_cast<int>(-exponent), negative, out)) {
      return p;
    }
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
