// Loading one action plugin from its built .so for a test, through the real plugin host, plus
// temporary directories and small file helpers.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "qsc/action.hpp"
#include "qsc/result.hpp"

namespace qsc::test {

/// A fresh directory under /tmp, removed with everything in it at destruction.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// One action plugin loaded by the plugin host from a private directory holding only its .so.
class LoadedAction {
 public:
  /// Loads `name` (rollback, systemd, notify) with plugins.config.<name> = `section` and the
  /// rest of `host` as the host configuration. The error is the host's startup error or the
  /// rejection reason (for instance the plugin's refusal of its configuration).
  static Result<std::unique_ptr<LoadedAction>> load(const std::string& name,
                                                    const nlohmann::json& section,
                                                    nlohmann::json host = nlohmann::json::object());
  ~LoadedAction();
  LoadedAction(const LoadedAction&) = delete;
  LoadedAction& operator=(const LoadedAction&) = delete;

  /// Runs the action on `incident` through the host.
  ActionOutcome run(const Incident& incident);
  /// The plugin's effective configuration as the host reports it.
  std::string effective_config() const;

 private:
  struct State;
  explicit LoadedAction(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

/// Writes `content` to `path` (parents created) with `mode`.
void write_text(const std::filesystem::path& path, const std::string& content,
                unsigned mode = 0644);
/// The whole file, or "" when it cannot be read.
std::string read_text(const std::filesystem::path& path);

/// A rollback incident as the agent makes it: canary patchtst at 10%, two violations, the
/// runbook's example state.
Incident sample_incident(IncidentKind kind = IncidentKind::kRollback);

}  // namespace qsc::test
