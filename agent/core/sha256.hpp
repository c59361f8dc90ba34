// SHA-256 (FIPS 180-4), as lowercase hex: the digest of the effective configuration.
#pragma once

#include <string>
#include <string_view>

namespace qsc::agent {

/// The SHA-256 digest of `data` as 64 lowercase hex digits (the CPU's SHA extensions when it has
/// them).
std::string sha256_hex(std::string_view data);

/// The same by the portable code alone, whatever the CPU: for the tests that hold the two equal.
std::string sha256_hex_portable(std::string_view data);

}  // namespace qsc::agent
