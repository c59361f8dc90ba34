// SHA-256 (FIPS 180-4), as lowercase hex: the digest of the effective configuration.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace qsc::agent {

/// SHA-256 of data handed in pieces (a file read block by block, so that digesting a library
/// never holds the whole of it in memory): the digest of the pieces joined.
class Sha256 {
 public:
  /// The CPU's SHA extensions when it has them, else the portable code.
  Sha256() noexcept;
  /// Appends `data` to the message.
  void update(std::string_view data) noexcept;
  /// The digest of everything appended, as 64 lowercase hex digits. Call once; the object is
  /// spent after it.
  std::string finish_hex();

  /// The same by the portable code alone, whatever the CPU (for the tests).
  static Sha256 portable() noexcept;

 private:
  // One 64-byte block folded into the state (FIPS 180-4, 6.2.2).
  using BlockFn = void (*)(std::array<std::uint32_t, 8>&, const unsigned char*) noexcept;
  explicit Sha256(BlockFn compress_block) noexcept;

  BlockFn compress_block_;
  std::array<std::uint32_t, 8> h_;
  std::array<unsigned char, 64> pending_{};  // the bytes of an unfinished block
  std::size_t pending_bytes_ = 0;
  std::uint64_t message_bytes_ = 0;
};

/// The SHA-256 digest of `data` as 64 lowercase hex digits (the CPU's SHA extensions when it has
/// them).
std::string sha256_hex(std::string_view data);

/// The same by the portable code alone, whatever the CPU: for the tests that hold the two equal.
std::string sha256_hex_portable(std::string_view data);

}  // namespace qsc::agent
