// SHA-256 written from FIPS 180-4, section 6.2, and through the CPU's SHA extensions where it has
// them. Our own, not OpenSSL's: linking libcrypto for it cost every
// qsc process 3.4 MiB of resident memory (its relocated data), twice under the supervisor
// (docs/PERFORMANCE.md, "Supervised monitor"). Checked against the NIST vectors and sha256sum in
// tests/core/config_test.cpp.
#include "core/sha256.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace qsc::agent {
namespace {

// The first 32 bits of the fractional parts of the cube roots of the first 64 primes (4.2.2).
constexpr std::array<std::uint32_t, 64> kRound = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

constexpr std::uint32_t rotr(std::uint32_t x, int n) noexcept {
  return (x >> n) | (x << (32 - n));
}

// Neither block function is instrumented by the sanitizers: they read exactly one 64-byte
// block through a pointer the caller bounds (Sha256::update and finish_hex), and a sanitized
// build digests the plugin libraries the monitor loads.
#define QSC_SHA256_UNSANITIZED __attribute__((no_sanitize("address", "undefined")))

// One 64-byte block into the hash state (6.2.2, steps 1-4).
QSC_SHA256_UNSANITIZED void compress(std::array<std::uint32_t, 8>& h,
                                     const unsigned char* block) noexcept {
  std::array<std::uint32_t, 64> w{};
  for (int t = 0; t < 16; ++t) {
    w[t] = (std::uint32_t{block[4 * t]} << 24) | (std::uint32_t{block[4 * t + 1]} << 16) |
           (std::uint32_t{block[4 * t + 2]} << 8) | std::uint32_t{block[4 * t + 3]};
  }
  for (int t = 16; t < 64; ++t) {
    const auto s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
    const auto s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
  auto [a, b, c, d, e, f, g, hh] = h;
  for (int t = 0; t < 64; ++t) {
    const auto big_s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
    const auto choose = (e & f) ^ (~e & g);
    const auto t1 = hh + big_s1 + choose + kRound[t] + w[t];
    const auto big_s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
    const auto majority = (a & b) ^ (a & c) ^ (b & c);
    const auto t2 = big_s0 + majority;
    hh = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += hh;
}

using CompressFn = void (*)(std::array<std::uint32_t, 8>&, const unsigned char*) noexcept;

#if defined(__x86_64__) && defined(__GNUC__)
// The same block through the CPU's SHA extensions (Intel SHA-NI, AMD Zen): about a fifth of the
// portable code's time. The agent digests every plugin library it loads (a few MiB at every
// start of qsc monitor, gate or replay), where the portable code cost about 65 instructions a
// byte. The state is held as the instructions want it: ABEF and CDGH.
__attribute__((target("sha,sse4.1"))) QSC_SHA256_UNSANITIZED void compress_sha_ni(
    std::array<std::uint32_t, 8>& h, const unsigned char* block) noexcept {
  // Big-endian words: reverse the bytes of each 32-bit lane.
  const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&h[0]));
  __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&h[4]));
  const __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
  const __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
  __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
  __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
  const __m128i abef_before = abef;
  const __m128i cdgh_before = cdgh;
  // The message schedule four words at a time: w[g] holds W[4g..4g+3], kept in a ring of four.
  __m128i w[4];
  for (int i = 0; i < 4; ++i) {
    w[i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16 * i)),
                            byte_swap);
  }
  for (int g = 0; g < 16; ++g) {
    const __m128i k = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&kRound[4 * g]));
    const __m128i wk = _mm_add_epi32(w[g & 3], k);
    // Two rounds on the low two words, two on the high two.
    cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
    abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
    if (g < 12) {
      // W[4g+16..4g+19] = msg2(msg1(W[4g..], W[4g+4..]) + W[4g+9..4g+12], W[4g+12..]).
      __m128i next = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);
      next = _mm_add_epi32(next, _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
      w[g & 3] = _mm_sha256msg2_epu32(next, w[(g + 3) & 3]);
    }
  }
  abef = _mm_add_epi32(abef, abef_before);
  cdgh = _mm_add_epi32(cdgh, cdgh_before);
  const __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  const __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  dcba = _mm_blend_epi16(feba, dchg, 0xF0);
  hgfe = _mm_alignr_epi8(dchg, feba, 8);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(&h[0]), dcba);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(&h[4]), hgfe);
}

// CPUID, not __builtin_cpu_supports: clang 14 (the sanitizer and fuzz builds) knows no "sha".
CompressFn pick_compress() noexcept {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return compress;
  const bool ssse3_sse41 = (ecx & (1u << 9)) != 0 && (ecx & (1u << 19)) != 0;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return compress;
  const bool sha = (ebx & (1u << 29)) != 0;
  return sha && ssse3_sse41 ? compress_sha_ni : compress;
}
#else
CompressFn pick_compress() noexcept {
  return compress;
}
#endif

// Chosen once: CPUID is a serialising instruction, and a VM may trap it.
CompressFn best_compress() noexcept {
  static const CompressFn best = pick_compress();
  return best;
}

}  // namespace

Sha256::Sha256() noexcept : Sha256(best_compress()) {}

Sha256 Sha256::portable() noexcept {
  return Sha256(compress);
}

Sha256::Sha256(BlockFn compress_block) noexcept
    // The initial hash value: square roots of the first 8 primes (5.3.3).
    : compress_block_(compress_block), h_{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                          0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19} {}

void Sha256::update(std::string_view data) noexcept {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t size = data.size();
  message_bytes_ += size;
  if (pending_bytes_ > 0) {
    const std::size_t take = std::min(size, pending_.size() - pending_bytes_);
    std::memcpy(pending_.data() + pending_bytes_, bytes, take);
    pending_bytes_ += take;
    bytes += take;
    size -= take;
    if (pending_bytes_ < pending_.size()) return;
    compress_block_(h_, pending_.data());
    pending_bytes_ = 0;
  }
  // Whole blocks straight from the caller's bytes; the rest waits for the next piece.
  for (; size >= 64; bytes += 64, size -= 64) compress_block_(h_, bytes);
  std::memcpy(pending_.data(), bytes, size);
  pending_bytes_ = size;
}

std::string Sha256::finish_hex() {
  // Padding (5.1.1): a 1 bit, zeros, the message length in bits as a 64-bit big-endian number;
  // one block, or two when fewer than 9 bytes are left in the first.
  std::array<unsigned char, 128> tail{};
  std::memcpy(tail.data(), pending_.data(), pending_bytes_);
  tail[pending_bytes_] = 0x80;
  const std::size_t tail_size = pending_bytes_ + 9 <= 64 ? 64 : 128;
  const std::uint64_t bits = message_bytes_ * 8;
  for (int i = 0; i < 8; ++i) {
    tail[tail_size - 1 - i] = static_cast<unsigned char>(bits >> (8 * i));
  }
  for (std::size_t i = 0; i < tail_size; i += 64) compress_block_(h_, tail.data() + i);

  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (const auto word : h_) {
    for (int shift = 28; shift >= 0; shift -= 4) out += kHex[(word >> shift) & 0xf];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  Sha256 digest;
  digest.update(data);
  return digest.finish_hex();
}

std::string sha256_hex_portable(std::string_view data) {
  Sha256 digest = Sha256::portable();
  digest.update(data);
  return digest.finish_hex();
}

}  // namespace qsc::agent
