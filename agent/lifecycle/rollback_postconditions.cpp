// The rollback's postconditions.
#include "lifecycle/rollback_postconditions.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/files.hpp"
#include "lifecycle/canary.hpp"

namespace qsc::agent {
namespace {

namespace fs = std::filesystem;

enum class Presence { kAbsent, kPresent, kUnknown };

// lstat, not exists(): a dangling symlink is still a file left behind, and an error other than
// "not there" must not read as "gone" (fail closed).
Presence presence(const std::string& path, std::string* why) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) return Presence::kPresent;
  if (errno == ENOENT || errno == ENOTDIR) return Presence::kAbsent;
  *why = std::strerror(errno);
  return Presence::kUnknown;
}

void check_gone(const std::string& path, const std::string& what, const std::string& fix,
                std::vector<std::string>& live) {
  std::string why;
  switch (presence(path, &why)) {
    case Presence::kAbsent:
      return;
    case Presence::kPresent:
      live.push_back(what + " " + path + " is still there" + fix);
      return;
    case Presence::kUnknown:
      live.push_back(what + " " + path + " cannot be checked (" + why +
                     "), so it may still be there" + fix);
      return;
  }
}

}  // namespace

std::string installed_dropin_path(const Config& config) {
  return dropin_path(config.systemd.dropin_dir);
}

std::string current_user_name() {
  const uid_t uid = ::geteuid();
  if (const passwd* pw = ::getpwuid(uid); pw != nullptr && pw->pw_name != nullptr) {
    return pw->pw_name;
  }
  return "uid " + std::to_string(uid);
}

std::vector<std::string> rollback_still_live(const Config& config) {
  std::vector<std::string> live;
  const auto& paths = config.paths;
  if (!paths.live_weights.empty()) {
    auto baseline = read_file(paths.baseline_weights);
    auto current = read_file(paths.live_weights);
    if (!baseline) {
      live.push_back("live weights " + paths.live_weights +
                     " cannot be verified: the baseline backup cannot be read (" +
                     baseline.error().message + ")");
    } else if (!current) {
      live.push_back("live weights " + paths.live_weights + " cannot be read (" +
                     current.error().message + "); restore it from " + paths.baseline_weights);
    } else if (*current != *baseline) {
      live.push_back("live weights " + paths.live_weights + " differ from the baseline backup " +
                     paths.baseline_weights + "; restore it: cp " + paths.baseline_weights + " " +
                     paths.live_weights);
    }
  }
  for (auto& line : canary_files_left(config, "rollback")) live.push_back(std::move(line));
  return live;
}

std::vector<std::string> canary_files_left(const Config& config, const std::string& what) {
  std::vector<std::string> live;
  const auto& paths = config.paths;
  check_gone(paths.canary_weights, "canary weights", "; remove it: rm " + paths.canary_weights,
             live);
  const auto local = local_dropin_path(config);
  check_gone(local, "local drop-in", "; remove it: rm " + local, live);
  const auto installed = installed_dropin_path(config);
  check_gone(installed, "installed drop-in",
             what.empty()
                 ? std::string()
                 : " (this " + what + " ran as user " + current_user_name() +
                       " and did not remove it from " + config.systemd.dropin_dir +
                       "); run as root: rm -f " + installed +
                       " && systemctl daemon-reload && systemctl restart " + config.systemd.unit,
             live);
  return live;
}

CanaryPlaces canary_places(const Config& config) {
  return {config.paths.live_weights, config.paths.baseline_weights, config.paths.canary_weights,
          config.paths.override_dir, config.systemd.dropin_dir,     config.systemd.unit};
}

std::vector<std::string> rollback_still_live(const Config& config, const CanaryPlaces& recorded) {
  auto live = rollback_still_live(config);
  if (!recorded.recorded() || recorded == canary_places(config)) return live;
  Config then = config;
  then.paths.live_weights = recorded.live_weights;
  then.paths.baseline_weights = recorded.baseline_weights;
  then.paths.canary_weights = recorded.canary_weights;
  then.paths.override_dir = recorded.override_dir;
  then.systemd.dropin_dir = recorded.dropin_dir;
  then.systemd.unit = recorded.unit;
  for (auto& line : rollback_still_live(then)) {
    if (std::find(live.begin(), live.end(), line) != live.end()) continue;
    live.push_back("where the activation put the canary (the configuration has moved it since): " +
                   std::move(line));
  }
  return live;
}

}  // namespace qsc::agent
