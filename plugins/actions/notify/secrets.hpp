// Secrets of the notify channels (webhook URLs, tokens, routing keys): read from an environment
// variable or from a file only its owner can read, never from the configuration itself, and
// scrubbed from every text the plugin hands out.
#pragma once

#include <string>
#include <vector>

#include "qsc/config_section.hpp"
#include "qsc/result.hpp"

namespace qsc::actions::notify {

/// A secret and where it came from ("environment variable X", "file /p"); the origin may be
/// shown, the value never.
struct Secret {
  std::string value;
  std::string origin;
  std::string env_name;   ///< the `<name>_env` key's value, or empty
  std::string file_path;  ///< the `<name>_file` key's value, or empty
};

/// Reads the secret configured by `<key>_env` or `<key>_file` in `cfg` (exactly one of them when
/// `required`; none is fine otherwise and yields an empty value). An inline `<key>` is refused
/// with a message saying where secrets go. Problems are reported through `cfg.fail`.
Secret read_secret(ConfigSection& cfg, const std::string& key, bool required);

/// Replaces every occurrence of each secret in `text` with "<redacted>".
std::string redact(std::string text, const std::vector<std::string>& secrets);

}  // namespace qsc::actions::notify
