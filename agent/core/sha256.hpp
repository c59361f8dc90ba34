// SHA-256 (FIPS 180-4), as lowercase hex: the digest of the effective configuration.
#pragma once

#include <string>
#include <string_view>

namespace qsc::agent {

/// The SHA-256 digest of `data` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view data);

}  // namespace qsc::agent
