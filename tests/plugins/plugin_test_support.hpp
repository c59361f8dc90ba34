// What the plugin tests share: temporary plugin directories, the built libraries' paths, a
// healthy window to bend at one figure, and running a built program.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "plugin_host/plugin_host.hpp"
#include "qsc/detector.hpp"

namespace qsc::test {

/// A fresh directory (mode 0755) removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }
  /// path() / name.
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// Copies `library` into `dir` as `name` with `mode`, atomically (temporary file, rename), as an
/// installer should, so a loaded copy is never rewritten in place.
std::filesystem::path install_plugin(const std::filesystem::path& library,
                                     const std::filesystem::path& dir, const std::string& name,
                                     mode_t mode = 0755);
/// The built in-tree detector `name` (action_collapse, ...).
std::filesystem::path detector_library(const std::string& name);
/// The ten in-tree detector names.
std::vector<std::string> detector_names();

/// A host configuration as Config::to_json() writes it, with the given plugin sections.
nlohmann::json host_config(const nlohmann::json& sections = nlohmann::json::object());

/// The record of the plugin named `name`, or of the file named `file_name`; fails the test when
/// there is none.
const agent::PluginRecord& record_named(const agent::PluginHost& host, const std::string& name);
const agent::PluginRecord& record_of_file(const agent::PluginHost& host,
                                          const std::string& file_name);

/// The figure `name` of a detector's result; NaN (and a test failure) when it has none.
double figure(const CheckResult& r, const std::string& name);

/// A window in which every default threshold passes with room to spare: the canary "patchtst"
/// with 200 predictions (BUY 35%, SELL 30%, HOLD 35%; std 0.1, P10-P90 0.3), agreement 65%,
/// hard disagree 10%, fresh telemetry. Change one figure, then call input().
struct Scenario {
  WindowStats window;
  TelemetryHealth telemetry;
  std::size_t min_events = 200;
  bool canary_present = true;
  bool window_present = true;

  Scenario();
  /// The canary's figures (in window.models).
  ModelStats& canary() { return window.models.front(); }
  /// Sets the three action shares in percent (and the vote counts to match).
  void set_shares(double buy_pct, double sell_pct, double hold_pct);
  /// The detector input; valid while this Scenario lives.
  CheckInput input() const;
};

/// Opens a host on a temporary directory holding the named in-tree detectors.
struct DetectorHost {
  TempDir dir;
  agent::PluginHost host;
  explicit DetectorHost(const std::vector<std::string>& detectors,
                        const nlohmann::json& sections = nlohmann::json::object(),
                        nlohmann::json config = nlohmann::json());
  /// The one detector's result for `s` (fails the test if it did not run).
  CheckResult check(const std::string& detector, const Scenario& s);
};

/// What a program printed and how it exited.
struct ProgramResult {
  int exit_code = -1;
  std::string output;  ///< stdout (and stderr when merged)
};
/// Runs `command` through the shell (arguments quoted by the caller).
ProgramResult run_program(const std::string& command, bool merge_stderr = false);
/// Quotes a path or word for the shell.
std::string shell_quote(const std::string& word);

}  // namespace qsc::test
