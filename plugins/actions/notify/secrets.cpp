// Secrets from the environment or an owner-only file.
#include "secrets.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "qsc/durable_file.hpp"

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

/// The file's content when it is a regular file owned by us that nobody else may read or write
/// (someone who can write it could redirect our pages to themselves).
Result<std::string> read_owner_only_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Error{"cannot read " + path + ": " + std::string(std::strerror(errno))};
  }
  if (!S_ISREG(st.st_mode)) return Error{path + " is not a regular file"};
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Error{path + " is accessible to group or others (mode " + mode +
                 "): refused, since it holds a secret; run chmod 600 " + path};
  }
  if (st.st_uid != ::geteuid()) {
    return Error{path + " belongs to uid " + std::to_string(st.st_uid) + ", not to uid " +
                 std::to_string(::geteuid()) + " that runs qsc: refused; chown it"};
  }
  auto text = read_file(path);
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
