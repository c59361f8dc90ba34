// Secrets from the environment or an owner-only file.
#include "secrets.hpp"

#include <cstdlib>

#include "qsc/file_trust.hpp"

namespace qsc::actions::notify {
namespace {

std::string trim(std::string s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) {
    s.pop_back();
  }
  std::size_t start = 0;
  while (start < s.size() && (s[start] == ' ' || s[start] == '\t')) ++start;
  return s.substr(start);
}

/// The file's content when it is a regular file owned by us (or root) that nobody else may read
/// or write: someone who can write it could redirect our pages to themselves. Opened once and
/// checked as opened, so a file swapped in after the check is never read.
Result<std::string> read_owner_only_file(const std::string& path) {
  auto text = read_trusted_file(path, "secrets file " + path, FileSecrecy::kSecret);
  if (!text.ok()) return text.error();
  return trim(text.value());
}

}  // namespace

Secret read_secret(ConfigSection& cfg, const std::string& key, bool required) {
  Secret secret;
  if (cfg.raw(key) != nullptr) {
    cfg.fail(key,
             "secrets are not accepted in the configuration file; name an environment "
             "variable with \"" +
                 key + "_env\" or an owner-only file (mode 0600) with \"" + key + "_file\"");
    return secret;
  }
  secret.env_name = cfg.string(key + "_env", "");
  secret.file_path = cfg.string(key + "_file", "");
  if (!secret.env_name.empty() && !secret.file_path.empty()) {
    cfg.fail(key + "_env", "give either " + key + "_env or " + key + "_file, not both");
    return secret;
  }
  if (!secret.env_name.empty()) {
    secret.origin = "environment variable " + secret.env_name;
    const char* value = std::getenv(secret.env_name.c_str());
    if (value == nullptr || *value == '\0') {
      cfg.fail(key + "_env", "the environment variable " + secret.env_name + " is not set");
      return secret;
    }
    secret.value = trim(value);
  } else if (!secret.file_path.empty()) {
    secret.origin = "file " + secret.file_path;
    auto value = read_owner_only_file(secret.file_path);
    if (!value.ok()) {
      cfg.fail(key + "_file", value.error().message);
      return secret;
    }
    if (value.value().empty()) {
      cfg.fail(key + "_file", secret.file_path + " is empty");
      return secret;
    }
    secret.value = value.value();
  } else if (required) {
    cfg.fail(key + "_env", "missing: name an environment variable with \"" + key +
                               "_env\" or an owner-only file with \"" + key + "_file\"");
  }
  return secret;
}

std::string redact(std::string text, const std::vector<std::string>& secrets) {
  static const std::string kMark = "<redacted>";
  for (const auto& s : secrets) {
    if (s.empty()) continue;
    for (std::size_t at = text.find(s); at != std::string::npos; at = text.find(s, at)) {
      text.replace(at, s.size(), kMark);
      at += kMark.size();
    }
  }
  return text;
}

}  // namespace qsc::actions::notify
